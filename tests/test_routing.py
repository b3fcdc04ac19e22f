"""routing.py and egress.py against independent readings of AWS's rules: range sets against Python sets,
the route decision against a per-address reference of "How route priority works", and the properties the
issue asks for: permuting routes, or splitting a route into two halves with the same target, never changes
a verdict."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lambda_vpc_rules.core.egress import dependencies
from lambda_vpc_rules.core.model import Facts, LambdaFunction, PrefixList, Route
from lambda_vpc_rules.core.routing import (
    PUBLIC,
    RangeSet,
    describe,
    forwarding,
    internet_destinations,
    route_class,
    target_key,
)
from lambda_vpc_rules.core.rules import get_rule
from network_facts import DUAL_STACK, NAT_OK, PARTNER_LIST, REGIONAL_NAT, S3_LIST, kind_of, local, network

NAT_RULE, IPV6_RULE = get_rule("lambda-vpc-private-subnet-nat"), get_rule("lambda-vpc-ipv6-dual-stack")

# --- range sets --------------------------------------------------------------------------------------

spans = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 40)).map(lambda t: (t[0], t[0] + t[1])), max_size=6)


def as_set(ranges: RangeSet) -> set[int]:
    return {i for start, end in ranges.spans for i in range(start, end + 1)}


def range_set(raw: list[tuple[int, int]]) -> RangeSet:
    return RangeSet(4) | RangeSet(4, tuple(sorted(raw)))


@settings(max_examples=300, deadline=None)
@given(spans, spans)
def test_range_set_operations_are_set_operations(a, b):
    left, right = range_set(a), range_set(b)
    assert as_set(left | right) == as_set(left) | as_set(right)
    assert as_set(left & right) == as_set(left) & as_set(right)
    assert as_set(left - right) == as_set(left) - as_set(right)
    for result in (left | right, left & right, left - right):  # normalized: sorted, disjoint, not touching
        assert all(s[1] + 1 < t[0] for s, t in zip(result.spans, result.spans[1:], strict=False))


def test_public_space_leaves_out_the_special_purpose_ranges():
    public = as_cidr_set(PUBLIC[4])
    for address in ("10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "127.0.0.1", "169.254.1.1",
                    "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1", "0.1.2.3"):
        assert not public(address), address
    for address in ("8.8.8.8", "52.94.1.1", "1.1.1.1", "223.255.255.254", "172.32.0.1"):
        assert public(address), address
    assert describe(PUBLIC[4]) == "0.0.0.0/0" and describe(PUBLIC[6]) == "2000::/3"
    assert as_cidr_set(PUBLIC[6])("2600:1f18::1") and not as_cidr_set(PUBLIC[6])("fd00::1")


def as_cidr_set(ranges: RangeSet):
    return lambda address: any(s <= int(ipaddress.ip_address(address)) <= e for s, e in ranges.spans)


# --- the route decision against a per-address reference ---------------------------------------------

V4_DESTINATIONS = ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "52.0.0.0/8", "52.94.0.0/16", "52.94.0.0/22",
                   "8.8.8.0/24", "10.0.0.0/8", "100.64.0.0/10", "54.10.0.0/16", "pl-partner", "pl-63a5400a",
                   "pl-wide"]
V6_DESTINATIONS = ["::/0", "2000::/3", "2600::/16", "::/1", "8000::/1", "pl-v6"]
TARGETS = ["igw-1", "nat-1", "nat-gone", "nat-r", "tgw-1", "pcx-1", "vpce-fw", "vpce-s3", "eigw-1", "vgw-1"]
LISTS = {pl.prefix_list_id: pl for pl in (
    PARTNER_LIST, S3_LIST, PrefixList("pl-wide", ("0.0.0.0/1", "52.94.0.0/22")), PrefixList("pl-v6", ("2600::/16",)))}


def routes_strategy(destinations: list[str], max_size: int = 6):
    value = st.tuples(st.sampled_from(TARGETS), st.sampled_from(["active"] * 5 + ["blackhole"]))
    static = st.dictionaries(st.sampled_from(destinations), value, max_size=max_size)
    dynamic = st.dictionaries(st.sampled_from([d for d in destinations if not d.startswith("pl-")]),
                              st.just(("vgw-1", "active")), max_size=2)

    def build(pair):
        made = [Route(d, t, kind_of(t), s) for d, (t, s) in pair[0].items()]
        made += [Route(d, t, kind_of(t), s, "EnableVgwRoutePropagation") for d, (t, s) in pair[1].items()]
        return made

    return st.tuples(static, dynamic).map(build)


def reference(routes: list[Route], address: str) -> set[tuple]:
    """AWS's rules read address by address: the longest matching prefix, then static, prefix list,
    propagated; every target tied at the top is a candidate."""
    ip = ipaddress.ip_address(address)
    matches = []
    for route in routes:
        cidrs = LISTS[route.destination].cidrs if route.destination.startswith("pl-") else (route.destination,)
        for cidr in cidrs:
            network_ = ipaddress.ip_network(cidr)
            if network_.version == ip.version and ip in network_:
                matches.append((network_.prefixlen, route_class(route), route))
    if not matches:
        return set()
    longest = max(m[0] for m in matches)
    best = min(m[1] for m in matches if m[0] == longest)
    return {target_key(m[2]) for m in matches if m[0] == longest and m[1] == best}


PROBES_V4 = ["1.2.3.4", "52.94.0.1", "52.94.3.255", "52.94.4.1", "52.1.1.1", "8.8.8.8", "10.0.0.1", "100.64.0.1",
             "127.255.255.255", "128.0.0.0", "200.1.1.1", "54.10.9.9", "3.5.1.1", "54.231.1.1", "35.71.64.1",
             "0.0.0.0", "255.255.255.255"]
PROBES_V6 = ["2600::1", "2600:ffff::1", "2001:db8::1", "::1", "8000::", "fe80::1", "2a05::1"]


@settings(max_examples=300, deadline=None)
@given(routes_strategy(V4_DESTINATIONS + V6_DESTINATIONS, max_size=8))
def test_forwarding_matches_the_per_address_reading_of_the_priority_rules(routes):
    table = network(routes).route_tables["rtb-fn"]
    for family, probes in ((4, PROBES_V4), (6, PROBES_V6)):
        decided = forwarding(table, family, LISTS)
        assert not decided.unresolved
        for address in probes:
            value = int(ipaddress.ip_address(address))
            found = {target_key(r) for f in decided.forwards if any(s <= value <= e for s, e in f.ranges.spans)
                     for r in f.routes}
            assert found == reference(list(table.routes), address), address
        # a partition: no destination is decided twice
        covered = RangeSet(family)
        for forward in decided.forwards:
            assert not (covered & forward.ranges)
            covered = covered | forward.ranges


# --- verdicts do not depend on the order of routes, nor on how a range is split --------------------

PARAMETER_SETS = [
    (NAT_RULE, {}, None),
    (NAT_RULE, {"AllowedEgressTargets": "nat-gateway,transit-gateway,virtual-private-gateway"}, None),
    (NAT_RULE, {"RequireInternetAccess": "false"}, None),
    (IPV6_RULE, {"RequireIpv6Egress": "true"}, True),
    (IPV6_RULE, {"RequireIpv6Egress": "true",
                 "AllowedIpv6EgressTargets": "egress-only-internet-gateway,transit-gateway"}, True),
]
designs = st.tuples(routes_strategy(V4_DESTINATIONS + V6_DESTINATIONS, 8),
                    routes_strategy(["0.0.0.0/0", "8.0.0.0/8", "::/0", "pl-partner"], 3),
                    routes_strategy(["0.0.0.0/0", "::/0", "2000::/3"], 2))


def facts_of(fn, nat, fw) -> Facts:
    return network(fn, nat=nat, fw=fw, nat_gateways=[NAT_OK, REGIONAL_NAT], prefix_lists=LISTS.values(),
                   fn_subnets=[DUAL_STACK])


def verdicts(facts_: Facts) -> list:
    results = []
    for rule, raw, ipv6 in PARAMETER_SETS:
        function = LambdaFunction("fn", subnet_ids=("subnet-fn",), ipv6_allowed_for_dual_stack=ipv6)
        results.append(rule.evaluate(function, facts_, rule.parse_parameters(raw)))
    return results


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs, st.randoms(use_true_random=False))
def test_permuting_routes_never_changes_a_verdict(design, random):
    fn, nat, fw = design
    before = verdicts(facts_of(fn, nat, fw))
    shuffled = [random.sample(routes, len(routes)) for routes in (fn, nat, fw)]
    assert verdicts(facts_of(*shuffled)) == before


def halves(route: Route) -> list[Route]:
    cidr = ipaddress.ip_network(route.destination)
    return [replace(route, destination=str(half)) for half in cidr.subnets(prefixlen_diff=1)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs, st.integers(0, 20), st.sampled_from(["fn", "nat", "fw"]))
def test_splitting_a_route_into_halves_never_changes_a_verdict(design, pick, where):
    tables = dict(zip(("fn", "nat", "fw"), design, strict=True))
    routes = tables[where]
    # A static CIDR route: it outranks every other route of its prefix, so its halves decide what it decided.
    splittable = [r for r in routes if r.origin == "CreateRoute" and not r.destination.startswith("pl-")
                  and ipaddress.ip_network(r.destination).prefixlen < 32]
    assume(splittable)
    chosen = splittable[pick % len(splittable)]
    split = halves(chosen)
    # No other route has a half's exact prefix: one static route per destination is all AWS allows, and a
    # propagated or prefix-list route of that prefix would now lose to the half where it won over the whole.
    taken = {cidr for r in routes for cidr in (LISTS[r.destination].cidrs if r.destination.startswith("pl-")
                                               else (r.destination,))}
    assume(not taken & {r.destination for r in split})
    before = [v.compliance for v in verdicts(facts_of(*design))]
    tables[where] = [r for r in routes if r is not chosen] + split
    after = [v.compliance for v in verdicts(facts_of(tables["fn"], tables["nat"], tables["fw"]))]
    assert after == before


def test_the_issue_examples_by_longest_prefix():
    """Two /1 routes to an internet gateway beside /0 to a NAT gateway: all IPv4 goes to the internet
    gateway; the mirror (two /1 to a NAT gateway, no /0) leaves through the NAT gateway."""
    public = network([local(), Route("0.0.0.0/0", "nat-1", "nat-gateway", "active"),
                      Route("0.0.0.0/1", "igw-1", "internet-gateway", "active"),
                      Route("128.0.0.0/1", "igw-1", "internet-gateway", "active")])
    table = public.route_tables["rtb-fn"]
    decided = forwarding(table, 4, {}).within(internet_destinations(table, 4))
    assert {r.target_id for f in decided for r in f.routes} == {"igw-1"}


def test_dependencies_follow_nat_gateways_endpoints_and_prefix_lists():
    facts_ = network([Route("0.0.0.0/0", "nat-1", "nat-gateway", "active"),
                      Route("pl-partner", "tgw-1", "transit-gateway", "active")],
                     nat=[Route("0.0.0.0/0", "vpce-fw", "vpc-endpoint", "active")])
    found = dependencies(facts_, "subnet-fn")
    assert {"subnet-fn", "rtb-fn", "nat-1", "subnet-nat", "rtb-nat", "vpce-fw", "subnet-fw", "rtb-fw", "igw-1",
            "pl-partner", "tgw-1"} <= found
    regional = network([Route("0.0.0.0/0", "nat-r", "nat-gateway", "active")], nat_gateways=[REGIONAL_NAT])
    assert {"nat-r", "rtb-regional", "igw-1"} <= dependencies(regional, "subnet-fn")
    assert "rtb-nat" not in dependencies(regional, "subnet-fn")
