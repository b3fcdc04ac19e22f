"""Network facts for the pure-core tests of the network rules: one VPC with a function subnet, a NAT
gateway's subnet, a firewall subnet, a regional NAT gateway's own route table and the main table; each
table's routes given by the test, the VPC's `local` routes always there."""

from __future__ import annotations

from collections.abc import Iterable

from lambda_vpc_rules.core.model import Facts, NatGateway, PrefixList, Route, RouteTable, Subnet, VpcEndpoint

VPC = "vpc-1"
VPC_CIDR = "10.0.0.0/16"
VPC_IPV6 = "2600:1f18:abcd:1200::/56"
CORE_NETWORK = "arn:aws:networkmanager::123456789012:core-network/core-network-0abc"

_KINDS = {
    "igw-": "internet-gateway", "nat-": "nat-gateway", "tgw-": "transit-gateway",
    "eigw-": "egress-only-internet-gateway", "vpce-": "vpc-endpoint", "pcx-": "vpc-peering-connection",
    "vgw-": "virtual-private-gateway", "i-": "nat-instance",
    "eni-": "nat-instance", "lgw-": "local-gateway", "arn:aws:networkmanager": "core-network", "local": "local",
}


def kind_of(target: str) -> str:
    return next(kind for prefix, kind in _KINDS.items() if target.startswith(prefix))


def route(destination: str, target: str, state: str = "active", origin: str = "CreateRoute") -> Route:
    return Route(destination, target, kind_of(target), state, origin)


def propagated(destination: str, target: str) -> Route:
    return route(destination, target, origin="EnableVgwRoutePropagation")


def local(cidr: str = VPC_CIDR) -> Route:
    return Route(cidr, "local", "local", "active", "CreateRouteTable")


LOCAL = (local(), local(VPC_IPV6))
TO_IGW = (route("0.0.0.0/0", "igw-1"),)
NAT_OK = NatGateway("nat-1", "available", "subnet-nat", vpc_id=VPC)
REGIONAL_NAT = NatGateway("nat-r", "available", None, vpc_id=VPC, availability_mode="regional",
                          route_table_id="rtb-regional")
FIREWALL = VpcEndpoint("vpce-fw", VPC, "GatewayLoadBalancer", "available", ("subnet-fw",),
                       "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718")
S3_ENDPOINT = VpcEndpoint("vpce-s3", VPC, "Gateway", "available", (), "com.amazonaws.us-east-1.s3")
S3_LIST = PrefixList("pl-63a5400a", ("52.216.0.0/15", "3.5.0.0/19", "54.231.0.0/16"), "com.amazonaws.us-east-1.s3")
PARTNER_LIST = PrefixList("pl-partner", ("52.94.0.0/22", "35.71.64.0/22"), "partner")


def subnet(subnet_id: str = "subnet-fn", cidr: str | None = "10.0.1.0/24", ipv6: str | None = None) -> Subnet:
    return Subnet(subnet_id, VPC, ipv6_cidr_blocks=(ipv6,) if ipv6 else (), ipv4_cidr_block=cidr)


DUAL_STACK = subnet(ipv6="2600:1f18:abcd:1201::/64")


def network(
    fn: Iterable[Route] = (),
    nat: Iterable[Route] = TO_IGW,
    fw: Iterable[Route] = TO_IGW,
    regional: Iterable[Route] = TO_IGW,
    nat_gateways: Iterable[NatGateway] = (NAT_OK,),
    endpoints: Iterable[VpcEndpoint] = (FIREWALL, S3_ENDPOINT),
    prefix_lists: Iterable[PrefixList] = (S3_LIST, PARTNER_LIST),
    fn_subnets: Iterable[Subnet] = (subnet(),),
    local_routes: Iterable[Route] = LOCAL,
    missing_tables: Iterable[str] = (),
) -> Facts:
    fn_subnets = tuple(fn_subnets)
    local_routes = tuple(local_routes)
    tables = {
        "rtb-fn": RouteTable("rtb-fn", VPC, (*local_routes, *fn), tuple(s.subnet_id for s in fn_subnets)),
        "rtb-nat": RouteTable("rtb-nat", VPC, (*local_routes, *nat), ("subnet-nat",)),
        "rtb-fw": RouteTable("rtb-fw", VPC, (*local_routes, *fw), ("subnet-fw",)),
        "rtb-regional": RouteTable("rtb-regional", VPC, (*local_routes, *regional)),
        "rtb-main": RouteTable("rtb-main", VPC, local_routes, is_main=True),
    }
    for table_id in missing_tables:
        del tables[table_id]
    subnets = {s.subnet_id: s for s in (*fn_subnets, subnet("subnet-nat", "10.0.0.0/24"),
                                        subnet("subnet-fw", "10.0.2.0/24"))}
    return Facts(
        subnets=subnets,
        route_tables=tables,
        nat_gateways={g.nat_gateway_id: g for g in nat_gateways},
        vpc_endpoints={e.vpc_endpoint_id: e for e in endpoints},
        prefix_lists={p.prefix_list_id: p for p in prefix_lists},
    )
