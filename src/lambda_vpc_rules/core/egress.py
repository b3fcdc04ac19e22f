"""The path a function's packets take to the internet, traced hop by hop over the facts. Pure.

Starting from a subnet's route table, each destination range follows the route that carries it
(`routing.forwarding`), as VPC Reachability Analyzer traces a packet
(https://docs.aws.amazon.com/vpc/latest/reachability/what-is-reachability-analyzer.html), until it
leaves, is trusted, or stops:

- a NAT gateway (`available`, public; zonal or regional) translates and hands the packet to its own route
  table: the route table of its subnet, or a regional NAT gateway's own route table, which AWS creates
  with a route to the internet gateway
  (https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateways-regional.html);
- a Gateway Load Balancer endpoint, which is also what an AWS Network Firewall endpoint is, is a bump in
  the wire: the packet comes back out of the endpoint and follows the route table of the endpoint's
  subnet (https://docs.aws.amazon.com/network-firewall/latest/developerguide/arch-igw-ngw.html);
- IPv4 reaches the internet at an internet gateway only after a NAT gateway on the way (a Lambda network
  interface has no public IP address); IPv6 at an egress-only internet gateway;
- a gateway VPC endpoint (Amazon S3, DynamoDB) delivers the service's prefix list to the service itself;
- a transit gateway, Cloud WAN core network, virtual private gateway, NAT instance (instance or network
  interface), or a Gateway Load Balancer endpoint listed as such, is central egress when the operator
  trusts it (the rule's parameter): what lies beyond it is not visible to the pack, and the verdict says so;
- anything else, a route that is not `active`, a missing or dead hop, or a loop, stops the packet.

`dependencies` is the drift side: every resource a subnet's egress may pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .model import Facts, Route, RouteTable, TargetKind
from .routing import (
    Forwarding,
    RangeSet,
    describe,
    forwarding,
    internet_destinations,
    is_prefix_list,
    local_destinations,
)

# Outcomes of a leg of the trace
EGRESS, CENTRAL, SERVICE, PUBLIC, STOPPED = "egress", "central", "service", "public", "stopped"
CENTRAL_KINDS = ("transit-gateway", "core-network", "virtual-private-gateway", "nat-instance",
                 "gateway-load-balancer-endpoint")
MAX_HOPS = 12


@dataclass(frozen=True)
class Leg:
    """Destinations that share one path and one end."""

    ranges: RangeSet
    hops: tuple[str, ...]  # the route targets passed, first to last
    outcome: str
    detail: str  # STOPPED: why; EGRESS / CENTRAL / SERVICE: through what
    name: str = ""  # the destinations as the routes name them (`0.0.0.0/0`, `pl-123`), or as ranges

    def path(self) -> str:
        """`0.0.0.0/0 -> nat-1 -> vpce-2`: the destinations, then the targets passed."""
        return " -> ".join((self.name, *self.hops))

    def text(self) -> str:
        """`0.0.0.0/0 -> nat-1 -> vpce-2: endpoint vpce-2 not found`; `no route for 128.0.0.0/1`."""
        if self.detail == "no route" and not self.hops:
            return f"no route for {self.name}"
        return f"{self.path()}: {self.detail}"


def forwarding_of(facts: Facts, table: RouteTable, family: int) -> Forwarding:
    """A table's forwarding, computed once per snapshot."""
    return facts.derived(("forwarding", table.route_table_id, family),
                         lambda: forwarding(table, family, facts.prefix_lists))


def public_routes(facts: Facts, table: RouteTable, family: int) -> tuple[list[str], list[str]]:
    """(routes that carry some public destination straight to an internet gateway, prefix lists not found):
    what makes a subnet public (https://docs.aws.amazon.com/vpc/latest/userguide/configure-subnets.html)."""
    routed = forwarding_of(facts, table, family)
    names: list[str] = []
    tied = False
    for forward in routed.within(internet_destinations(table, family)):
        for route in forward.routes:
            # a blackhole reaches nothing
            if route.target_kind == TargetKind.INTERNET_GATEWAY and route.state == "active":
                tied = tied or forward.ambiguous
                if (name := f"{route.destination} -> {route.target_id}") not in names:
                    names.append(name)
    if tied:
        names.append("AWS picks one of the routes tied for some of these")
    return names, list(routed.unresolved)


@dataclass(frozen=True)
class _Way:
    """Where a trace is: the targets passed, the (route table, translated) pairs seen, whether a NAT gateway
    translated already, and the most specific route on the way (its size, its destination as written)."""

    hops: tuple[str, ...] = ()
    seen: frozenset = frozenset()
    translated: bool = False
    named: tuple[int, str] | None = None


class Tracer:
    """Traces one address family; `allowed` holds the kinds the operator accepts: `nat-gateway` and
    `egress-only-internet-gateway` (leave, traced), the `CENTRAL_KINDS` (trusted central egress)."""

    def __init__(self, facts: Facts, family: int, allowed: Iterable[str], parameter: str):
        self.facts, self.family, self.allowed, self.parameter = facts, family, frozenset(allowed), parameter

    def legs(self, table: RouteTable) -> list[Leg]:
        """How every internet destination leaves `table`, merged by path and end (so that how a range is
        split into routes does not change what is reported)."""

        def trace() -> list[Leg]:
            vpc = local_destinations(table, self.family)
            way = _Way(seen=frozenset({(table.route_table_id, False)}))
            return _merged(self._walk(table, internet_destinations(table, self.family), way, vpc), vpc)

        return self.facts.derived(("legs", self.family, table.route_table_id, self.allowed, self.parameter), trace)

    def _walk(self, table: RouteTable, ranges: RangeSet, way: _Way, vpc: RangeSet) -> list[Leg]:
        routed = forwarding_of(self.facts, table, self.family)
        if routed.unresolved:
            lists = ", ".join(routed.unresolved)
            return [Leg(ranges, way.hops, STOPPED, f"route table {table.route_table_id}: prefix list {lists} not found",
                        self._name(ranges, way, vpc))]
        legs, carried = [], RangeSet(self.family)
        for forward in routed.within(ranges):
            carried = carried | forward.ranges
            for route in forward.routes:  # AWS picks one of tied prefix-list routes: each must work
                for leg in self._follow(route, table, forward.ranges, way, vpc):
                    if forward.ambiguous and leg.outcome == STOPPED:
                        tied = ", ".join(r.destination for r in forward.routes)
                        leg = Leg(leg.ranges, leg.hops, leg.outcome, f"{leg.detail} (AWS picks one of {tied})",
                                  describe(leg.ranges, fill=vpc))
                    legs.append(leg)
        if rest := ranges - carried:
            where = f" in route table {table.route_table_id}" if way.hops else ""
            name = describe(rest, fill=vpc) if not way.hops else self._name(rest, way, vpc)
            legs.append(Leg(rest, way.hops, STOPPED, f"no route{where}", name))
        return legs

    def _name(self, ranges: RangeSet, way: _Way, vpc: RangeSet) -> str:
        return way.named[1] if way.named else describe(ranges, fill=vpc)

    def _size(self, route: Route) -> int:
        """How many addresses a route's destination holds: the smaller, the more specific its name."""
        cidrs = self.facts.prefix_lists[route.destination].cidrs if is_prefix_list(route.destination) else \
            (route.destination,)
        return sum(span[1] - span[0] + 1 for span in RangeSet.of(self.family, cidrs).spans)

    def _follow(self, route: Route, table: RouteTable, ranges: RangeSet, way: _Way, vpc: RangeSet) -> list[Leg]:
        kind, target = route.target_kind, (route.target_id or route.target_kind).rsplit("/", 1)[-1]  # ARN: its ID
        size = self._size(route)
        named = way.named if way.named and way.named[0] <= size else (size, route.destination)
        way = replace(way, hops=(*way.hops, target), named=named)

        def stop(detail: str) -> list[Leg]:
            return [Leg(ranges, way.hops, STOPPED, detail, named[1])]

        def end(outcome: str, detail: str) -> list[Leg]:
            return [Leg(ranges, way.hops, outcome, detail, named[1])]

        if route.state != "active":
            return stop(f"{route.state} route")
        if len(way.hops) > MAX_HOPS:
            return stop("more hops than the pack follows")
        if kind == TargetKind.LOCAL:
            return stop("routed back into the VPC (local)")
        if kind == TargetKind.INTERNET_GATEWAY:
            if len(way.hops) == 1:
                return end(PUBLIC, f"internet gateway {target}")
            if self.family == 6:
                return stop(f"internet gateway {target} is not egress-only")
            if way.translated:
                nat = next(hop for hop in reversed(way.hops) if hop in self.facts.nat_gateways)
                return end(EGRESS, f"NAT gateway {nat} and internet gateway {target}")
            return stop(f"reaches internet gateway {target} without a NAT gateway (Lambda ENIs have no public IP)")
        if kind == TargetKind.EGRESS_ONLY_INTERNET_GATEWAY:
            if self.family == 4:
                return stop(f"egress-only internet gateway {target} carries no IPv4")
            if "egress-only-internet-gateway" not in self.allowed:
                return stop(f"egress-only-internet-gateway {target} not in {self.parameter}")
            return end(EGRESS, f"egress-only internet gateway {target}")
        if kind == TargetKind.NAT_GATEWAY:
            return self._nat_gateway(target, table, ranges, way, vpc, stop)
        if kind == TargetKind.VPC_ENDPOINT:
            return self._endpoint(target, table, ranges, way, vpc, stop, end)
        if kind in CENTRAL_KINDS:
            if kind in self.allowed:
                return end(CENTRAL, f"{kind} {target} (trusted central egress; not checked beyond it)")
            return stop(f"{kind} {target} not in {self.parameter}")
        return stop(f"{kind} {target} is no internet path")

    def _nat_gateway(self, target: str, table: RouteTable, ranges: RangeSet, way: _Way, vpc: RangeSet,
                     stop: Callable[[str], list[Leg]]) -> list[Leg]:
        if self.family == 6:
            return stop(f"NAT gateway {target} gives no IPv6 internet path")
        if "nat-gateway" not in self.allowed:
            return stop(f"nat-gateway {target} not in {self.parameter}")
        nat = self.facts.nat_gateways.get(target)
        if nat is None:
            return stop(f"NAT gateway {target} not found")
        if nat.state != "available":
            return stop(f"NAT gateway {target} is {nat.state}")
        if nat.connectivity_type != "public":
            return stop(f"NAT gateway {target} is private (no internet access)")
        if nat.availability_mode == "regional":
            next_table = self.facts.route_tables.get(nat.route_table_id or "")
            if next_table is None:
                return stop(f"regional NAT gateway {target}: its route table {nat.route_table_id} not found")
        else:
            next_table = self.facts.route_table_for_subnet(nat.subnet_id or "", vpc_id=nat.vpc_id or table.vpc_id)
            if next_table is None:
                return stop(f"NAT gateway {target}: route table of its subnet {nat.subnet_id} not found")
        return self._next(next_table, ranges, replace(way, translated=True), vpc, stop)

    def _endpoint(self, target: str, table: RouteTable, ranges: RangeSet, way: _Way, vpc: RangeSet,
                  stop: Callable[[str], list[Leg]], end: Callable[[str, str], list[Leg]]) -> list[Leg]:
        endpoint = self.facts.vpc_endpoints.get(target)
        if endpoint is None:
            return stop(f"endpoint {target} not found")
        state = endpoint.state.lower()
        if endpoint.endpoint_type == "Gateway":
            if state != "available":
                return stop(f"gateway endpoint {target} is {endpoint.state}")
            return end(SERVICE, f"gateway endpoint {target} ({endpoint.service_name or 'an AWS service'})")
        if endpoint.endpoint_type != "GatewayLoadBalancer":
            return stop(f"{endpoint.endpoint_type} endpoint {target} is no internet path")
        if "gateway-load-balancer-endpoint" in self.allowed:
            return end(CENTRAL, f"gateway-load-balancer-endpoint {target} (trusted central egress; "
                                "not checked beyond it)")
        if state != "available":
            return stop(f"endpoint {target} is {endpoint.state}")
        if not endpoint.subnet_ids:
            return stop(f"endpoint {target} has no subnet")
        subnet_id = endpoint.subnet_ids[0]
        next_table = self.facts.route_table_for_subnet(subnet_id, vpc_id=endpoint.vpc_id or table.vpc_id)
        if next_table is None:
            return stop(f"endpoint {target}: route table of its subnet {subnet_id} not found")
        return self._next(next_table, ranges, way, vpc, stop)

    def _next(self, next_table: RouteTable, ranges: RangeSet, way: _Way, vpc: RangeSet,
              stop: Callable[[str], list[Leg]]) -> list[Leg]:
        key = (next_table.route_table_id, way.translated)
        if key in way.seen:
            return stop(f"loops back to route table {next_table.route_table_id}")
        return self._walk(next_table, ranges, replace(way, seen=way.seen | {key}), vpc)


def _merged(legs: list[Leg], vpc: RangeSet) -> list[Leg]:
    """Legs of the same path and end as one, ranges united (named anew if their names differ: two /1
    routes then read as one /0); ordered by their first address."""
    merged: dict[tuple, Leg] = {}
    for leg in legs:
        key = (leg.hops, leg.outcome, leg.detail)
        held = merged.get(key)
        if held is None:
            merged[key] = leg
        else:
            ranges = held.ranges | leg.ranges
            name = held.name if held.name == leg.name else describe(ranges, fill=vpc)
            merged[key] = Leg(ranges, leg.hops, leg.outcome, leg.detail, name)
    return sorted(merged.values(), key=lambda leg: (leg.ranges.spans[0][0] if leg.ranges else 0, leg.hops))


def dependencies(facts: Facts, subnet_id: str) -> frozenset[str]:
    """IDs of everything the subnet's egress may pass through: its route table, every prefix list those
    tables refer to, every route target, and, through NAT gateways and endpoints, their subnets and route
    tables, followed to the end. Over every route, not only the ones that win: a change to any of them can
    change which one wins."""

    def compute() -> frozenset[str]:
        subnet = facts.subnets.get(subnet_id)
        seen: set[str] = {subnet_id}
        pending = [facts.route_table_for_subnet(subnet_id, subnet.vpc_id if subnet else None)]
        while pending:
            table = pending.pop()
            if table is None or table.route_table_id in seen:
                continue
            seen.add(table.route_table_id)
            for route in table.routes:
                if is_prefix_list(route.destination):
                    seen.add(route.destination)
                if not route.target_id or route.target_id in seen:
                    continue
                seen.add(route.target_id)
                nat = facts.nat_gateways.get(route.target_id)
                if nat is not None:
                    if nat.subnet_id:
                        seen.add(nat.subnet_id)
                        pending.append(facts.route_table_for_subnet(nat.subnet_id, nat.vpc_id or table.vpc_id))
                    if nat.route_table_id:
                        pending.append(facts.route_tables.get(nat.route_table_id))
                endpoint = facts.vpc_endpoints.get(route.target_id)
                if endpoint is not None:
                    for endpoint_subnet in endpoint.subnet_ids:
                        seen.add(endpoint_subnet)
                        pending.append(facts.route_table_for_subnet(endpoint_subnet, endpoint.vpc_id or table.vpc_id))
        return frozenset(seen)

    return facts.derived(("dependencies", subnet_id), compute)
