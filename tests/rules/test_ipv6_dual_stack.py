"""LAMBDA_VPC_IPV6_DUAL_STACK: every row of the rule table, through the pure core."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, PrefixList
from lambda_vpc_rules.core.rules import InvalidParameter, get_rule
from network_facts import FIREWALL, network, propagated, route, subnet

RULE = get_rule("lambda-vpc-ipv6-dual-stack")
DS1 = subnet("subnet-ds1", "10.0.1.0/24", "2600:1f18:abcd:1201::/64")
DS2 = subnet("subnet-ds2", "10.0.2.0/24", "2600:1f18:abcd:1202::/64")
V4 = subnet("subnet-v4", "10.0.3.0/24")
V6_ONLY = subnet("subnet-v6", None, "2600:1f18:abcd:1203::/64")
SUBNETS = (DS1, DS2, V4, V6_ONLY)
EIGW = route("::/0", "eigw-1")
EGRESS = {"RequireIpv6Egress": "true"}


def facts(routes=(EIGW,), **more) -> Facts:
    """The four subnets share the function route table; `more` as network_facts.network takes."""
    return network(routes, fn_subnets=SUBNETS, **more)


def evaluate(facts_: Facts, subnets, ipv6, **raw):
    fn = LambdaFunction("fn", subnet_ids=tuple(subnets), ipv6_allowed_for_dual_stack=ipv6)
    return RULE.evaluate(fn, facts_, RULE.parse_parameters(raw))


BOTH = ("subnet-ds1", "subnet-ds2")
TGW6 = {**EGRESS, "AllowedIpv6EgressTargets": "egress-only-internet-gateway,transit-gateway"}

# (id, facts, subnets, Ipv6AllowedForDualStack, parameters, expected compliance, words in the annotation)
TABLE = [
    ("no-vpc", facts(), (), True, {}, Compliance.NOT_APPLICABLE, []),
    ("on-all-dual-stack", facts(), BOTH, True, {}, Compliance.COMPLIANT, []),
    ("on-some-single-stack", facts(), ("subnet-ds1", "subnet-v4"), True, {}, Compliance.NON_COMPLIANT,
     ["subnet-v4", "no IPv6"]),
    ("off-not-all-dual", facts(), ("subnet-ds1", "subnet-v4"), False, {}, Compliance.COMPLIANT, []),
    ("absent-not-all-dual", facts(), ("subnet-v4",), None, {}, Compliance.COMPLIANT, []),
    ("off-all-dual", facts(), BOTH, False, {}, Compliance.NON_COMPLIANT, ["cannot use"]),
    ("absent-all-dual", facts(), ("subnet-ds1",), None, {}, Compliance.NON_COMPLIANT,
     ["Ipv6AllowedForDualStack is off"]),
    ("off-all-dual-not-required", facts(), ("subnet-ds1",), False, {"RequireDualStackWhenAvailable": "false"},
     Compliance.COMPLIANT, []),
    ("ipv6-only-when-on", facts(), ("subnet-v6",), True, {}, Compliance.NON_COMPLIANT,
     ["subnet-v6", "IPv6-only", "Lambda does not support"]),
    ("ipv6-only-when-off", facts(), ("subnet-v6", "subnet-v4"), False, {}, Compliance.NON_COMPLIANT,
     ["subnet-v6", "IPv6-only"]),
    ("ipv6-only-when-absent", facts(), ("subnet-v6",), None, {"RequireDualStackWhenAvailable": "false"},
     Compliance.NON_COMPLIANT, ["IPv6-only"]),
    ("egress-required-present", facts(), BOTH, True, EGRESS, Compliance.COMPLIANT, ["eigw-1"]),
    ("egress-not-required-by-default", facts([]), ("subnet-ds1",), True, {}, Compliance.COMPLIANT, []),
    ("egress-required-missing", facts([]), BOTH, True, EGRESS, Compliance.NON_COMPLIANT,
     ["subnet-ds1", "no route for 2000::/3", "egress-only"]),
    ("egress-required-igw-is-not-eigw", facts([route("::/0", "igw-1")]), ("subnet-ds1",), True, EGRESS,
     Compliance.NON_COMPLIANT, ["subnet-ds1", "::/0 -> igw-1", "not egress-only"]),
    ("egress-global-unicast-route", facts([route("2000::/3", "eigw-1")]), BOTH, True, EGRESS, Compliance.COMPLIANT,
     ["eigw-1"]),
    ("egress-two-halves", facts([route("::/1", "eigw-1"), route("8000::/1", "eigw-1")]), BOTH, True, EGRESS,
     Compliance.COMPLIANT, ["eigw-1"]),
    ("egress-more-specific-to-igw", facts([EIGW, route("2600::/16", "igw-1")]), BOTH, True, EGRESS,
     Compliance.NON_COMPLIANT, ["2600::/16 -> igw-1"]),
    ("egress-blackhole", facts([route("::/0", "eigw-1", state="blackhole")]), BOTH, True, EGRESS,
     Compliance.NON_COMPLIANT, ["::/0 -> eigw-1", "blackhole"]),
    ("egress-prefix-list-to-peering", facts([EIGW, route("pl-v6", "pcx-1")],
                                            prefix_lists=[PrefixList("pl-v6", ("2a05:d000::/25",))]),
     BOTH, True, EGRESS, Compliance.NON_COMPLIANT, ["pl-v6 -> pcx-1"]),
    ("egress-static-beats-propagated", facts([propagated("::/0", "vgw-1"), EIGW]), BOTH, True, EGRESS,
     Compliance.COMPLIANT, ["eigw-1"]),
    ("egress-through-firewall", facts([route("::/0", "vpce-fw")], fw=[EIGW]), BOTH, True, EGRESS,
     Compliance.COMPLIANT, ["eigw-1"]),
    ("egress-firewall-missing", facts([route("::/0", "vpce-fw")], fw=[EIGW], endpoints=[]), BOTH, True, EGRESS,
     Compliance.NON_COMPLIANT, ["vpce-fw", "not found"]),
    ("egress-firewall-not-available", facts([route("::/0", "vpce-fw")], fw=[EIGW],
                                            endpoints=[replace(FIREWALL, state="pending")]),
     BOTH, True, EGRESS, Compliance.NON_COMPLIANT, ["vpce-fw", "pending"]),
    ("egress-through-nat-gateway", facts([route("::/0", "nat-1")]), BOTH, True, EGRESS, Compliance.NON_COMPLIANT,
     ["nat-1", "no IPv6 internet path"]),
    ("egress-tgw-default", facts([route("::/0", "tgw-1")]), BOTH, True, EGRESS, Compliance.NON_COMPLIANT,
     ["tgw-1", "AllowedIpv6EgressTargets"]),
    ("egress-tgw-allowed", facts([route("::/0", "tgw-1")]), BOTH, True, TGW6, Compliance.COMPLIANT,
     ["tgw-1", "not checked beyond"]),
    ("egress-eigw-not-in-list", facts(), BOTH, True, {**EGRESS, "AllowedIpv6EgressTargets": "transit-gateway"},
     Compliance.NON_COMPLIANT, ["eigw-1", "AllowedIpv6EgressTargets"]),
    ("egress-route-table-missing", Facts(subnets={"subnet-ds1": DS1}), ("subnet-ds1",), True, EGRESS,
     Compliance.NON_COMPLIANT, ["subnet-ds1", "route table not found"]),
    ("subnet-missing", facts(), ("subnet-ds1", "subnet-gone"), True, {}, Compliance.NON_COMPLIANT,
     ["subnet-gone not found"]),
    ("subnet-missing-when-off", facts(), ("subnet-gone",), False, {}, Compliance.NON_COMPLIANT, ["not found"]),
]


@pytest.mark.parametrize(
    ("facts_", "subnets", "ipv6", "parameters", "compliance", "words"), [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_rule_table(facts_, subnets, ipv6, parameters, compliance, words):
    result = evaluate(facts_, subnets, ipv6, **parameters)
    assert result.compliance is compliance, result.annotation
    for word in words:
        assert word in result.annotation, result.annotation
    assert len(result.annotation) <= 256


@pytest.mark.parametrize(("name", "value"), [("RequireIpv6Egress", "yes please"),
                                             ("AllowedIpv6EgressTargets", "internet-gateway")])
def test_bad_parameter_names_it(name, value):
    with pytest.raises(InvalidParameter, match=name):
        RULE.parse_parameters({name: value})
