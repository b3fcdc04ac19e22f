"""LAMBDA_VPC_IPV6_DUAL_STACK: every row of the rule table, through the pure core."""

from __future__ import annotations

import pytest

from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, Route, RouteTable, Subnet
from lambda_vpc_rules.core.rules import InvalidParameter, get_rule

RULE = get_rule("lambda-vpc-ipv6-dual-stack")
EIGW = Route("::/0", "eigw-1", "egress-only-internet-gateway", "active")
FACTS = Facts(
    subnets={
        "subnet-ds1": Subnet("subnet-ds1", "vpc-1", ipv6_cidr_blocks=("2600:1f18::/64",)),
        "subnet-ds2": Subnet("subnet-ds2", "vpc-1", ipv6_cidr_blocks=("2600:1f18:0:1::/64",)),
        "subnet-ds-noegress": Subnet("subnet-ds-noegress", "vpc-1", ipv6_cidr_blocks=("2600:1f18:0:2::/64",)),
        "subnet-ds-igw": Subnet("subnet-ds-igw", "vpc-1", ipv6_cidr_blocks=("2600:1f18:0:3::/64",)),
        "subnet-v4": Subnet("subnet-v4", "vpc-1"),
    },
    route_tables={
        "rtb-eigw": RouteTable("rtb-eigw", "vpc-1", routes=(EIGW,), subnet_ids=("subnet-ds1", "subnet-ds2")),
        "rtb-igw6": RouteTable(
            "rtb-igw6",
            "vpc-1",
            routes=(Route("::/0", "igw-1", "internet-gateway", "active"),),
            subnet_ids=("subnet-ds-igw",),
        ),
        "rtb-main": RouteTable("rtb-main", "vpc-1", is_main=True),
    },
)


def evaluate(subnets, ipv6, **raw):
    fn = LambdaFunction("fn", subnet_ids=tuple(subnets), ipv6_allowed_for_dual_stack=ipv6)
    return RULE.evaluate(fn, FACTS, RULE.parse_parameters(raw))


TABLE = [
    ("no-vpc", (), True, {}, Compliance.NOT_APPLICABLE, []),
    ("on-all-dual-stack", ("subnet-ds1", "subnet-ds2"), True, {}, Compliance.COMPLIANT, []),
    ("on-some-single-stack", ("subnet-ds1", "subnet-v4"), True, {}, Compliance.NON_COMPLIANT, ["subnet-v4", "no IPv6"]),
    ("off-not-all-dual", ("subnet-ds1", "subnet-v4"), False, {}, Compliance.COMPLIANT, []),
    ("absent-not-all-dual", ("subnet-v4",), None, {}, Compliance.COMPLIANT, []),
    ("off-all-dual", ("subnet-ds1", "subnet-ds2"), False, {}, Compliance.NON_COMPLIANT, ["cannot use"]),
    ("absent-all-dual", ("subnet-ds1",), None, {}, Compliance.NON_COMPLIANT, ["Ipv6AllowedForDualStack is off"]),
    (
        "off-all-dual-not-required",
        ("subnet-ds1",),
        False,
        {"RequireDualStackWhenAvailable": "false"},
        Compliance.COMPLIANT,
        [],
    ),
    (
        "egress-required-present",
        ("subnet-ds1", "subnet-ds2"),
        True,
        {"RequireIpv6Egress": "true"},
        Compliance.COMPLIANT,
        [],
    ),
    (
        "egress-required-missing",
        ("subnet-ds1", "subnet-ds-noegress"),
        True,
        {"RequireIpv6Egress": "true"},
        Compliance.NON_COMPLIANT,
        ["subnet-ds-noegress", "egress-only"],
    ),
    (
        "egress-required-igw-is-not-eigw",
        ("subnet-ds-igw",),
        True,
        {"RequireIpv6Egress": "true"},
        Compliance.NON_COMPLIANT,
        ["subnet-ds-igw"],
    ),
    ("egress-not-required-by-default", ("subnet-ds-noegress",), True, {}, Compliance.COMPLIANT, []),
    ("subnet-missing", ("subnet-ds1", "subnet-gone"), True, {}, Compliance.NON_COMPLIANT, ["subnet-gone not found"]),
    ("subnet-missing-when-off", ("subnet-gone",), False, {}, Compliance.NON_COMPLIANT, ["not found"]),
]


@pytest.mark.parametrize(
    ("subnets", "ipv6", "parameters", "compliance", "words"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_rule_table(subnets, ipv6, parameters, compliance, words):
    result = evaluate(subnets, ipv6, **parameters)
    assert result.compliance is compliance, result.annotation
    for word in words:
        assert word in result.annotation
    assert len(result.annotation) <= 256


def test_bad_parameter_names_it():
    with pytest.raises(InvalidParameter, match="RequireIpv6Egress"):
        RULE.parse_parameters({"RequireIpv6Egress": "yes please"})
