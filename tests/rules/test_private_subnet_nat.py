"""LAMBDA_VPC_PRIVATE_SUBNET_NAT: every row of the rule table, through the pure core."""

from __future__ import annotations

import pytest

from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, NatGateway, Route, RouteTable, Subnet
from lambda_vpc_rules.core.rules import InvalidParameter, get_rule

RULE = get_rule("lambda-vpc-private-subnet-nat")
VPC = "vpc-1"


def route(kind: str, target: str, state: str = "active", destination: str = "0.0.0.0/0") -> Route:
    return Route(destination, target, kind, state)


def facts(
    default_route: Route | None,
    nat: NatGateway | None = None,
    nat_subnet_route: Route | None = None,
    extra_subnets: int = 0,
) -> Facts:
    """Subnet subnet-fn (plus subnet-fn1..N) routed by one table, a public subnet-nat for the NAT gateway."""
    fn_subnets = ["subnet-fn"] + [f"subnet-fn{i}" for i in range(1, extra_subnets + 1)]
    public = nat_subnet_route or route("internet-gateway", "igw-1")
    tables = {
        "rtb-fn": RouteTable(
            "rtb-fn", VPC, routes=(default_route,) if default_route else (), subnet_ids=tuple(fn_subnets)
        ),
        "rtb-public": RouteTable("rtb-public", VPC, routes=(public,), subnet_ids=("subnet-nat",)),
        "rtb-main": RouteTable(
            "rtb-main", VPC, routes=(route("local", "local", destination="10.0.0.0/16"),), is_main=True
        ),
    }
    return Facts(
        subnets={sid: Subnet(sid, VPC) for sid in [*fn_subnets, "subnet-nat"]},
        route_tables=tables,
        nat_gateways={nat.nat_gateway_id: nat} if nat else {},
    )


NAT_OK = NatGateway("nat-1", "available", "subnet-nat")


def evaluate(facts_: Facts, subnets=("subnet-fn",), tags=None, **raw_parameters):
    fn = LambdaFunction("fn", subnet_ids=tuple(subnets), tags=tags)
    return RULE.evaluate(fn, facts_, RULE.parse_parameters(raw_parameters))


NAT_ROUTE = route("nat-gateway", "nat-1")

# (id, facts, parameters, tags, expected compliance, words the annotation must hold)
TABLE = [
    ("nat-available", facts(NAT_ROUTE, NAT_OK), {}, None, Compliance.COMPLIANT, ["private"]),
    (
        "igw-public",
        facts(route("internet-gateway", "igw-1")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["subnet-fn", "public", "igw-1"],
    ),
    (
        "igw-public-even-without-internet",
        facts(route("internet-gateway", "igw-1")),
        {"RequireInternetAccess": "false"},
        None,
        Compliance.NON_COMPLIANT,
        ["public"],
    ),
    (
        "igw-public-even-when-tagged",
        facts(route("internet-gateway", "igw-1")),
        {},
        {"lambda-vpc-rules:internet-access": "none"},
        Compliance.NON_COMPLIANT,
        ["public"],
    ),
    ("no-default-route", facts(None), {}, None, Compliance.NON_COMPLIANT, ["subnet-fn", "no 0.0.0.0/0 route"]),
    (
        "no-default-route-internet-not-required",
        facts(None),
        {"RequireInternetAccess": "false"},
        None,
        Compliance.COMPLIANT,
        ["internet access not required"],
    ),
    (
        "no-default-route-tagged-none",
        facts(None),
        {},
        {"lambda-vpc-rules:internet-access": "none"},
        Compliance.COMPLIANT,
        ["not required"],
    ),
    (
        "tag-other-value-still-requires",
        facts(None),
        {},
        {"lambda-vpc-rules:internet-access": "yes"},
        Compliance.NON_COMPLIANT,
        ["no 0.0.0.0/0 route"],
    ),
    (
        "blackhole",
        facts(route("nat-gateway", "nat-1", state="blackhole"), NAT_OK),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["subnet-fn", "nat-1", "blackhole"],
    ),
    (
        "nat-deleted",
        facts(NAT_ROUTE, NatGateway("nat-1", "deleted", "subnet-nat")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["subnet-fn", "nat-1", "deleted"],
    ),
    (
        "nat-failed",
        facts(NAT_ROUTE, NatGateway("nat-1", "failed", "subnet-nat")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["nat-1", "failed"],
    ),
    (
        "nat-pending",
        facts(NAT_ROUTE, NatGateway("nat-1", "pending", "subnet-nat")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["nat-1", "pending"],
    ),
    ("nat-missing", facts(NAT_ROUTE), {}, None, Compliance.NON_COMPLIANT, ["subnet-fn", "nat-1", "not found"]),
    (
        "nat-private",
        facts(NAT_ROUTE, NatGateway("nat-1", "available", "subnet-nat", "private")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["nat-1", "private"],
    ),
    (
        "nat-in-private-subnet",
        facts(NAT_ROUTE, NAT_OK, nat_subnet_route=route("nat-gateway", "nat-9")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["nat-1", "subnet-nat", "no internet gateway route"],
    ),
    (
        "tgw-default",
        facts(route("transit-gateway", "tgw-1")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["transit-gateway", "tgw-1", "AllowedEgressTargets"],
    ),
    (
        "tgw-allowed",
        facts(route("transit-gateway", "tgw-1")),
        {"AllowedEgressTargets": "nat-gateway,transit-gateway"},
        None,
        Compliance.COMPLIANT,
        [],
    ),
    ("nat-instance-default", facts(route("nat-instance", "i-1")), {}, None, Compliance.NON_COMPLIANT, ["i-1"]),
    (
        "nat-instance-allowed",
        facts(route("nat-instance", "eni-1")),
        {"AllowedEgressTargets": "nat-instance"},
        None,
        Compliance.COMPLIANT,
        [],
    ),
    (
        "gwlb-default",
        facts(route("gateway-load-balancer-endpoint", "vpce-1")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["vpce-1"],
    ),
    (
        "gwlb-allowed",
        facts(route("gateway-load-balancer-endpoint", "vpce-1")),
        {"AllowedEgressTargets": " Gateway-Load-Balancer-Endpoint "},
        None,
        Compliance.COMPLIANT,
        [],
    ),
    (
        "nat-not-in-allowed-list",
        facts(NAT_ROUTE, NAT_OK),
        {"AllowedEgressTargets": "transit-gateway"},
        None,
        Compliance.NON_COMPLIANT,
        ["nat-1", "AllowedEgressTargets"],
    ),
    (
        "peering-is-no-internet",
        facts(route("vpc-peering-connection", "pcx-1")),
        {},
        None,
        Compliance.NON_COMPLIANT,
        ["pcx-1", "no internet path"],
    ),
    (
        "tgw-without-internet-required",
        facts(route("transit-gateway", "tgw-1")),
        {"RequireInternetAccess": "false"},
        None,
        Compliance.COMPLIANT,
        [],
    ),
]


@pytest.mark.parametrize(
    ("facts_", "parameters", "tags", "compliance", "words"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_rule_table(facts_, parameters, tags, compliance, words):
    result = evaluate(facts_, tags=tags, **parameters)
    assert result.compliance is compliance, result.annotation
    for word in words:
        assert word in result.annotation
    assert len(result.annotation) <= 256


def test_not_applicable_without_vpc():
    assert evaluate(facts(NAT_ROUTE, NAT_OK), subnets=()).compliance is Compliance.NOT_APPLICABLE


def test_missing_subnet_and_missing_route_table():
    result = evaluate(facts(NAT_ROUTE, NAT_OK), subnets=("subnet-fn", "subnet-gone"))
    assert result.compliance is Compliance.NON_COMPLIANT
    assert "subnet subnet-gone not found" in result.annotation
    no_tables = Facts(subnets={"subnet-fn": Subnet("subnet-fn", VPC)})
    result = evaluate(no_tables)
    assert result.compliance is Compliance.NON_COMPLIANT
    assert "route table not found" in result.annotation


def test_main_route_table_applies_to_subnets_without_their_own():
    facts_ = Facts(
        subnets={"subnet-a": Subnet("subnet-a", VPC), "subnet-nat": Subnet("subnet-nat", VPC)},
        route_tables={
            "rtb-main": RouteTable("rtb-main", VPC, routes=(NAT_ROUTE,), is_main=True),
            "rtb-public": RouteTable(
                "rtb-public", VPC, routes=(route("internet-gateway", "igw-1"),), subnet_ids=("subnet-nat",)
            ),
        },
        nat_gateways={"nat-1": NAT_OK},
    )
    assert evaluate(facts_, subnets=("subnet-a",)).compliance is Compliance.COMPLIANT


def test_annotation_names_every_failing_subnet_as_far_as_it_fits():
    result = evaluate(
        facts(route("internet-gateway", "igw-1"), extra_subnets=2), subnets=("subnet-fn", "subnet-fn1", "subnet-fn2")
    )
    for sid in ("subnet-fn", "subnet-fn1", "subnet-fn2"):
        assert f"subnet {sid} is public" in result.annotation
    many = [f"subnet-fn{i}" for i in range(1, 16)]
    result = evaluate(facts(None, extra_subnets=15), subnets=many)
    assert len(result.annotation) <= 256
    assert "subnet-fn1 " in result.annotation and "more" in result.annotation


@pytest.mark.parametrize(
    ("name", "value"), [("RequireInternetAccess", "maybe"), ("AllowedEgressTargets", "nat-gateway,internet-gateway")]
)
def test_bad_parameters_name_the_parameter(name, value):
    with pytest.raises(InvalidParameter, match=name):
        RULE.parse_parameters({name: value})
