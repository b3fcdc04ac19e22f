"""LAMBDA_VPC_PRIVATE_SUBNET_NAT: a VPC function's subnets are private and reach the internet through a
working egress.

A Lambda network interface never gets a public IP address, so a subnet that sends some public
destination straight to an internet gateway gives the function no internet access there; it is a public
subnet ("The subnet has a direct route to an internet gateway", [subnets]; "Connecting a function to a
public subnet doesn't give it internet access or a public IP address", [lambda-vpc]). Each subnet's route
table is the one explicitly associated with it, else its VPC's main route table. Where a packet goes is
AWS's routing (`routing.py`, [priority]): longest prefix, then static before prefix-list before
propagated routes, prefix lists resolved to their entries, whatever the order of the routes and however
a range is split into routes. "Public destinations" are IPv4 outside the IANA special-purpose ranges and
multicast, and IPv6 global unicast (2000::/3), less the VPC's own CIDRs (its `local` routes). IPv6 routes
count for subnets that have an IPv6 CIDR; internet access means IPv4 (IPv6 egress is the IPv6 rule's).
Internet access is traced hop by hop from the subnet (`egress.py`, as [reachability] traces a packet).

| situation | verdict | decided by |
|---|---|---|
| function without VPC configuration | NOT_APPLICABLE | |
| every public IPv4 destination leaves through a NAT gateway that exists, is `available` and public, whose own route table sends those destinations to an internet gateway, over `active` routes | COMPLIANT | [lambda-internet], [nat] |
| some public destination goes straight to an internet gateway (a public subnet), e.g. `0.0.0.0/0`, two `/1` routes, a public range such as `52.0.0.0/8`, or a prefix list; IPv6 (`::/0`, `2000::/3`) on a subnet with an IPv6 CIDR too | NON_COMPLIANT, names the subnet and the route, says public (whatever `RequireInternetAccess` says) | [subnets], [priority], [lambda-vpc] |
| a route to an internet gateway for non-public destinations only (RFC 1918, the VPC's own CIDR), an IPv6 route on a subnet without IPv6 CIDR, or a `blackhole` route to an internet gateway (detached: it reaches nothing) | not public (a blackhole is a dead path when internet access is required) | [subnets], [iana], [route-state] |
| a more specific route wins over the default route, whatever the order: `0.0.0.0/1` + `128.0.0.0/1` to a NAT gateway and no `/0` is COMPLIANT; to an internet gateway beside `/0` to a NAT gateway, public | by longest prefix | [priority] |
| a static and a propagated route (virtual private gateway) of the same destination: the static one decides; a prefix-list route and a propagated one: the prefix-list route | by route priority | [priority] |
| prefix-list routes with overlapping entries to different targets: AWS picks one | COMPLIANT only if every candidate works; else NON_COMPLIANT, says AWS picks one | [priority] |
| some public destination has no route | NON_COMPLIANT (no internet path), names the subnet and the range; COMPLIANT when internet access is not required | [lambda-internet] |
| a public range's route is a `blackhole` (or not `active`), also a `/1` beside a good `/0`; or its NAT gateway is deleted, failed, pending or missing | NON_COMPLIANT, names the subnet, the range and the hop | [route-state], [nat] |
| the NAT gateway is private (`ConnectivityType` private), or its own route table sends those destinations nowhere useful | NON_COMPLIANT: names the hop where the path stops | [nat] |
| a regional NAT gateway (no subnet): its own route table (`RouteTableId`, created by AWS with a route to the internet gateway) is followed; not found, NON_COMPLIANT | as for a NAT gateway | [regional-nat] |
| AWS Network Firewall or a Gateway Load Balancer endpoint on the path (function subnet -> NAT gateway -> firewall endpoint -> internet gateway, or function subnet -> firewall endpoint -> NAT gateway -> internet gateway): followed through the endpoint's subnet's route table; endpoint missing or not `available`, NON_COMPLIANT | traced | [firewall-arch], [gwlb] |
| a path that reaches an internet gateway with no NAT gateway on the way (function subnet -> firewall endpoint -> internet gateway) | NON_COMPLIANT: Lambda ENIs have no public IP | [lambda-vpc], [firewall-arch] |
| a path that loops (a NAT gateway's subnet routed back to it) | NON_COMPLIANT, names where | [reachability] |
| a gateway VPC endpoint (the Amazon S3 or DynamoDB prefix list) | those destinations reach the service: fine | [gateway-endpoint] |
| public destinations to a transit gateway, Cloud WAN core network, virtual private gateway, NAT instance (instance or network-interface target), or a Gateway Load Balancer endpoint | NON_COMPLIANT by default, naming the kind; COMPLIANT when that kind is listed in `AllowedEgressTargets`, and the annotation says the pack does not see beyond it | [lambda-internet] |
| a route to a Cloud WAN core network (`CoreNetworkArn` in DescribeRouteTables, read as the kind `core-network`) | followed as a transit gateway is: COMPLIANT only where `AllowedEgressTargets` lists `core-network`, naming the core network (the ARN's resource ID) | [route-state], [cloudwan] |
| public destinations to anything else (VPC peering connection, local or carrier gateway, the VPC itself) | NON_COMPLIANT, names the range and the target: no internet path | [reachability] |
| a prefix list a route refers to cannot be read | NON_COMPLIANT, names it | [prefix-lists] |
| an IPv6-only subnet (no IPv4 CIDR) while internet access is required | NON_COMPLIANT: no IPv4 path, and Lambda does not support IPv6-only subnets | [lambda-ipv6] |
| a subnet or its route table cannot be found | NON_COMPLIANT, says which | |

[subnets]: https://docs.aws.amazon.com/vpc/latest/userguide/configure-subnets.html
[priority]: https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
[route-state]: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html
[cloudwan]: https://docs.aws.amazon.com/network-manager/latest/cloudwan/cloudwan-how-routing-works.html ("a core network edge ... similar to a transit gateway in a Region")
[prefix-lists]: https://docs.aws.amazon.com/vpc/latest/userguide/managed-prefix-lists.html
[iana]: https://www.iana.org/assignments/iana-ipv4-special-registry/
[lambda-vpc]: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
[lambda-internet]: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html
[lambda-ipv6]: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-ipv6
[nat]: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html
[regional-nat]: https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateways-regional.html
[firewall-arch]: https://docs.aws.amazon.com/network-firewall/latest/developerguide/arch-igw-ngw.html
[gwlb]: https://docs.aws.amazon.com/vpc/latest/privatelink/vpce-gateway-load-balancer.html
[gateway-endpoint]: https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
[reachability]: https://docs.aws.amazon.com/vpc/latest/reachability/what-is-reachability-analyzer.html

Internet access is not required when `RequireInternetAccess` is `false` or the function is tagged
`lambda-vpc-rules:internet-access` = `none`; then only privateness (no public destination straight to an
internet gateway) and the existence of the subnets and route tables are checked.

`AllowedEgressTargets` lists the kinds accepted as egress (`nat-gateway`, `transit-gateway`,
`core-network`, `virtual-private-gateway`, `nat-instance`, `gateway-load-balancer-endpoint`); it replaces
the default `nat-gateway`, so a list without `nat-gateway` does not accept NAT gateways. A NAT gateway is
traced to the internet gateway; the other kinds are trusted central egress: the pack sees no further and
the annotation says so. A Gateway Load Balancer or Network Firewall endpoint that is not listed is no
egress of its own but a hop on the way, traced through its subnet (listing it keeps the meaning it had
before tracing: trusted, not traced, for appliances that forward traffic out themselves).
"""  # noqa: E501 (the verdict table)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..egress import CENTRAL_KINDS, PUBLIC, STOPPED, Tracer, public_routes
from ..model import (
    LAMBDA_RESOURCE_TYPE,
    NAT_GATEWAY_TYPE,
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
from .base import Parameter, Rule, choice_list, parse_bool

INTERNET_ACCESS_TAG = "lambda-vpc-rules:internet-access"
EGRESS_KINDS = ("nat-gateway", *CENTRAL_KINDS)
PARAMETER = "AllowedEgressTargets"


def internet_required(function: LambdaFunction, parameters: Mapping[str, Any]) -> bool:
    if (function.tags or {}).get(INTERNET_ACCESS_TAG, "").strip().lower() == "none":
        return False
    return parameters["RequireInternetAccess"]


def _subnet_findings(subnet_id: str, facts: Facts, needs_internet: bool, allowed: frozenset[str]
                     ) -> tuple[list[str], list[str]]:
    """(problems, the egresses its public IPv4 destinations leave through)."""
    subnet = facts.subnets.get(subnet_id)
    if subnet is None:
        return [f"subnet {subnet_id} not found"], []
    table = facts.route_table_for_subnet(subnet_id)
    if table is None:
        return [f"subnet {subnet_id}: route table not found"], []
    problems: list[str] = []
    unresolved: list[str] = []
    families = ([4] if subnet.ipv4_cidr_block else []) + ([6] if subnet.ipv6_cidr_blocks else [])
    for family in families:
        routes, missing = public_routes(facts, table, family)
        unresolved += [pl for pl in missing if pl not in unresolved]
        if routes and family == 4:
            problems.append(f"subnet {subnet_id} is public ({', '.join(routes)}): Lambda ENIs get no public IP")
        elif routes:
            problems.append(f"subnet {subnet_id} is public over IPv6 ({', '.join(routes)}): IPv6 belongs on an "
                            "egress-only internet gateway")
    if unresolved:
        problems.append(f"subnet {subnet_id}: route table {table.route_table_id}: prefix list "
                        f"{', '.join(unresolved)} not found")
    if not needs_internet or unresolved:
        return problems, []
    if subnet.ipv4_cidr_block is None:
        problems.append(f"subnet {subnet_id} is IPv6-only: no IPv4 internet path (Lambda does not support "
                        "IPv6-only subnets)")
        return problems, []
    egresses = []
    for leg in Tracer(facts, 4, allowed, PARAMETER).legs(table):
        if leg.outcome == STOPPED:
            problems.append(f"subnet {subnet_id}: {leg.text()}")
        elif leg.outcome != PUBLIC and leg.detail not in egresses:  # public: reported above
            egresses.append(leg.detail)
    return problems, egresses


def check_private_subnet_nat(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    needs_internet = internet_required(function, parameters)
    allowed = parameters[PARAMETER]
    problems: list[str] = []
    egresses: list[str] = []
    for subnet_id in function.subnet_ids:
        # A subnet's findings depend on the snapshot alone: computed once per subnet, not once per function.
        found, through = facts.derived(("private-subnet-nat", subnet_id, needs_internet, allowed),
                                       lambda s=subnet_id: _subnet_findings(s, facts, needs_internet, allowed))
        problems += found
        egresses += [egress for egress in through if egress not in egresses]
    if problems:
        return non_compliant(join_findings(problems))
    count = len(function.subnet_ids)
    if not needs_internet:
        return compliant(f"All subnets ({count}) are private; internet access not required.")
    lead = f"All subnets ({count}) are private; public IPv4 destinations leave through "
    return compliant(lead + join_findings(egresses, limit=256 - len(lead) - 1) + ".")


PRIVATE_SUBNET_NAT = Rule(
    name="lambda-vpc-private-subnet-nat",
    needs=frozenset({Fact.SUBNETS, Fact.ROUTE_TABLES, Fact.NAT_GATEWAYS, Fact.PREFIX_LISTS, Fact.VPC_ENDPOINTS}),
    check=check_private_subnet_nat,
    parameters=(
        Parameter(
            "RequireInternetAccess",
            "true",
            "true: every public IPv4 destination needs a working egress path; false: subnets need only be private.",
            parse_bool,
        ),
        Parameter(
            PARAMETER,
            "nat-gateway",
            "Comma list of the egress kinds accepted: " + ", ".join(EGRESS_KINDS) + " (all but nat-gateway "
            "are trusted as central egress, not traced beyond).",
            choice_list(EGRESS_KINDS),
        ),
    ),
    tag_keys=frozenset({INTERNET_ACCESS_TAG}),
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, ROUTE_TABLE_TYPE, SUBNET_TYPE, NAT_GATEWAY_TYPE, PREFIX_LIST_TYPE, VPC_ENDPOINT_TYPE),
)
