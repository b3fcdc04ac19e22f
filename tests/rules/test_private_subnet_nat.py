"""LAMBDA_VPC_PRIVATE_SUBNET_NAT: every row of the rule table, through the pure core."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, NatGateway, PrefixList, RouteTable, Subnet
from lambda_vpc_rules.core.rules import InvalidParameter, get_rule
from network_facts import (
    CORE_NETWORK,
    DUAL_STACK,
    FIREWALL,
    NAT_OK,
    REGIONAL_NAT,
    S3_LIST,
    VPC,
    local,
    network,
    propagated,
    route,
    subnet,
)

RULE = get_rule("lambda-vpc-private-subnet-nat")
NO_INTERNET = {"lambda-vpc-rules:internet-access": "none"}


def evaluate(facts_: Facts, subnets=("subnet-fn",), tags=None, **raw_parameters):
    fn = LambdaFunction("fn", subnet_ids=tuple(subnets), tags=tags)
    return RULE.evaluate(fn, facts_, RULE.parse_parameters(raw_parameters))


DEFAULT_NAT = route("0.0.0.0/0", "nat-1")
HALVES_NAT = (route("0.0.0.0/1", "nat-1"), route("128.0.0.0/1", "nat-1"))
HALVES_IGW = (route("0.0.0.0/1", "igw-1"), route("128.0.0.0/1", "igw-1"))
TGW_ALLOWED = {"AllowedEgressTargets": "nat-gateway,transit-gateway"}
TIED = (PrefixList("pl-a", ("52.94.0.0/16",)), PrefixList("pl-b", ("52.94.0.0/16", "18.0.0.0/8")))

# (id, facts, parameters, tags, expected compliance, words the annotation must hold)
TABLE = [
    ("nat-available", network([DEFAULT_NAT]), {}, None, Compliance.COMPLIANT, ["private", "nat-1", "igw-1"]),
    ("igw-public", network([route("0.0.0.0/0", "igw-1")]), {}, None, Compliance.NON_COMPLIANT,
     ["subnet-fn", "public", "0.0.0.0/0 -> igw-1"]),
    ("igw-public-even-without-internet", network([route("0.0.0.0/0", "igw-1")]), {"RequireInternetAccess": "false"},
     None, Compliance.NON_COMPLIANT, ["public"]),
    ("igw-public-even-when-tagged", network([route("0.0.0.0/0", "igw-1")]), {}, NO_INTERNET,
     Compliance.NON_COMPLIANT, ["public"]),
    ("no-default-route", network([]), {}, None, Compliance.NON_COMPLIANT, ["subnet-fn", "no route for 0.0.0.0/0"]),
    ("no-default-route-internet-not-required", network([]), {"RequireInternetAccess": "false"}, None,
     Compliance.COMPLIANT, ["internet access not required"]),
    ("no-default-route-tagged-none", network([]), {}, NO_INTERNET, Compliance.COMPLIANT, ["not required"]),
    ("tag-other-value-still-requires", network([]), {}, {"lambda-vpc-rules:internet-access": "yes"},
     Compliance.NON_COMPLIANT, ["no route"]),
    ("blackhole", network([route("0.0.0.0/0", "nat-1", state="blackhole")]), {}, None, Compliance.NON_COMPLIANT,
     ["subnet-fn", "nat-1", "blackhole"]),
    ("nat-deleted", network([DEFAULT_NAT], nat_gateways=[NatGateway("nat-1", "deleted", "subnet-nat")]), {}, None,
     Compliance.NON_COMPLIANT, ["subnet-fn", "nat-1", "deleted"]),
    ("nat-failed", network([DEFAULT_NAT], nat_gateways=[NatGateway("nat-1", "failed", "subnet-nat")]), {}, None,
     Compliance.NON_COMPLIANT, ["nat-1", "failed"]),
    ("nat-pending", network([DEFAULT_NAT], nat_gateways=[NatGateway("nat-1", "pending", "subnet-nat")]), {}, None,
     Compliance.NON_COMPLIANT, ["nat-1", "pending"]),
    ("nat-missing", network([DEFAULT_NAT], nat_gateways=[]), {}, None, Compliance.NON_COMPLIANT,
     ["subnet-fn", "nat-1", "not found"]),
    ("nat-private", network([DEFAULT_NAT], nat_gateways=[NatGateway("nat-1", "available", "subnet-nat", "private")]),
     {}, None, Compliance.NON_COMPLIANT, ["nat-1", "private"]),
    ("nat-in-private-subnet", network([DEFAULT_NAT], nat=[route("0.0.0.0/0", "nat-9")]), {}, None,
     Compliance.NON_COMPLIANT, ["0.0.0.0/0 -> nat-1 -> nat-9", "not found"]),
    ("nat-subnet-without-route", network([DEFAULT_NAT], nat=[]), {}, None, Compliance.NON_COMPLIANT,
     ["nat-1", "no route in route table rtb-nat"]),
    ("nat-subnet-sends-a-public-range-elsewhere", network([DEFAULT_NAT], nat=[route("0.0.0.0/0", "igw-1"),
                                                                          route("8.0.0.0/8", "pcx-2")]),
     {}, None, Compliance.NON_COMPLIANT, ["8.0.0.0/8 -> nat-1 -> pcx-2", "no internet path"]),
    ("loop", network([DEFAULT_NAT], nat=[route("0.0.0.0/0", "nat-1")]), {}, None, Compliance.NON_COMPLIANT,
     ["nat-1", "loops back to route table rtb-nat"]),
    ("tgw-default", network([route("0.0.0.0/0", "tgw-1")]), {}, None, Compliance.NON_COMPLIANT,
     ["transit-gateway", "tgw-1", "AllowedEgressTargets"]),
    ("tgw-allowed", network([route("0.0.0.0/0", "tgw-1")]), TGW_ALLOWED, None, Compliance.COMPLIANT,
     ["tgw-1", "not checked beyond"]),
    ("nat-instance-default", network([route("0.0.0.0/0", "i-1")]), {}, None, Compliance.NON_COMPLIANT, ["i-1"]),
    ("nat-instance-allowed", network([route("0.0.0.0/0", "eni-1")]), {"AllowedEgressTargets": "nat-instance"}, None,
     Compliance.COMPLIANT, ["eni-1", "not checked beyond"]),
    ("core-network-default", network([route("0.0.0.0/0", CORE_NETWORK)]), {}, None, Compliance.NON_COMPLIANT,
     ["core-network", "AllowedEgressTargets"]),
    ("core-network-allowed", network([route("0.0.0.0/0", CORE_NETWORK)]), {"AllowedEgressTargets": "core-network"},
     None, Compliance.COMPLIANT, ["core-network", "not checked beyond"]),
    ("vgw-propagated-allowed", network([propagated("0.0.0.0/0", "vgw-1")]),
     {"AllowedEgressTargets": "virtual-private-gateway"}, None, Compliance.COMPLIANT, ["vgw-1", "not checked beyond"]),
    ("nat-not-in-allowed-list", network([DEFAULT_NAT]), {"AllowedEgressTargets": "transit-gateway"}, None,
     Compliance.NON_COMPLIANT, ["nat-1", "AllowedEgressTargets"]),
    ("peering-is-no-internet", network([route("0.0.0.0/0", "pcx-1")]), {}, None, Compliance.NON_COMPLIANT,
     ["pcx-1", "no internet path"]),
    ("tgw-without-internet-required", network([route("0.0.0.0/0", "tgw-1")]), {"RequireInternetAccess": "false"},
     None, Compliance.COMPLIANT, []),
    # Longest prefix and route priority (route-tables-priority.html)
    ("halves-to-igw-beside-default-to-nat", network([DEFAULT_NAT, *HALVES_IGW]), {}, None, Compliance.NON_COMPLIANT,
     ["public", "0.0.0.0/1 -> igw-1", "128.0.0.0/1 -> igw-1"]),
    ("halves-to-nat-without-default", network(HALVES_NAT), {}, None, Compliance.COMPLIANT, ["nat-1"]),
    ("public-range-to-igw", network([DEFAULT_NAT, route("52.0.0.0/8", "igw-1")]), {}, None, Compliance.NON_COMPLIANT,
     ["public", "52.0.0.0/8 -> igw-1"]),
    ("prefix-list-to-igw", network([DEFAULT_NAT, route("pl-partner", "igw-1")]), {}, None, Compliance.NON_COMPLIANT,
     ["public", "pl-partner -> igw-1"]),
    ("private-range-to-igw-is-not-public", network([DEFAULT_NAT, route("192.168.0.0/16", "igw-1"),
                                                     route("100.64.0.0/10", "igw-1")]), {}, None,
     Compliance.COMPLIANT, ["private"]),
    ("vpc-own-public-cidr-is-not-internet", network([DEFAULT_NAT], local_routes=[local(), local("54.10.0.0/16")]),
     {}, None, Compliance.COMPLIANT, ["private"]),
    ("blackholed-internet-gateway-route-is-no-public-path", network([route("0.0.0.0/0", "igw-1", state="blackhole")]),
     {}, None, Compliance.NON_COMPLIANT, ["0.0.0.0/0 -> igw-1: blackhole route"]),
    ("blackholed-internet-gateway-route-without-internet", network([route("0.0.0.0/0", "igw-1", state="blackhole")]),
     {"RequireInternetAccess": "false"}, None, Compliance.COMPLIANT, ["private"]),
    ("blackholed-half-beside-good-default", network([DEFAULT_NAT, route("0.0.0.0/1", "nat-1", state="blackhole")]),
     {}, None, Compliance.NON_COMPLIANT, ["0.0.0.0/1 -> nat-1", "blackhole"]),
    ("public-range-to-peering", network([DEFAULT_NAT, route("52.0.0.0/8", "pcx-1")]), {}, None,
     Compliance.NON_COMPLIANT, ["52.0.0.0/8 -> pcx-1", "no internet path"]),
    ("static-beats-propagated-listed-first", network([propagated("0.0.0.0/0", "vgw-1"), DEFAULT_NAT]), {}, None,
     Compliance.COMPLIANT, ["nat-1"]),
    ("static-tgw-beats-allowed-propagated-vgw",
     network([propagated("0.0.0.0/0", "vgw-1"), route("0.0.0.0/0", "tgw-1")]),
     {"AllowedEgressTargets": "virtual-private-gateway"}, None, Compliance.NON_COMPLIANT,
     ["tgw-1", "AllowedEgressTargets"]),
    ("prefix-list-beats-propagated", network([propagated("0.0.0.0/1", "vgw-1"), propagated("128.0.0.0/1", "vgw-1"),
                                              route("pl-halves", "nat-1")],
                                             prefix_lists=[PrefixList("pl-halves", ("0.0.0.0/1", "128.0.0.0/1"))]),
     {}, None, Compliance.COMPLIANT, ["nat-1"]),
    ("tied-prefix-lists-to-different-targets", network([DEFAULT_NAT, route("pl-a", "nat-1"), route("pl-b", "tgw-1")],
                                                       prefix_lists=TIED),
     {}, None, Compliance.NON_COMPLIANT, ["52.94.0.0/16", "tgw-1", "AWS picks one"]),
    ("tied-prefix-lists-to-the-same-target", network([DEFAULT_NAT, route("pl-a", "nat-1"), route("pl-b", "nat-1")],
                                                     prefix_lists=TIED),
     {}, None, Compliance.COMPLIANT, ["nat-1"]),
    ("tied-prefix-list-to-igw-is-public", network([DEFAULT_NAT, route("pl-a", "nat-1"), route("pl-b", "igw-1")],
                                                  prefix_lists=TIED),
     {}, None, Compliance.NON_COMPLIANT, ["public", "pl-b -> igw-1", "AWS picks one"]),
    ("prefix-list-not-found", network([DEFAULT_NAT, route("pl-gone", "nat-1")]), {}, None, Compliance.NON_COMPLIANT,
     ["pl-gone", "not found"]),
    ("gateway-endpoint-reaches-its-service", network([DEFAULT_NAT, route(S3_LIST.prefix_list_id, "vpce-s3")]), {},
     None, Compliance.COMPLIANT, ["nat-1", "vpce-s3"]),
    ("gateway-endpoint-alone-leaves-the-rest-without-route", network([route(S3_LIST.prefix_list_id, "vpce-s3")]), {},
     None, Compliance.NON_COMPLIANT, ["no route"]),
    # The path beyond the first hop: NAT gateways, firewall endpoints, regional NAT gateways
    ("firewall-after-nat", network([DEFAULT_NAT], nat=[route("0.0.0.0/0", "vpce-fw")]), {}, None,
     Compliance.COMPLIANT, ["nat-1", "igw-1"]),
    ("firewall-before-nat", network([route("0.0.0.0/0", "vpce-fw")], fw=[route("0.0.0.0/0", "nat-1")]), {}, None,
     Compliance.COMPLIANT, ["nat-1", "igw-1"]),
    ("firewall-without-nat", network([route("0.0.0.0/0", "vpce-fw")]), {}, None, Compliance.NON_COMPLIANT,
     ["0.0.0.0/0 -> vpce-fw -> igw-1", "without a NAT gateway"]),
    ("firewall-endpoint-missing", network([DEFAULT_NAT], nat=[route("0.0.0.0/0", "vpce-gone")]), {}, None,
     Compliance.NON_COMPLIANT, ["vpce-gone", "not found"]),
    ("firewall-endpoint-not-available", network([DEFAULT_NAT], nat=[route("0.0.0.0/0", "vpce-fw")],
                                                endpoints=[replace(FIREWALL, state="deleting")]),
     {}, None, Compliance.NON_COMPLIANT, ["vpce-fw", "deleting"]),
    ("firewall-subnet-without-igw-route", network([DEFAULT_NAT], nat=[route("0.0.0.0/0", "vpce-fw")], fw=[]), {},
     None, Compliance.NON_COMPLIANT, ["nat-1 -> vpce-fw", "no route in route table rtb-fw"]),
    ("gwlb-endpoint-allowed-is-trusted", network([route("0.0.0.0/0", "vpce-fw")]),
     {"AllowedEgressTargets": " Gateway-Load-Balancer-Endpoint "}, None, Compliance.COMPLIANT,
     ["vpce-fw", "not checked beyond"]),
    ("regional-nat", network([route("0.0.0.0/0", "nat-r")], nat_gateways=[REGIONAL_NAT]), {}, None,
     Compliance.COMPLIANT, ["nat-r", "igw-1"]),
    ("regional-nat-through-firewall", network([route("0.0.0.0/0", "nat-r")], regional=[route("0.0.0.0/0", "vpce-fw")],
                                              nat_gateways=[REGIONAL_NAT]), {}, None, Compliance.COMPLIANT,
     ["nat-r", "igw-1"]),
    ("regional-nat-table-missing", network([route("0.0.0.0/0", "nat-r")], nat_gateways=[REGIONAL_NAT],
                                           missing_tables=["rtb-regional"]), {}, None, Compliance.NON_COMPLIANT,
     ["regional NAT gateway nat-r", "rtb-regional not found"]),
    # IPv6
    ("ipv6-to-igw-on-dual-stack", network([DEFAULT_NAT, route("::/0", "igw-1")], fn_subnets=[DUAL_STACK]), {}, None,
     Compliance.NON_COMPLIANT, ["public over IPv6", "::/0 -> igw-1"]),
    ("ipv6-to-igw-on-dual-stack-without-internet", network([route("2000::/3", "igw-1")], fn_subnets=[DUAL_STACK]),
     {"RequireInternetAccess": "false"}, None, Compliance.NON_COMPLIANT, ["public over IPv6", "2000::/3 -> igw-1"]),
    ("ipv6-to-eigw-on-dual-stack", network([DEFAULT_NAT, route("::/0", "eigw-1")], fn_subnets=[DUAL_STACK]), {}, None,
     Compliance.COMPLIANT, ["nat-1"]),
    ("ipv6-to-igw-on-ipv4-only-subnet", network([DEFAULT_NAT, route("::/0", "igw-1")]), {}, None,
     Compliance.COMPLIANT, ["nat-1"]),
    ("ipv6-only-subnet",
     network([route("::/0", "eigw-1")], fn_subnets=[subnet(cidr=None, ipv6="2600:1f18:abcd:1201::/64")]), {}, None,
     Compliance.NON_COMPLIANT, ["IPv6-only", "Lambda does not support"]),
    ("ipv6-only-subnet-internet-not-required",
     network([route("::/0", "eigw-1")], fn_subnets=[subnet(cidr=None, ipv6="2600:1f18:abcd:1201::/64")]),
     {"RequireInternetAccess": "false"}, None, Compliance.COMPLIANT, ["not required"]),
]


@pytest.mark.parametrize(
    ("facts_", "parameters", "tags", "compliance", "words"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_rule_table(facts_, parameters, tags, compliance, words):
    result = evaluate(facts_, tags=tags, **parameters)
    assert result.compliance is compliance, result.annotation
    for word in words:
        assert word in result.annotation, result.annotation
    assert len(result.annotation) <= 256


def test_not_applicable_without_vpc():
    assert evaluate(network([DEFAULT_NAT]), subnets=()).compliance is Compliance.NOT_APPLICABLE


def test_missing_subnet_and_missing_route_table():
    result = evaluate(network([DEFAULT_NAT]), subnets=("subnet-fn", "subnet-gone"))
    assert result.compliance is Compliance.NON_COMPLIANT
    assert "subnet subnet-gone not found" in result.annotation
    no_tables = Facts(subnets={"subnet-fn": subnet()})
    result = evaluate(no_tables)
    assert result.compliance is Compliance.NON_COMPLIANT
    assert "route table not found" in result.annotation


def test_main_route_table_applies_to_subnets_without_their_own():
    facts_ = Facts(
        subnets={"subnet-a": subnet("subnet-a"), "subnet-nat": subnet("subnet-nat", "10.0.0.0/24")},
        route_tables={
            "rtb-main": RouteTable("rtb-main", VPC, routes=(local(), DEFAULT_NAT), is_main=True),
            "rtb-public": RouteTable("rtb-public", VPC, routes=(local(), route("0.0.0.0/0", "igw-1")),
                                     subnet_ids=("subnet-nat",)),
        },
        nat_gateways={"nat-1": NAT_OK},
    )
    assert evaluate(facts_, subnets=("subnet-a",)).compliance is Compliance.COMPLIANT


def test_annotation_names_every_failing_subnet_as_far_as_it_fits():
    many = [subnet(f"subnet-fn{i}", f"10.0.{10 + i}.0/24") for i in range(1, 16)]
    result = evaluate(network([route("0.0.0.0/0", "igw-1")], fn_subnets=many[:3]),
                      subnets=("subnet-fn1", "subnet-fn2", "subnet-fn3"))
    for sid in ("subnet-fn1", "subnet-fn2", "subnet-fn3"):
        assert f"subnet {sid} is public" in result.annotation
    result = evaluate(network([], fn_subnets=many), subnets=[s.subnet_id for s in many])
    assert len(result.annotation) <= 256
    assert "subnet-fn1:" in result.annotation and "more" in result.annotation


def test_subnets_sharing_a_table_are_traced_once():
    facts_ = network([DEFAULT_NAT], fn_subnets=[subnet(f"subnet-{i}", f"10.0.{10 + i}.0/24") for i in range(50)])
    evaluate(facts_, subnets=[f"subnet-{i}" for i in range(50)])
    assert sum(1 for key in facts_._derived if key[0] == "legs") == 1


@pytest.mark.parametrize(
    ("name", "value"), [("RequireInternetAccess", "maybe"), ("AllowedEgressTargets", "nat-gateway,internet-gateway")]
)
def test_bad_parameters_name_the_parameter(name, value):
    with pytest.raises(InvalidParameter, match=name):
        RULE.parse_parameters({name: value})


def test_dual_stack_needs_an_ipv4_cidr():
    assert DUAL_STACK.dual_stack and not DUAL_STACK.ipv6_only
    ipv6_only = Subnet("s", VPC, ipv6_cidr_blocks=("2600::/64",))
    assert ipv6_only.ipv6_only and not ipv6_only.dual_stack
