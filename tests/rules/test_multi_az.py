"""LAMBDA_VPC_MULTI_AZ: every row of the rule table, through the pure core, and its parameter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, Subnet
from lambda_vpc_rules.core.rules import InvalidParameter, get_rule

RULE = get_rule("lambda-vpc-multi-az")


def subnet(subnet_id: str, zone_id: str | None, zone_name: str | None = None) -> Subnet:
    return Subnet(subnet_id, "vpc-1", availability_zone=zone_name, availability_zone_id=zone_id)


FACTS = Facts(
    subnets={
        s.subnet_id: s
        for s in (
            subnet("subnet-a1", "use1-az6", "us-east-1a"),
            subnet("subnet-a2", "use1-az6", "us-east-1a"),
            subnet("subnet-b1", "use1-az1", "us-east-1b"),
            subnet("subnet-c1", "use1-az2", "us-east-1c"),
            subnet("subnet-nozone", None, "us-east-1d"),
        )
    }
)


def evaluate(*subnets: str, facts: Facts = FACTS, **raw: str):
    return RULE.evaluate(LambdaFunction("fn", subnet_ids=subnets), facts, RULE.parse_parameters(raw))


TABLE = [
    ("no-vpc", (), {}, Compliance.NOT_APPLICABLE, ["not attached to a VPC"]),
    ("two-zones", ("subnet-a1", "subnet-b1"), {}, Compliance.COMPLIANT, ["2 Availability Zones", "use1-az1, use1-az6"]),
    ("three-zones-min-3", ("subnet-a1", "subnet-b1", "subnet-c1"), {"MinAvailabilityZones": "3"},
     Compliance.COMPLIANT, ["3 Availability Zones", "MinAvailabilityZones=3"]),
    ("one-zone", ("subnet-a1",), {}, Compliance.NON_COMPLIANT,
     ["1 Availability Zone,", "MinAvailabilityZones=2", "use1-az6 (subnet-a1)"]),
    ("two-zones-min-3", ("subnet-a1", "subnet-b1"), {"MinAvailabilityZones": "3"}, Compliance.NON_COMPLIANT,
     ["2 Availability Zones", "MinAvailabilityZones=3", "use1-az1 (subnet-b1)", "use1-az6 (subnet-a1)"]),
    ("two-subnets-one-zone", ("subnet-a1", "subnet-a2"), {}, Compliance.NON_COMPLIANT,
     ["1 Availability Zone,", "use1-az6 (subnet-a1, subnet-a2)"]),
    ("subnet-missing", ("subnet-a1", "subnet-b1", "subnet-gone"), {}, Compliance.NON_COMPLIANT,
     ["subnet subnet-gone not found"]),
    ("subnet-missing-and-one-zone", ("subnet-a1", "subnet-gone"), {}, Compliance.NON_COMPLIANT,
     ["1 Availability Zone,", "subnet subnet-gone not found"]),
    ("all-missing", ("subnet-gone",), {}, Compliance.NON_COMPLIANT, ["subnet subnet-gone not found"]),
    ("zone-unknown-minimum-met", ("subnet-a1", "subnet-b1", "subnet-nozone"), {}, Compliance.COMPLIANT,
     ["2 Availability Zones", "zone ID of subnet-nozone unknown"]),
    ("zone-unknown-minimum-not-met", ("subnet-a1", "subnet-nozone"), {}, Compliance.NON_COMPLIANT,
     ["1 Availability Zone,", "subnet subnet-nozone: Availability Zone ID unknown"]),
    ("zone-unknown-only", ("subnet-nozone",), {}, Compliance.NON_COMPLIANT,
     ["subnet subnet-nozone: Availability Zone ID unknown"]),
]


@pytest.mark.parametrize(
    ("subnets", "parameters", "compliance", "words"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_rule_table(subnets, parameters, compliance, words):
    result = evaluate(*subnets, **parameters)
    assert result.compliance is compliance, result.annotation
    for word in words:
        assert word in result.annotation, result.annotation
    assert len(result.annotation) <= 256


def test_zones_are_counted_by_id_not_by_name():
    """Two subnets whose zone names differ but whose zone IDs agree are one zone (and the reverse)."""
    same_place = Facts(subnets={"subnet-x": subnet("subnet-x", "use1-az6", "us-east-1a"),
                                "subnet-y": subnet("subnet-y", "use1-az6", "us-east-1b")})
    assert evaluate("subnet-x", "subnet-y", facts=same_place).compliance is Compliance.NON_COMPLIANT
    named_alike = Facts(subnets={"subnet-x": subnet("subnet-x", "use1-az6", "us-east-1a"),
                                 "subnet-y": subnet("subnet-y", "use1-az1", "us-east-1a")})
    assert evaluate("subnet-x", "subnet-y", facts=named_alike).compliance is Compliance.COMPLIANT


def test_minimum_of_one_leaves_the_subnet_checks():
    assert evaluate("subnet-a1", MinAvailabilityZones="1").compliance is Compliance.COMPLIANT
    assert evaluate("subnet-nozone", MinAvailabilityZones="1").compliance is Compliance.NON_COMPLIANT
    assert evaluate("subnet-a1", "subnet-gone", MinAvailabilityZones="1").compliance is Compliance.NON_COMPLIANT


@pytest.mark.parametrize("value", ["1", "2", "6", " 3 ", "04"])
def test_minimum_accepts_1_to_6(value):
    assert RULE.parse_parameters({"MinAvailabilityZones": value})["MinAvailabilityZones"] == int(value)


def test_minimum_defaults_to_2_when_absent_or_blank():
    assert RULE.parse_parameters({})["MinAvailabilityZones"] == 2
    assert RULE.parse_parameters({"MinAvailabilityZones": "  "})["MinAvailabilityZones"] == 2


@pytest.mark.parametrize("value", ["0", "7", "-2", "+2", "2.0", "2_0", "two", "1e1", "٢"])
def test_bad_minimum_names_the_parameter(value):
    with pytest.raises(InvalidParameter, match="MinAvailabilityZones: invalid value"):
        RULE.parse_parameters({"MinAvailabilityZones": value})


@given(
    zones=st.lists(st.sampled_from(["use1-az1", "use1-az2", "use1-az3", "use1-az4", "use1-az5", "use1-az6",
                                    "use1-bos1-az1", None]), min_size=1, max_size=16),
    missing=st.integers(0, 16),
    minimum=st.integers(1, 6),
)
def test_annotation_fits_and_names_what_it_can(zones, missing, minimum):
    """Lambda takes up to 16 subnets; whatever they are, the annotation fits AWS Config's 256 characters,
    is never cut mid-word, and the verdict is the count against the minimum."""
    zones = zones[: 16 - min(missing, 15)]
    found = {f"subnet-{i:017x}": subnet(f"subnet-{i:017x}", zone) for i, zone in enumerate(zones)}
    gone = [f"subnet-{0xf0000 + i:017x}" for i in range(min(missing, 16 - len(zones)))]
    result = evaluate(*found, *gone, facts=Facts(subnets=found), MinAvailabilityZones=str(minimum))
    assert len(result.annotation) <= 256 and not result.annotation.endswith("..."), result.annotation
    known = {zone for zone in zones if zone}
    expected = Compliance.COMPLIANT if len(known) >= minimum and not gone else Compliance.NON_COMPLIANT
    assert result.compliance is expected, result.annotation
    if expected is Compliance.NON_COMPLIANT and len(known) < minimum:
        for zone in known:
            assert zone in result.annotation, result.annotation
