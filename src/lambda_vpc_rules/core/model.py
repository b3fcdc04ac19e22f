"""Plain data the rules evaluate: a Lambda function and the facts about the estate it depends on.

Everything here is immutable and makes no AWS call, so rule logic stays pure and testable without AWS.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any, TypeVar

from botocore.utils import ArnParser, InvalidArnException

from .coverage import Coverage
from .scp import ScpChain

T = TypeVar("T")

LAMBDA_RESOURCE_TYPE = "AWS::Lambda::Function"
# The resource types a function's verdicts depend on (rule scopes; drift.py)
ROLE_TYPE, POLICY_TYPE = "AWS::IAM::Role", "AWS::IAM::Policy"
VPC_TYPE, SUBNET_TYPE = "AWS::EC2::VPC", "AWS::EC2::Subnet"
ROUTE_TABLE_TYPE, NAT_GATEWAY_TYPE = "AWS::EC2::RouteTable", "AWS::EC2::NatGateway"
PREFIX_LIST_TYPE, VPC_ENDPOINT_TYPE = "AWS::EC2::PrefixList", "AWS::EC2::VPCEndpoint"


class Compliance(enum.StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


ANNOTATION_LIMIT = 256  # AWS Config rejects longer annotations


@dataclass(frozen=True)
class Verdict:
    compliance: Compliance
    annotation: str

    def __post_init__(self) -> None:
        if len(self.annotation) > ANNOTATION_LIMIT:
            object.__setattr__(self, "annotation", self.annotation[: ANNOTATION_LIMIT - 3] + "...")


def compliant(annotation: str) -> Verdict:
    return Verdict(Compliance.COMPLIANT, annotation)


def non_compliant(annotation: str) -> Verdict:
    return Verdict(Compliance.NON_COMPLIANT, annotation)


def not_applicable(annotation: str) -> Verdict:
    return Verdict(Compliance.NOT_APPLICABLE, annotation)


def join_findings(findings: list[str], limit: int = ANNOTATION_LIMIT) -> str:
    """Join findings with '; ', naming as many as fit and counting the rest, within `limit`."""
    text = ""
    for index, finding in enumerate(findings):
        candidate = finding if not text else f"{text}; {finding}"
        rest = len(findings) - index - 1
        suffix = f"; +{rest} more" if rest else ""
        if len(candidate) + len(suffix) > limit:
            left = len(findings) - index
            return (text + f"; +{left} more") if text else candidate[: limit - 3] + "..."
        text = candidate
    return text


@dataclass(frozen=True)
class LambdaFunction:
    """A Lambda function as the rules see it, from a Config item or from the Lambda API."""

    name: str
    arn: str | None = None
    role_arn: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    ipv6_allowed_for_dual_stack: bool | None = None
    tags: Mapping[str, str] | None = None  # None: not known (not read)

    @property
    def in_vpc(self) -> bool:
        return bool(self.subnet_ids)

    @cached_property
    def partition_region_account(self) -> tuple[str, str, str] | None:
        """('aws', 'us-east-1', '123456789012') from the function ARN, if it has one (botocore's ARN parser);
        parsed once per function (the ENI rule asks for it for every resource it names)."""
        if not self.arn:
            return None
        try:
            arn = ArnParser().parse_arn(self.arn)
        except InvalidArnException:
            return None
        return arn["partition"], arn["region"], arn["account"]


@dataclass(frozen=True)
class Vpc:
    vpc_id: str
    instance_tenancy: str


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    ipv6_cidr_blocks: tuple[str, ...] = ()  # only associations in state 'associated'
    map_public_ip_on_launch: bool = False
    ipv4_cidr_block: str | None = None  # None: an IPv6-only subnet
    availability_zone: str | None = None  # e.g. us-east-1a (names differ between accounts)
    availability_zone_id: str | None = None  # e.g. use1-az1 (the same zone in every account)
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def dual_stack(self) -> bool:
        """An IPv4 CIDR and an associated IPv6 CIDR (what Lambda calls a dual-stack subnet)."""
        return bool(self.ipv6_cidr_blocks) and self.ipv4_cidr_block is not None

    @property
    def ipv6_only(self) -> bool:
        return bool(self.ipv6_cidr_blocks) and self.ipv4_cidr_block is None


class TargetKind(enum.StrEnum):
    """What a route sends traffic to (aws.parse.route_target_kind reads it from the route's target field)."""

    NAT_GATEWAY = "nat-gateway"
    TRANSIT_GATEWAY = "transit-gateway"
    EGRESS_ONLY_INTERNET_GATEWAY = "egress-only-internet-gateway"
    NAT_INSTANCE = "nat-instance"  # an instance or a network interface
    LOCAL = "local"
    INTERNET_GATEWAY = "internet-gateway"
    VPC_ENDPOINT = "vpc-endpoint"  # a gateway endpoint, or a Gateway Load Balancer / Network Firewall endpoint
    VIRTUAL_PRIVATE_GATEWAY = "virtual-private-gateway"
    GATEWAY = "gateway"  # another gateway ID
    VPC_PEERING_CONNECTION = "vpc-peering-connection"
    LOCAL_GATEWAY = "local-gateway"
    CARRIER_GATEWAY = "carrier-gateway"
    CORE_NETWORK = "core-network"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Route:
    destination: str  # IPv4 or IPv6 CIDR, or a prefix list ID
    target_id: str | None  # igw-..., nat-..., tgw-..., eni-..., i-..., vpce-..., eigw-..., local
    target_kind: TargetKind
    state: str  # 'active' | 'blackhole' (| 'filtered')
    # CreateRouteTable (the local route) | CreateRoute (static) | EnableVgwRoutePropagation | Advertisement
    origin: str = "CreateRoute"


@dataclass(frozen=True)
class RouteTable:
    route_table_id: str
    vpc_id: str
    routes: tuple[Route, ...] = ()
    subnet_ids: tuple[str, ...] = ()  # explicit associations
    is_main: bool = False

    def route_for(self, destination: str) -> Route | None:
        return next((route for route in self.routes if route.destination == destination), None)


@dataclass(frozen=True)
class NatGateway:
    nat_gateway_id: str
    state: str  # pending | failed | available | deleting | deleted
    subnet_id: str | None = None  # None for a regional NAT gateway
    connectivity_type: str = "public"
    vpc_id: str | None = None
    availability_mode: str = "zonal"  # zonal | regional
    route_table_id: str | None = None  # a regional NAT gateway's own route table


@dataclass(frozen=True)
class VpcEndpoint:
    vpc_endpoint_id: str
    vpc_id: str | None
    endpoint_type: str  # Gateway | GatewayLoadBalancer | Interface | ...
    state: str  # available | pending | deleted | ...
    subnet_ids: tuple[str, ...] = ()  # a Gateway Load Balancer (or Network Firewall) endpoint's subnet
    service_name: str | None = None


@dataclass(frozen=True)
class PrefixList:
    """A managed prefix list (customer-managed or AWS-managed) with the entries of its current version."""

    prefix_list_id: str
    cidrs: tuple[str, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    inline_policies: Mapping[str, object] = field(default_factory=dict)  # name -> document
    attached_policy_arns: tuple[str, ...] = ()
    permissions_boundary_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ManagedPolicy:
    arn: str
    name: str
    document: object  # the default version's document (dict, JSON or URL-encoded JSON)


class Fact(enum.StrEnum):
    """Kinds of facts a rule can depend on; the reads (`aws.facts`) fetch only the kinds asked for."""

    VPCS = "vpcs"
    SUBNETS = "subnets"
    ROUTE_TABLES = "route_tables"
    NAT_GATEWAYS = "nat_gateways"
    PREFIX_LISTS = "prefix_lists"  # those the route tables read refer to
    VPC_ENDPOINTS = "vpc_endpoints"  # those the route tables read route to
    IAM = "iam"  # roles with their policies, and managed policies


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Facts:
    """What was read about the estate. A key that is absent was looked for and not found."""

    vpcs: Mapping[str, Vpc] = field(default_factory=dict)
    subnets: Mapping[str, Subnet] = field(default_factory=dict)
    route_tables: Mapping[str, RouteTable] = field(default_factory=dict)
    nat_gateways: Mapping[str, NatGateway] = field(default_factory=dict)
    prefix_lists: Mapping[str, PrefixList] = field(default_factory=dict)
    vpc_endpoints: Mapping[str, VpcEndpoint] = field(default_factory=dict)
    roles: Mapping[str, Role] = field(default_factory=dict)  # by role name
    policies: Mapping[str, ManagedPolicy] = field(default_factory=dict)  # by policy ARN
    evaluated_at: datetime | None = None  # when they were read (aws:CurrentTime); None: not known
    # the account's service control policies (organization scan, `scp.ScpChain`); None: not read
    scp_chain: ScpChain | None = None
    _derived: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("vpcs", "subnets", "route_tables", "nat_gateways", "prefix_lists", "vpc_endpoints", "roles",
                     "policies"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        # Indexes built once, so a lookup per subnet does not scan every route table.
        by_subnet: dict[str, RouteTable] = {}
        main_by_vpc: dict[str, RouteTable] = {}
        for table in self.route_tables.values():
            for subnet_id in table.subnet_ids:
                by_subnet[subnet_id] = table
            if table.is_main:
                main_by_vpc[table.vpc_id] = table
        object.__setattr__(self, "_route_table_by_subnet", by_subnet)
        object.__setattr__(self, "_main_route_table_by_vpc", main_by_vpc)

    def __reduce__(self) -> tuple:
        """Pickled (to evaluate in another process) as plain dicts; the derived values are not carried."""
        return (Facts, (dict(self.vpcs), dict(self.subnets), dict(self.route_tables), dict(self.nat_gateways),
                        dict(self.prefix_lists), dict(self.vpc_endpoints), dict(self.roles), dict(self.policies),
                        self.evaluated_at))

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value computed once per snapshot (e.g. a role's parsed policies, shared by all its functions)."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def route_table_for_subnet(self, subnet_id: str, vpc_id: str | None = None) -> RouteTable | None:
        """The subnet's explicitly associated route table, else its VPC's main route table.

        `vpc_id` finds the main table for a subnet that was not read itself (a NAT gateway's subnet)."""
        table = self._route_table_by_subnet.get(subnet_id)
        if table is not None:
            return table
        subnet = self.subnets.get(subnet_id)
        vpc_id = subnet.vpc_id if subnet else vpc_id
        return self._main_route_table_by_vpc.get(vpc_id) if vpc_id else None


def role_name_from_arn(role_arn: str) -> str:
    """IAM role names are unique per account; the ARN may carry a path (role/service-role/name)."""
    return role_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class EvaluationResult:
    """One verdict for one resource under one rule: the fields AWS Config shows, and where it was made."""

    rule: str
    resource_id: str
    compliance: Compliance
    annotation: str
    resource_type: str = LAMBDA_RESOURCE_TYPE
    resource_arn: str | None = None  # the function's ARN, when known (Security Hub needs it)
    account_id: str = ""
    region: str = ""
    # when the verdict was made: the read time of a scan, AWS Config's ResultRecordedTime (ISO 8601, UTC)
    recorded_at: str = ""
    # the exceptions register (core.exceptions): the exception covering a NON_COMPLIANT verdict, and whether
    # it is in force ("excepted") or has expired ("expired"); None: none covers it
    exception_id: str | None = None
    exception_state: str | None = None

    @property
    def excepted(self) -> bool:
        """NON_COMPLIANT, and an exception in force covers it: shown apart, not failing."""
        return self.compliance is Compliance.NON_COMPLIANT and self.exception_state == "excepted"

    @property
    def failing(self) -> bool:
        return self.compliance is Compliance.NON_COMPLIANT and not self.excepted

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "resource_arn": self.resource_arn or "",
            "compliance": self.compliance.value,
            "annotation": self.annotation,
        }


@dataclass(frozen=True, order=True)
class Waiver:
    """A function tagged to change what a rule asks of it (`lambda-vpc-rules:internet-access=none`)."""

    account_id: str
    region: str
    resource_id: str
    tag: str
    value: str


@dataclass(frozen=True)
class ScanReport:
    """An evaluation of one account and region: what scan, the demo and evidence render."""

    account_id: str
    region: str
    generated_at: str  # ISO 8601, UTC
    evaluations: list[EvaluationResult] = field(default_factory=list)
    # rule -> the parameter strings it ran with (defaults included): for the evidence manifest
    rule_parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    # which accounts and regions were expected and read (a run over many: core.coverage); None: this one
    coverage: Coverage | None = None
    # the waiver tags in force on the functions read; None: not read (no selected rule reads them)
    waivers: list[Waiver] | None = None
    # the exceptions register applied and what each exception covered (core.exceptions.RegisterUse); None: none
    exceptions: Any = None

    @property
    def has_non_compliant(self) -> bool:
        """Something NON_COMPLIANT that no exception in force covers (excepted verdicts do not fail a run)."""
        return any(result.failing for result in self.evaluations)

    def as_dict(self) -> dict:
        return {
            "account_id": self.account_id,
            "region": self.region,
            "generated_at": self.generated_at,
            "evaluations": [result.as_dict() for result in self.evaluations],
        }
