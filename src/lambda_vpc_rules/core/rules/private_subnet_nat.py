"""LAMBDA_VPC_PRIVATE_SUBNET_NAT: a VPC function's subnets are private and reach the internet through
a working NAT gateway.

A Lambda network interface never gets a public IP address, so a subnet whose default route goes to an
internet gateway gives the function no internet access at all. Each subnet's route table is the one
explicitly associated with it, else its VPC's main route table; the rule reads its `0.0.0.0/0` route.

| situation | verdict |
|---|---|
| function without VPC configuration | NOT_APPLICABLE |
| every subnet's default route targets a NAT gateway that exists, is `available` and public, sits in a subnet routed to an internet gateway, and the route is `active` | COMPLIANT |
| some subnet's default route targets an internet gateway (a public subnet) | NON_COMPLIANT, names the subnet, says public (whatever `RequireInternetAccess` says) |
| some subnet has no default route | NON_COMPLIANT (no internet path), names the subnet; COMPLIANT when internet access is not required |
| default route is a `blackhole`, or its NAT gateway is deleted, failed, pending or missing | NON_COMPLIANT, names the subnet and the NAT gateway |
| the NAT gateway is private (`ConnectivityType` private), or its own subnet has no route to an internet gateway | NON_COMPLIANT: it cannot reach the internet |
| default route to a transit gateway, a NAT instance (instance or network-interface target) or a Gateway Load Balancer endpoint | NON_COMPLIANT by default; COMPLIANT when that kind is listed in `AllowedEgressTargets` |
| default route to anything else (peering connection, virtual private gateway, ...) | NON_COMPLIANT: no internet path |
| a subnet or its route table cannot be found | NON_COMPLIANT, says which |

Internet access is not required when `RequireInternetAccess` is `false` or the function is tagged
`lambda-vpc-rules:internet-access` = `none`; then only privateness (no internet-gateway default route)
and the existence of the subnets and route tables are checked.

`AllowedEgressTargets` lists the kinds of default-route target accepted as an internet path
(`nat-gateway`, `transit-gateway`, `nat-instance`, `gateway-load-balancer-endpoint`); it replaces the
default `nat-gateway`, so a list without `nat-gateway` does not accept NAT gateways. Targets other
than a NAT gateway are accepted on the route's state alone: what lies beyond them is not inspected.
"""  # noqa: E501 (the verdict table)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import (
    LAMBDA_RESOURCE_TYPE,
    NAT_GATEWAY_TYPE,
    ROUTE_TABLE_TYPE,
    SUBNET_TYPE,
    Fact,
    Facts,
    LambdaFunction,
    Route,
    Verdict,
    compliant,
    join_findings,
    non_compliant,
)
from .base import Parameter, Rule, choice_list, parse_bool

DEFAULT_ROUTE = "0.0.0.0/0"
INTERNET_ACCESS_TAG = "lambda-vpc-rules:internet-access"
EGRESS_KINDS = ("nat-gateway", "transit-gateway", "nat-instance", "gateway-load-balancer-endpoint")


def internet_required(function: LambdaFunction, parameters: Mapping[str, Any]) -> bool:
    if (function.tags or {}).get(INTERNET_ACCESS_TAG, "").strip().lower() == "none":
        return False
    return parameters["RequireInternetAccess"]


def _nat_gateway_problem(route: Route, vpc_id: str, facts: Facts) -> str | None:
    """Why the NAT gateway a default route targets cannot carry traffic to the internet, if it cannot."""
    nat = facts.nat_gateways.get(route.target_id or "")
    if nat is None:
        return f"NAT gateway {route.target_id} not found"
    if nat.state != "available":
        return f"NAT gateway {nat.nat_gateway_id} is {nat.state}"
    if nat.connectivity_type != "public":
        return f"NAT gateway {nat.nat_gateway_id} is private (no internet access)"
    nat_table = facts.route_table_for_subnet(nat.subnet_id or "", vpc_id=vpc_id)
    nat_route = nat_table.route_for(DEFAULT_ROUTE) if nat_table else None
    if nat_route is None or nat_route.target_kind != "internet-gateway" or nat_route.state != "active":
        return f"NAT gateway {nat.nat_gateway_id} is in subnet {nat.subnet_id}, which has no internet gateway route"
    return None


def _subnet_problem(subnet_id: str, facts: Facts, needs_internet: bool, allowed: frozenset[str]) -> str | None:
    subnet = facts.subnets.get(subnet_id)
    if subnet is None:
        return f"subnet {subnet_id} not found"
    table = facts.route_table_for_subnet(subnet_id)
    if table is None:
        return f"subnet {subnet_id}: route table not found"
    route = table.route_for(DEFAULT_ROUTE)
    if route is not None and route.target_kind == "internet-gateway":
        return f"subnet {subnet_id} is public (0.0.0.0/0 -> {route.target_id}); Lambda ENIs get no public IP"
    if not needs_internet:
        return None
    if route is None:
        return f"subnet {subnet_id} has no 0.0.0.0/0 route (no internet path)"
    if route.state != "active":
        return f"subnet {subnet_id}: 0.0.0.0/0 -> {route.target_id} is a {route.state} route"
    if route.target_kind not in allowed:
        if route.target_kind in EGRESS_KINDS:
            return f"subnet {subnet_id}: 0.0.0.0/0 -> {route.target_kind} {route.target_id} not in AllowedEgressTargets"
        return f"subnet {subnet_id}: 0.0.0.0/0 -> {route.target_kind} {route.target_id} is no internet path"
    if route.target_kind == "nat-gateway":
        problem = _nat_gateway_problem(route, subnet.vpc_id, facts)
        if problem:
            return f"subnet {subnet_id}: {problem}"
    return None


def check_private_subnet_nat(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    needs_internet = internet_required(function, parameters)
    allowed = parameters["AllowedEgressTargets"]
    problems = [
        problem
        for subnet_id in function.subnet_ids
        if (problem := _subnet_problem(subnet_id, facts, needs_internet, allowed)) is not None
    ]
    if problems:
        return non_compliant(join_findings(problems))
    count = len(function.subnet_ids)
    if not needs_internet:
        return compliant(f"All subnets ({count}) are private; internet access not required.")
    return compliant(f"All subnets ({count}) are private with a working 0.0.0.0/0 egress route.")


PRIVATE_SUBNET_NAT = Rule(
    name="lambda-vpc-private-subnet-nat",
    needs=frozenset({Fact.SUBNETS, Fact.ROUTE_TABLES, Fact.NAT_GATEWAYS}),
    check=check_private_subnet_nat,
    parameters=(
        Parameter(
            "RequireInternetAccess",
            "true",
            "true: every subnet needs a working 0.0.0.0/0 egress path; false: subnets need only be private.",
            parse_bool,
        ),
        Parameter(
            "AllowedEgressTargets",
            "nat-gateway",
            "Comma list of default-route targets accepted as an internet path: " + ", ".join(EGRESS_KINDS) + ".",
            choice_list(EGRESS_KINDS),
        ),
    ),
    tag_keys=frozenset({INTERNET_ACCESS_TAG}),
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, ROUTE_TABLE_TYPE, SUBNET_TYPE, NAT_GATEWAY_TYPE),
)
