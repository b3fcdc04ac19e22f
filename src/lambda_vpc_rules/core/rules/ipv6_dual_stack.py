"""LAMBDA_VPC_IPV6_DUAL_STACK: `Ipv6AllowedForDualStack` agrees with the IPv6 setup of the subnets.

A function sends IPv6 traffic only when `Ipv6AllowedForDualStack` is true and its subnets are
dual-stack. A subnet is dual-stack when it has an IPv6 CIDR block association in state `associated`.

| situation | verdict |
|---|---|
| function without VPC configuration | NOT_APPLICABLE |
| a subnet cannot be found | NON_COMPLIANT, names it |
| `Ipv6AllowedForDualStack` true and every subnet dual-stack | COMPLIANT |
| `Ipv6AllowedForDualStack` true and some subnet not dual-stack | NON_COMPLIANT, names those subnets |
| `Ipv6AllowedForDualStack` false or absent, and not every subnet dual-stack | COMPLIANT |
| `Ipv6AllowedForDualStack` false or absent, and every subnet dual-stack | NON_COMPLIANT (the function cannot use the subnets' IPv6), COMPLIANT when `RequireDualStackWhenAvailable` is `false` |
| `Ipv6AllowedForDualStack` true, `RequireIpv6Egress` `true`, and some subnet lacks an active `::/0` route to an egress-only internet gateway (or its route table cannot be found) | NON_COMPLIANT, names it |
"""  # noqa: E501 (the verdict table)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import (
    LAMBDA_RESOURCE_TYPE,
    ROUTE_TABLE_TYPE,
    SUBNET_TYPE,
    Fact,
    Facts,
    LambdaFunction,
    Verdict,
    compliant,
    join_findings,
    non_compliant,
)
from .base import Parameter, Rule, function_subnets, parse_bool

IPV6_DEFAULT_ROUTE = "::/0"


def _ipv6_egress_problem(subnet_id: str, facts: Facts) -> str | None:
    table = facts.route_table_for_subnet(subnet_id)
    if table is None:
        return f"subnet {subnet_id}: route table not found"
    route = table.route_for(IPV6_DEFAULT_ROUTE)
    if route is None or route.target_kind != "egress-only-internet-gateway" or route.state != "active":
        return f"subnet {subnet_id} has no active ::/0 route to an egress-only internet gateway"
    return None


def check_ipv6_dual_stack(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    subnets, missing = function_subnets(function, facts)
    if missing:
        return non_compliant(join_findings([f"subnet {sid} not found" for sid in missing]))
    single_stack = [subnet.subnet_id for subnet in subnets if not subnet.dual_stack]
    if function.ipv6_allowed_for_dual_stack:
        if single_stack:
            return non_compliant(
                "Ipv6AllowedForDualStack is true but "
                + join_findings([f"subnet {sid} has no IPv6 CIDR" for sid in single_stack], limit=200)
            )
        if parameters["RequireIpv6Egress"]:
            problems = [p for s in subnets if (p := _ipv6_egress_problem(s.subnet_id, facts)) is not None]
            if problems:
                return non_compliant(join_findings(problems))
        return compliant(f"Ipv6AllowedForDualStack is true and all subnets ({len(subnets)}) are dual-stack.")
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
    needs=frozenset({Fact.SUBNETS, Fact.ROUTE_TABLES}),
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
            "true: with Ipv6AllowedForDualStack, every subnet needs ::/0 to an egress-only internet gateway.",
            parse_bool,
        ),
    ),
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, SUBNET_TYPE, ROUTE_TABLE_TYPE),
)
