"""LAMBDA_VPC_IPV6_DUAL_STACK: `Ipv6AllowedForDualStack` agrees with the IPv6 setup of the subnets.

A function sends IPv6 traffic only when `Ipv6AllowedForDualStack` is true and its subnets are
dual-stack: "all selected subnets must have an IPv4 CIDR block and an IPv6 CIDR block", and "Lambda
doesn't support outbound IPv6 connections for IPv6-only subnets" ([lambda-ipv6]). A subnet is dual-stack
when it has an IPv4 CIDR and an IPv6 CIDR block association in state `associated`; IPv6-only when it has
the IPv6 CIDR alone.

| situation | verdict | decided by |
|---|---|---|
| function without VPC configuration | NOT_APPLICABLE | |
| a subnet cannot be found | NON_COMPLIANT, names it | |
| some subnet is IPv6-only (no IPv4 CIDR), whatever `Ipv6AllowedForDualStack` says | NON_COMPLIANT, names it: Lambda does not support IPv6-only subnets | [lambda-ipv6] |
| `Ipv6AllowedForDualStack` true and every subnet dual-stack | COMPLIANT | [lambda-ipv6] |
| `Ipv6AllowedForDualStack` true and some subnet not dual-stack | NON_COMPLIANT, names those subnets | [lambda-ipv6] |
| `Ipv6AllowedForDualStack` false or absent, and not every subnet dual-stack | COMPLIANT | [lambda-ipv6] |
| `Ipv6AllowedForDualStack` false or absent, and every subnet dual-stack | NON_COMPLIANT (the function cannot use the subnets' IPv6), COMPLIANT when `RequireDualStackWhenAvailable` is `false` | [lambda-ipv6] (the setting is what lets the function use them) |
| `Ipv6AllowedForDualStack` true, `RequireIpv6Egress` `true`, and every IPv6 global unicast destination (2000::/3, less the VPC's own CIDRs) reaches an egress-only internet gateway by longest prefix, whatever the routes are written as (`::/0`, `2000::/3`, two halves), possibly through firewall / Gateway Load Balancer endpoints whose subnets route it there | COMPLIANT | [priority], [eigw], [firewall-arch] |
| ... some of it has no route, a route that is not `active`, a more specific route elsewhere, an internet gateway (not egress-only), a NAT gateway, or a missing endpoint; or a route table or prefix list cannot be found | NON_COMPLIANT, names the subnet, the range and the hop | [priority], [eigw], [route-state] |
| ... some of it reaches a kind listed in `AllowedIpv6EgressTargets` as trusted central egress (transit gateway, core network, virtual private gateway, NAT instance, Gateway Load Balancer endpoint) | COMPLIANT; the annotation says the pack does not see beyond it | [reachability] |

[lambda-ipv6]: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-ipv6
[priority]: https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
[eigw]: https://docs.aws.amazon.com/vpc/latest/userguide/egress-only-internet-gateway.html
[firewall-arch]: https://docs.aws.amazon.com/network-firewall/latest/developerguide/arch-igw-ngw.html
[route-state]: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html
[reachability]: https://docs.aws.amazon.com/vpc/latest/reachability/what-is-reachability-analyzer.html

`AllowedIpv6EgressTargets` lists the kinds accepted for IPv6 egress; it replaces the default
`egress-only-internet-gateway`, as `AllowedEgressTargets` does for the private-subnet rule. An IPv6 route
to an internet gateway makes the subnet public: the private-subnet rule reports that.
"""  # noqa: E501 (the verdict table)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..egress import CENTRAL_KINDS, PUBLIC, STOPPED, Tracer
from ..model import (
    LAMBDA_RESOURCE_TYPE,
    PREFIX_LIST_TYPE,
    ROUTE_TABLE_TYPE,
    SUBNET_TYPE,
    VPC_ENDPOINT_TYPE,
    Fact,
    Facts,
    LambdaFunction,
    Verdict,
    compliant,
    join_findings,
    non_compliant,
)
from .base import Parameter, Rule, choice_list, function_subnets, parse_bool

PARAMETER = "AllowedIpv6EgressTargets"
IPV6_EGRESS_KINDS = ("egress-only-internet-gateway", *CENTRAL_KINDS)


def _ipv6_egress(subnet_id: str, facts: Facts, allowed: frozenset[str]) -> tuple[list[str], list[str]]:
    """(problems, egresses) of the subnet's IPv6 global unicast destinations."""
    table = facts.route_table_for_subnet(subnet_id)
    if table is None:
        return [f"subnet {subnet_id}: route table not found"], []
    problems, egresses = [], []
    for leg in Tracer(facts, 6, allowed, PARAMETER).legs(table):
        if leg.outcome == PUBLIC:
            problems.append(f"subnet {subnet_id}: {leg.path()}: an internet gateway, not egress-only")
        elif leg.outcome == STOPPED:
            detail = " (no egress-only internet gateway)" if leg.detail.startswith("no route") else ""
            problems.append(f"subnet {subnet_id}: {leg.text()}{detail}")
        elif leg.detail not in egresses:
            egresses.append(leg.detail)
    return problems, egresses


def check_ipv6_dual_stack(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    subnets, missing = function_subnets(function, facts)
    if missing:
        return non_compliant(join_findings([f"subnet {sid} not found" for sid in missing]))
    ipv6_only = [subnet.subnet_id for subnet in subnets if subnet.ipv6_only]
    if ipv6_only:
        return non_compliant(join_findings([f"subnet {sid} is IPv6-only (no IPv4 CIDR)" for sid in ipv6_only],
                                           limit=200) + ": Lambda does not support IPv6-only subnets")
    single_stack = [subnet.subnet_id for subnet in subnets if not subnet.dual_stack]
    if function.ipv6_allowed_for_dual_stack:
        if single_stack:
            return non_compliant(
                "Ipv6AllowedForDualStack is true but "
                + join_findings([f"subnet {sid} has no IPv6 CIDR" for sid in single_stack], limit=200)
            )
        lead = f"Ipv6AllowedForDualStack is true and all subnets ({len(subnets)}) are dual-stack"
        if parameters["RequireIpv6Egress"]:
            problems, egresses = [], []
            for subnet in subnets:
                found, through = _ipv6_egress(subnet.subnet_id, facts, parameters[PARAMETER])
                problems += found
                egresses += [egress for egress in through if egress not in egresses]
            if problems:
                return non_compliant(join_findings(problems))
            lead += "; IPv6 leaves through "
            return compliant(lead + join_findings(egresses, limit=256 - len(lead) - 1) + ".")
        return compliant(lead + ".")
    if single_stack:
        return compliant("Ipv6AllowedForDualStack is off and not every subnet is dual-stack.")
    if parameters["RequireDualStackWhenAvailable"]:
        return non_compliant(
            f"All subnets ({len(subnets)}) are dual-stack but Ipv6AllowedForDualStack is off: "
            "the function cannot use their IPv6."
        )
    return compliant("Ipv6AllowedForDualStack is off; dual-stack not required (RequireDualStackWhenAvailable=false).")


IPV6_DUAL_STACK = Rule(
    name="lambda-vpc-ipv6-dual-stack",
    needs=frozenset({Fact.SUBNETS, Fact.ROUTE_TABLES, Fact.PREFIX_LISTS, Fact.VPC_ENDPOINTS}),
    check=check_ipv6_dual_stack,
    parameters=(
        Parameter(
            "RequireDualStackWhenAvailable",
            "true",
            "true: a function whose subnets are all dual-stack must set Ipv6AllowedForDualStack.",
            parse_bool,
        ),
        Parameter(
            "RequireIpv6Egress",
            "false",
            "true: with Ipv6AllowedForDualStack, all IPv6 global unicast must reach an egress-only internet gateway.",
            parse_bool,
        ),
        Parameter(
            PARAMETER,
            "egress-only-internet-gateway",
            "Comma list of the IPv6 egress kinds RequireIpv6Egress accepts: " + ", ".join(IPV6_EGRESS_KINDS)
            + " (all but the egress-only internet gateway are trusted as central egress, not traced beyond).",
            choice_list(IPV6_EGRESS_KINDS),
        ),
    ),
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, SUBNET_TYPE, ROUTE_TABLE_TYPE, PREFIX_LIST_TYPE, VPC_ENDPOINT_TYPE),
)
