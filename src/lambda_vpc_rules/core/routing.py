"""Where a VPC route table sends a packet, by AWS's rules. Pure: `ipaddress` and plain data, no boto3.

A route table answers "where does a packet to destination D go" as the VPC User Guide's "How route
priority works" says (https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html):

1. the longest prefix that matches D wins, whatever kind of route it is ("for routes that overlap, more
   specific routes always take priority irrespective of whether they are propagated routes, static
   routes, or routes that reference prefix lists");
2. among routes of the same prefix: static routes, then routes to a prefix list (each entry of the list
   is a prefix of its own), then propagated routes (`Origin` `EnableVgwRoutePropagation`; VPC Route
   Server's `Advertisement` is dynamic too and ranks with them);
3. "If your route table references multiple prefix lists that have overlapping CIDR blocks to different
   targets, we randomly choose which route takes priority": such destinations keep every candidate, and
   a verdict holds only if it holds for each.

IPv4 and IPv6 routes are independent. A route whose state is not `active` still matches (it is in the
table) but leads nowhere. Nothing here depends on the order in which AWS lists the routes, or on how a
range is written: two /1 routes decide exactly what one /0 route to the same target decides.

Destinations are sets of address ranges (`RangeSet`), so the questions the rules ask ("does some public
destination reach an internet gateway", "does every public destination leave through a NAT gateway")
are answered over the whole address space, not by sampling addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .model import PrefixList, Route, RouteTable, TargetKind

_BITS = {4: 32, 6: 128}


@dataclass(frozen=True)
class RangeSet:
    """A set of IP addresses of one family, as sorted, disjoint, non-adjacent inclusive integer spans."""

    family: int
    spans: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, family: int, cidrs: Iterable[str]) -> RangeSet:
        spans = []
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr, strict=False)
            if network.version == family:
                spans.append((int(network.network_address), int(network.broadcast_address)))
        return cls(family, _normalized(spans))

    @classmethod
    def everything(cls, family: int) -> RangeSet:
        return cls(family, ((0, 2 ** _BITS[family] - 1),))

    def __bool__(self) -> bool:
        return bool(self.spans)

    def __or__(self, other: RangeSet) -> RangeSet:
        return RangeSet(self.family, _normalized(self.spans + other.spans))

    def __and__(self, other: RangeSet) -> RangeSet:
        result, i, j = [], 0, 0
        while i < len(self.spans) and j < len(other.spans):
            (a1, b1), (a2, b2) = self.spans[i], other.spans[j]
            low, high = max(a1, a2), min(b1, b2)
            if low <= high:
                result.append((low, high))
            if b1 < b2:
                i += 1
            else:
                j += 1
        return RangeSet(self.family, tuple(result))

    def __sub__(self, other: RangeSet) -> RangeSet:
        result, j = [], 0
        for start, end in self.spans:
            while j < len(other.spans) and other.spans[j][1] < start:
                j += 1
            k, low = j, start
            while k < len(other.spans) and other.spans[k][0] <= end:
                cut_start, cut_end = other.spans[k]
                if cut_start > low:
                    result.append((low, cut_start - 1))
                low = max(low, cut_end + 1)
                k += 1
            if low <= end:
                result.append((low, end))
        return RangeSet(self.family, tuple(result))

    def cidrs(self) -> list[str]:
        """The fewest CIDR blocks that make up the set."""
        address = ipaddress.IPv4Address if self.family == 4 else ipaddress.IPv6Address
        return [
            str(network)
            for start, end in self.spans
            for network in ipaddress.summarize_address_range(address(start), address(end))
        ]


def _normalized(spans: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


# The public internet, as the rules mean it. IPv4: every address outside the IANA IPv4 Special-Purpose
# Address Registry (https://www.iana.org/assignments/iana-ipv4-special-registry/; RFC 6890 and its
# updates) and outside multicast (224.0.0.0/4, RFC 5771), which is no unicast destination. IPv6: global
# unicast, 2000::/3 (RFC 4291 section 2.4; https://www.iana.org/assignments/ipv6-unicast-address-assignments/).
IPV4_SPECIAL_PURPOSE = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
)
IPV4_MULTICAST = "224.0.0.0/4"
IPV6_GLOBAL_UNICAST = "2000::/3"
PUBLIC = {
    4: RangeSet.everything(4) - RangeSet.of(4, (*IPV4_SPECIAL_PURPOSE, IPV4_MULTICAST)),
    6: RangeSet.of(6, (IPV6_GLOBAL_UNICAST,)),
}
DEFAULT_ROUTE = {4: "0.0.0.0/0", 6: "::/0"}


def describe(ranges: RangeSet, limit: int = 2, fill: RangeSet | None = None) -> str:
    """Public ranges as a person would write them. The holes that non-public ranges (and `fill`, e.g. the
    VPC's own CIDRs) leave are filled and each block shrunk to the smallest one holding its part, so the
    public part of 0.0.0.0/0 reads `0.0.0.0/0`, not some thirty blocks around 10.0.0.0/8."""
    family, bits = ranges.family, _BITS[ranges.family]
    filled = ranges | (RangeSet.everything(family) - PUBLIC[family]) | (fill or RangeSet(family))
    blocks = []
    for cidr in filled.cidrs():
        if part := RangeSet.of(family, [cidr]) & ranges:
            low, high = part.spans[0][0], part.spans[-1][1]
            length = bits - (low ^ high).bit_length()
            network_class = ipaddress.IPv4Network if family == 4 else ipaddress.IPv6Network
            network = network_class((low >> (bits - length) << (bits - length), length))
            blocks.append(str(network))
    text = ", ".join(blocks[:limit])
    return text + (f" (+{len(blocks) - limit} more)" if len(blocks) > limit else "")


STATIC, PREFIX_LIST, PROPAGATED = 0, 1, 2
PROPAGATED_ORIGINS = frozenset({"EnableVgwRoutePropagation", "Advertisement"})


def is_prefix_list(destination: str) -> bool:
    return destination.startswith("pl-")


def route_class(route: Route) -> int:
    """Rank among routes of the same prefix (lower wins): static, prefix list, propagated."""
    if route.origin in PROPAGATED_ORIGINS:
        return PROPAGATED
    return PREFIX_LIST if is_prefix_list(route.destination) else STATIC


def target_key(route: Route) -> tuple[str, str, str]:
    return route.target_kind, route.target_id or "", route.state


@dataclass(frozen=True)
class Forward:
    """Destinations and the route(s) that carry them: one route, or several when AWS picks one of several
    prefix-list routes of the same prefix (each a candidate, sorted by destination)."""

    ranges: RangeSet
    routes: tuple[Route, ...]

    @property
    def ambiguous(self) -> bool:
        return len(self.routes) > 1


@dataclass(frozen=True)
class Forwarding:
    """One route table's decisions for one address family. `unresolved`: routes whose destination could not
    be read (a prefix list not found): what they carry is unknown, so nothing here is certain."""

    family: int
    forwards: tuple[Forward, ...]
    unresolved: tuple[str, ...] = ()

    def within(self, ranges: RangeSet) -> list[Forward]:
        return [Forward(part, forward.routes) for forward in self.forwards if (part := forward.ranges & ranges)]

    def routed(self) -> RangeSet:
        result = RangeSet(self.family)
        for forward in self.forwards:
            result = result | forward.ranges
        return result


def forwarding(table: RouteTable, family: int, prefix_lists: Mapping[str, PrefixList]) -> Forwarding:
    """Partition the family's address space by the route(s) that carry each destination."""
    best: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, tuple[int, list[Route]]] = {}
    unresolved: list[str] = []
    for route in table.routes:
        if is_prefix_list(route.destination):
            prefix_list = prefix_lists.get(route.destination)
            if prefix_list is None:
                unresolved.append(route.destination)
                continue
            cidrs: Iterable[str] = prefix_list.cidrs
        else:
            cidrs = (route.destination,)
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                unresolved.append(cidr or f"a route to {route.target_id}")
                continue
            if network.version != family:
                continue
            rank = route_class(route)
            held = best.get(network)
            if held is None or rank < held[0]:
                best[network] = (rank, [route])
            elif rank == held[0] and route not in held[1]:
                held[1].append(route)
    covered = RangeSet(family)
    decisions: dict[tuple[Route, ...], RangeSet] = {}
    # Longest prefix first: each network decides what no longer one has decided already.
    for network in sorted(best, key=lambda n: (-n.prefixlen, int(n.network_address))):
        free = RangeSet(family, ((int(network.network_address), int(network.broadcast_address)),)) - covered
        if not free:
            continue
        covered = covered | free
        candidates = _candidates(best[network][1])
        decisions[candidates] = decisions.get(candidates, RangeSet(family)) | free
    forwards = tuple(Forward(ranges, routes) for routes, ranges in sorted(decisions.items(), key=_forward_order))
    return Forwarding(family, forwards, tuple(sorted(set(unresolved))))


def _candidates(routes: list[Route]) -> tuple[Route, ...]:
    """Distinct targets only (two prefix lists to the same target decide the same), in a fixed order."""
    chosen: dict[tuple[str, str, str], Route] = {}
    for route in sorted(routes, key=lambda r: (r.destination, target_key(r))):
        chosen.setdefault(target_key(route), route)
    return tuple(chosen.values())


def _forward_order(item: tuple[tuple[Route, ...], RangeSet]) -> tuple:
    routes, ranges = item
    return ranges.spans[0][0], tuple((r.destination, target_key(r)) for r in routes)


def local_destinations(table: RouteTable, family: int) -> RangeSet:
    """The VPC's own CIDRs (the destinations of its `local` routes): inside the VPC, never the internet."""
    return RangeSet.of(family, [r.destination for r in table.routes if r.target_kind == TargetKind.LOCAL
                                and not is_prefix_list(r.destination) and _is_cidr(r.destination)])


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def internet_destinations(table: RouteTable, family: int) -> RangeSet:
    """Public destinations outside the table's VPC."""
    return PUBLIC[family] - local_destinations(table, family)
