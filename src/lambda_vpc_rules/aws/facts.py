"""The rules' reads: functions, and the facts about the estate their verdicts depend on.

Two ways in:
- `account_facts(needs)`: a whole account and region (scan, scheduled evaluation). Each resource type is
  listed once, so the number of calls grows with pages, not with functions.
- `facts_for(functions, needs)`: only what the given functions depend on (one changed function, or the
  functions a drift event names).

Only the fact kinds a rule needs are read, each read once per reader: IAM roles and policies go through one
cache (one role alone, several from the account-wide authorization details), and a VPC's network read for
drift serves the checks that follow. Errors and unreadable answers propagate (`clients`).

IAM is global: an `IamCache` may be shared by the readers of one account's regions (the organization scan
gives each account one), so that the account's IAM is read once whatever the number of regions and of
threads reading them. Its lock is held while it reads: a second reader of the same account waits for the
first one's answer instead of downloading the same IAM again.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from ..core.egress import dependencies
from ..core.model import (
    Fact,
    Facts,
    LambdaFunction,
    ManagedPolicy,
    PrefixList,
    Role,
    RouteTable,
    Subnet,
    TargetKind,
    role_name_from_arn,
)
from . import parse
from .clients import Clients, as_clients, parsed_items, result

T = TypeVar("T")

EC2_FILTER_VALUES_LIMIT = 200  # EC2 accepts at most 200 values in one filter
# Fact kinds that need other kinds read first (a targeted read finds VPCs through subnets, etc.).
_PREREQUISITES = {
    Fact.VPCS: {Fact.SUBNETS},
    Fact.ROUTE_TABLES: {Fact.SUBNETS},
    Fact.NAT_GATEWAYS: {Fact.ROUTE_TABLES, Fact.SUBNETS},
    Fact.PREFIX_LISTS: {Fact.ROUTE_TABLES, Fact.SUBNETS},
    Fact.VPC_ENDPOINTS: {Fact.ROUTE_TABLES, Fact.SUBNETS},
}
_NETWORK = {Fact.SUBNETS, Fact.ROUTE_TABLES, Fact.NAT_GATEWAYS, Fact.VPC_ENDPOINTS}
PREFIX_LIST = "prefix-list"  # for `_referenced`: the prefix lists routes name as destinations


def _with_prerequisites(needs: Iterable[Fact]) -> set[Fact]:
    result_ = set(needs)
    for need in list(result_):
        result_ |= _PREREQUISITES.get(need, set())
    return result_


def _referenced(tables: Iterable[RouteTable], kind: str) -> list[str]:
    """IDs of the targets of this kind (`nat-gateway`, `vpc-endpoint`), or of the prefix lists (`prefix-list`),
    that these route tables' routes refer to."""
    ids = set()
    for table in tables:
        for route in table.routes:
            if kind == PREFIX_LIST and route.destination.startswith("pl-"):
                ids.add(route.destination)
            elif route.target_kind == kind and route.target_id:
                ids.add(route.target_id)
    return sorted(ids)


def chunks(values: list[str], size: int = EC2_FILTER_VALUES_LIMIT) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class IamCache:
    """One account's IAM as read so far: None marks a role or policy looked for and not found. Thread-safe
    through `lock` (re-entrant), which a reader holds for the whole of a read and of a lookup."""

    roles: dict[str, Role | None] = field(default_factory=dict)
    policies: dict[str, ManagedPolicy | None] = field(default_factory=dict)
    whole_account: bool = False  # every role (and every policy in use) read
    account_policies_read: bool = False  # every managed policy in use read
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)


class FactReader:
    """Reads what the rules evaluate, through `clients` (a `Clients`, or a function making a client); `iam`,
    an account's IAM cache shared with the readers of its other regions (default: this reader's own)."""

    def __init__(self, clients: Clients | Callable[[str], Any], iam: IamCache | None = None):
        self.clients = as_clients(clients)
        self.iam = iam if iam is not None else IamCache()
        self._roles, self._policies = self.iam.roles, self.iam.policies  # the shared dicts themselves
        self._networks: dict[tuple[str, ...], Facts] = {}  # VPC IDs -> their network (drift)
        self._prefix_lists: dict[str, PrefixList | None] = {}  # None: looked for, not found

    # Lambda -----------------------------------------------------------------------------------------

    def list_functions(self, tag_keys: Iterable[str] = ()) -> list[LambdaFunction]:
        """Every function of the account and region. ListFunctions carries no tags, so the tags the
        rules read (`tag_keys`) come from one Resource Groups Tagging API listing, not a call per function.
        Functions first, then tags: a function created in between is not listed (rather than listed
        without its tags, and judged without a waiver it has)."""
        tag_keys = sorted(set(tag_keys))
        pages = self.clients.pages
        listed = list(pages("lambda", "list_functions", "Functions", lambda raw: (raw["FunctionName"], raw)))
        tags_by_arn: dict[str, dict[str, str]] = {}
        for key in tag_keys:  # one listing per key: several TagFilters would have to match all at once
            for arn, tags in pages(
                "resourcegroupstaggingapi",
                "get_resources",
                "ResourceTagMappingList",
                lambda mapping, key=key: (mapping["ResourceARN"],
                                          {t["Key"]: t["Value"] for t in mapping.get("Tags") or () if t["Key"] == key}),
                ResourceTypeFilters=["lambda:function"],
                TagFilters=[{"Key": key}],
            ):
                tags_by_arn.setdefault(arn, {}).update(tags)
        functions = []
        for _, raw in listed:
            tags = tags_by_arn.get(raw.get("FunctionArn"), {}) if tag_keys else None
            functions.append(parse.from_lambda_api(raw, tags))
        return functions

    # Whole account ----------------------------------------------------------------------------------

    def account_facts(self, needs: Iterable[Fact]) -> Facts:
        needs = _with_prerequisites(needs)
        pages = self.clients.pages
        facts: dict[str, Any] = {}
        if Fact.VPCS in needs:
            facts["vpcs"] = {v.vpc_id: v for v in pages("ec2", "describe_vpcs", "Vpcs", parse.vpc)}
        if Fact.SUBNETS in needs:
            facts["subnets"] = {s.subnet_id: s for s in pages("ec2", "describe_subnets", "Subnets", parse.subnet)}
        if Fact.ROUTE_TABLES in needs:
            tables = pages("ec2", "describe_route_tables", "RouteTables", parse.route_table)
            facts["route_tables"] = {t.route_table_id: t for t in tables}
        if Fact.NAT_GATEWAYS in needs:
            gateways = pages("ec2", "describe_nat_gateways", "NatGateways", parse.nat_gateway)
            facts["nat_gateways"] = {g.nat_gateway_id: g for g in gateways}
        tables = facts.get("route_tables", {}).values()
        # Endpoints and prefix lists only when some route refers to one: most accounts pay nothing for them.
        if Fact.VPC_ENDPOINTS in needs and _referenced(tables, TargetKind.VPC_ENDPOINT):
            endpoints = pages("ec2", "describe_vpc_endpoints", "VpcEndpoints", parse.vpc_endpoint)
            facts["vpc_endpoints"] = {e.vpc_endpoint_id: e for e in endpoints}
        if Fact.PREFIX_LISTS in needs:
            facts["prefix_lists"] = self.prefix_lists(_referenced(tables, PREFIX_LIST))
        if Fact.IAM in needs:
            with self.iam.lock:
                self._read_account_iam()
                facts["roles"] = {name: role for name, role in self._roles.items() if role is not None}
                facts["policies"] = {arn: policy for arn, policy in self._policies.items() if policy is not None}
        return Facts(**facts, evaluated_at=dt.datetime.now(dt.UTC))

    # One function (or a few) -----------------------------------------------------------------------

    def facts_for(self, functions: Iterable[LambdaFunction], needs: Iterable[Fact]) -> Facts:
        """What these functions' checks need: their subnets, their VPCs, the route tables of those VPCs,
        the NAT gateways those tables route to, their roles - or a VPC network read already (drift)."""
        functions = [fn for fn in functions if fn.in_vpc]
        needs = _with_prerequisites(needs)
        facts: dict[str, Any] = {}
        subnet_ids = sorted({sid for fn in functions for sid in fn.subnet_ids})
        subnets: dict[str, Subnet] = {}
        network = self._read_network_holding(subnet_ids)
        if network is not None:
            facts = {"subnets": dict(network.subnets), "route_tables": dict(network.route_tables),
                     "nat_gateways": dict(network.nat_gateways), "vpc_endpoints": dict(network.vpc_endpoints)}
            subnets = facts["subnets"]
            needs = needs - _NETWORK
        if Fact.SUBNETS in needs and subnet_ids:
            subnets = {s.subnet_id: s for s in self._filtered("describe_subnets", "Subnets", parse.subnet,
                                                              "subnet-id", subnet_ids)}
            facts["subnets"] = subnets
        vpc_ids = sorted({s.vpc_id for s in subnets.values()})
        if Fact.VPCS in needs and vpc_ids:
            facts["vpcs"] = {v.vpc_id: v for v in self._filtered("describe_vpcs", "Vpcs", parse.vpc, "vpc-id", vpc_ids)}
        tables: dict[str, RouteTable] = {}
        if Fact.ROUTE_TABLES in needs and vpc_ids:
            # All tables of the VPCs: the subnets' own and the main table, in one read.
            tables = {t.route_table_id: t for t in self._filtered("describe_route_tables", "RouteTables",
                                                                  parse.route_table, "vpc-id", vpc_ids)}
            facts["route_tables"] = tables
        if Fact.NAT_GATEWAYS in needs:
            nat_ids = _referenced(tables.values(), TargetKind.NAT_GATEWAY)
            if nat_ids:
                gateways = self._filtered("describe_nat_gateways", "NatGateways", parse.nat_gateway, "nat-gateway-id",
                                          nat_ids)
                facts["nat_gateways"] = {g.nat_gateway_id: g for g in gateways}
        if Fact.VPC_ENDPOINTS in needs:
            endpoint_ids = _referenced(tables.values(), TargetKind.VPC_ENDPOINT)
            if endpoint_ids:
                endpoints = self._filtered("describe_vpc_endpoints", "VpcEndpoints", parse.vpc_endpoint,
                                           "vpc-endpoint-id", endpoint_ids)
                facts["vpc_endpoints"] = {e.vpc_endpoint_id: e for e in endpoints}
        if Fact.PREFIX_LISTS in needs and facts.get("route_tables"):
            # Only the lists on the functions' way out: the tables their egress may pass through.
            network_so_far = Facts(**{k: v for k, v in facts.items() if k != "vpcs"})
            on_the_way = set().union(*(dependencies(network_so_far, sid) for sid in subnet_ids))
            facts["prefix_lists"] = self.prefix_lists(pl for pl in on_the_way if pl.startswith("pl-"))
        if Fact.IAM in needs:
            facts["roles"], facts["policies"] = self.roles(role_name_from_arn(fn.role_arn)
                                                           for fn in functions if fn.role_arn)
        return Facts(**facts, evaluated_at=dt.datetime.now(dt.UTC))

    def vpc_network(self, vpc_ids: str | Iterable[str]) -> Facts:
        """The subnets, route tables, NAT gateways and the endpoints routes lead to, of one VPC or a few:
        three filtered reads, a fourth when some route targets an endpoint; once per reader."""
        key = tuple(sorted({vpc_ids} if isinstance(vpc_ids, str) else set(vpc_ids)))
        if key not in self._networks:
            ids = list(key)
            subnets = {s.subnet_id: s for s in self._filtered("describe_subnets", "Subnets", parse.subnet, "vpc-id",
                                                              ids)}
            tables = {t.route_table_id: t for t in self._filtered("describe_route_tables", "RouteTables",
                                                                  parse.route_table, "vpc-id", ids)}
            gateways = {g.nat_gateway_id: g for g in self._filtered("describe_nat_gateways", "NatGateways",
                                                                    parse.nat_gateway, "vpc-id", ids)}
            endpoints = {e.vpc_endpoint_id: e for e in self._filtered(
                "describe_vpc_endpoints", "VpcEndpoints", parse.vpc_endpoint, "vpc-id", ids)
            } if _referenced(tables.values(), TargetKind.VPC_ENDPOINT) else {}
            self._networks[key] = Facts(subnets=subnets, route_tables=tables, nat_gateways=gateways,
                                        vpc_endpoints=endpoints)
        return self._networks[key]

    def _read_network_holding(self, subnet_ids: list[str]) -> Facts | None:
        """A VPC network read already that holds all these subnets, if any."""
        return next((network for network in self._networks.values()
                     if subnet_ids and set(subnet_ids) <= set(network.subnets)), None)

    def prefix_lists(self, ids: Iterable[str]) -> dict[str, PrefixList]:
        """These managed prefix lists (customer- or AWS-managed) with their current entries; absent: not
        found. Each list is read once per reader: DescribeManagedPrefixLists (a filter, so a missing ID
        is no error) for the lists not read yet, then GetManagedPrefixListEntries for each."""
        wanted = sorted(set(ids))
        unread = [pl for pl in wanted if pl not in self._prefix_lists]
        if unread:
            found = {pl: name for pl, name in self._filtered(
                "describe_managed_prefix_lists", "PrefixLists", lambda raw: (raw["PrefixListId"],
                                                                            raw.get("PrefixListName")),
                "prefix-list-id", unread)}
            for pl in unread:
                if pl not in found:
                    self._prefix_lists[pl] = None
                    continue
                entries = self.clients.pages("ec2", "get_managed_prefix_list_entries", "Entries",
                                             lambda entry: entry.get("Cidr"), PrefixListId=pl)
                self._prefix_lists[pl] = PrefixList(pl, tuple(cidr for cidr in entries if cidr), found[pl])
        return {pl: known for pl in wanted if (known := self._prefix_lists.get(pl)) is not None}

    def _filtered(self, operation: str, result_key: str, parse_item: Callable[[Any], T], filter_name: str,
                  values: list[str]) -> Iterator[T]:
        # A filter, unlike an ID list, answers without error when an ID does not exist.
        for chunk in chunks(values):
            yield from self.clients.pages("ec2", operation, result_key, parse_item,
                                          Filters=[{"Name": filter_name, "Values": chunk}])

    # IAM: one path, one cache -------------------------------------------------------------------------

    def roles(self, names: Iterable[str]) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        """These roles (absent: not found) and the managed policies they use. One role is read on its own
        (GetRole and its policy lists); more come from the account-wide details, whose pages cost less
        than three or more calls a role (and, once read, serve every later question)."""
        names = sorted(set(names))
        with self.iam.lock:
            unread = [name for name in names if name not in self._roles]
            if unread and (len(unread) > 1 or self.iam.whole_account):
                self._read_account_iam()
            for name in unread:
                if name not in self._roles:
                    self._roles[name] = None if self.iam.whole_account else self._role(name)
            return self._found(names)

    def roles_one_by_one(self, names: Iterable[str]) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        """The per-role reads (GetRole, ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, then the
        policies), whatever the number of roles: `make bench` compares them with the account-wide read."""
        names = sorted(set(names))
        with self.iam.lock:
            for name in names:
                if name not in self._roles:
                    self._roles[name] = self._role(name)
            return self._found(names)

    def _found(self, names: list[str]) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        found = {name: role for name in names if (role := self._roles.get(name)) is not None}
        used = {arn for role in found.values() for arn in _role_policy_arns(role)}
        self._read_policies(used)
        return found, {arn: policy for arn in sorted(used) if (policy := self._policies.get(arn)) is not None}

    def policies(self, arns: Iterable[str]) -> dict[str, ManagedPolicy]:
        """These managed policies (absent: not found), through the same cache (`check`: the policies a
        template attaches to the roles it defines)."""
        arns = set(arns)
        self._read_policies(arns)
        return {arn: policy for arn in sorted(arns) if (policy := self._policies.get(arn)) is not None}

    def _read_account_iam(self) -> None:
        """Every role and every managed policy in use, from GetAccountAuthorizationDetails: a handful of pages,
        no per-role calls; then any policy a role references that the answer lacks."""
        if not self.iam.whole_account:
            roles, policies = self._authorization_details(["Role", "LocalManagedPolicy", "AWSManagedPolicy"])
            self._roles.update(roles)
            self._policies.update(policies)
            self.iam.whole_account = self.iam.account_policies_read = True
            self._read_policies({arn for role in roles.values() for arn in _role_policy_arns(role)})

    def _read_policies(self, arns: set[str]) -> None:
        """These managed policies into the cache: GetPolicy and GetPolicyVersion for one; for more, the
        account's managed policies from GetAccountAuthorizationDetails (a page per 1,000), so that a role with
        many policies does not cost two calls each. One missing from that answer is read on its own (AWS
        lists only policies in use)."""
        unread = arns - self._policies.keys()
        if len(unread) > 1 and not self.iam.account_policies_read:
            _, policies = self._authorization_details(["LocalManagedPolicy", "AWSManagedPolicy"])
            self._policies.update(policies)
            self.iam.account_policies_read = True
            unread -= self._policies.keys()
        for arn in sorted(unread):
            self._policies[arn] = self._managed_policy(arn)

    def _authorization_details(self, entities: list[str]) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        roles: dict[str, Role] = {}
        policies: dict[str, ManagedPolicy] = {}
        name = "GetAccountAuthorizationDetails"
        for page in self.clients.answer_pages("iam", "get_account_authorization_details",
                                              ("RoleDetailList", "Policies"), Filter=entities):
            for role in parsed_items(page["RoleDetailList"], parse.role_from_details, name):
                roles[role.name] = role
            for policy in parsed_items(page["Policies"], parse.policy_from_details, name):
                if policy is not None:
                    policies[policy.arn] = policy
        return roles, policies

    def _role(self, name: str) -> Role | None:
        iam = self.clients("iam")
        try:
            raw = result(iam.get_role(RoleName=name), "Role", "GetRole")
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchEntity":
                return None
            raise
        inline = {}
        for policy_name in self.clients.pages("iam", "list_role_policies", "PolicyNames", RoleName=name):
            answer = iam.get_role_policy(RoleName=name, PolicyName=policy_name)
            inline[policy_name] = result(answer, "PolicyDocument", "GetRolePolicy")
        attached = tuple(self.clients.pages("iam", "list_attached_role_policies", "AttachedPolicies",
                                            lambda p: p["PolicyArn"], RoleName=name))
        boundary = (raw.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return Role(
            name=name,
            arn=result(raw, "Arn", "GetRole"),
            inline_policies=inline,
            attached_policy_arns=attached,
            permissions_boundary_arn=boundary,
            tags=parse.tag_map(raw.get("Tags")),
        )

    def _managed_policy(self, arn: str) -> ManagedPolicy | None:
        iam = self.clients("iam")
        try:
            policy = result(iam.get_policy(PolicyArn=arn), "Policy", "GetPolicy")
            version = result(iam.get_policy_version(PolicyArn=arn, VersionId=result(policy, "DefaultVersionId",
                                                                                    "GetPolicy")),
                             "PolicyVersion", "GetPolicyVersion")
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchEntity":
                return None  # absent from the facts: the rule reports it missing
            raise
        return ManagedPolicy(arn, policy.get("PolicyName") or parse.policy_name(arn),
                             result(version, "Document", "GetPolicyVersion"))


def _role_policy_arns(role: Role) -> set[str]:
    arns = set(role.attached_policy_arns)
    if role.permissions_boundary_arn:
        arns.add(role.permissions_boundary_arn)
    return arns
