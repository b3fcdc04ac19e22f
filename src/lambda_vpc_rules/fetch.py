"""The one place that reads AWS.

Two ways in:
- `account_facts(needs)`: a whole account and region (scan, scheduled evaluation). Each resource type is
  listed once with a paginator, so the number of calls grows with pages, not with functions.
- `facts_for(functions, needs)`: only what the given functions depend on (one changed function).

Only the fact kinds a rule needs are read. Errors (AccessDenied, throttling that outlasted the retries)
propagate as botocore `ClientError`: an error is never turned into a verdict here. Nor is an answer that is
not the API's: every client is `guard`ed, and every page must carry the result key it is read for, so a
proxy's HTML page, a body cut short or an empty object raise `UnreadableAnswer` instead of reading as
"no functions" (which would be an all-clear, and would make a scheduled run erase AWS Config's findings).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import InvalidSetting, UnreadableAnswer
from .functions import from_lambda_api, from_query_result
from .model import (
    LAMBDA_RESOURCE_TYPE,
    Compliance,
    EvaluationResult,
    Fact,
    Facts,
    LambdaFunction,
    ManagedPolicy,
    NatGateway,
    Role,
    Route,
    RouteTable,
    Subnet,
    Vpc,
    role_name_from_arn,
)

T = TypeVar("T")

# One retry configuration for every client: botocore's standard mode backs off on throttling
# (Throttling, ThrottlingException, RequestLimitExceeded) and transient errors.
RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 10
MAX_ATTEMPTS_ENV = "LAMBDA_VPC_RULES_MAX_ATTEMPTS"
# The IAM action behind every AWS call this module makes (sts:GetCallerIdentity needs none). The rule
# functions' role (templates/account-iam.yaml) grants exactly these plus RDKLIB_ACTIONS;
# tests/test_permissions.py checks the list against the calls the code really makes.
READ_ACTIONS = frozenset(
    {
        "ec2:DescribeNatGateways",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "config:SelectResourceConfig",
        "iam:GetAccountAuthorizationDetails",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListEntitiesForPolicy",
        "iam:ListRolePolicies",
        "lambda:ListFunctions",
        "tag:GetResources",
    }
)
# The AWS Config calls rdklib makes for a rule: evaluations out, stale-evaluation clean-up on a scheduled
# run, and the configuration history of an oversized item.
RDKLIB_ACTIONS = frozenset(
    {"config:PutEvaluations", "config:GetComplianceDetailsByConfigRule", "config:GetResourceConfigHistory"}
)


def action_for(operation_name: str) -> str:
    """The IAM action behind an operation the rules call (for messages naming a missing permission)."""
    known = {action.split(":")[1]: action for action in READ_ACTIONS | RDKLIB_ACTIONS | {"sts:AssumeRole"}}
    return known.get(operation_name, operation_name)


COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE")
Located = tuple[str, str, EvaluationResult]  # (account, region, result) of an evaluation AWS Config holds
# The largest page each listing accepts (API references): calls grow with pages, so ask for the biggest.
PAGE_SIZES = {
    "list_functions": 50,
    "get_resources": 100,
    "describe_vpcs": 1000,
    "describe_subnets": 1000,
    "describe_route_tables": 100,
    "describe_nat_gateways": 1000,
    "get_account_authorization_details": 1000,
    "list_role_policies": 1000,
    "list_attached_role_policies": 1000,
    "list_entities_for_policy": 1000,
    "select_resource_config": 100,
    "get_compliance_details_by_config_rule": 100,  # as rdklib asks for its clean-up
    "get_aggregate_compliance_details_by_config_rule": 100,
}
EC2_FILTER_VALUES_LIMIT = 200  # EC2 accepts at most 200 values in one filter
QUERY_VALUES_LIMIT = 50  # values per advanced query: its expression may hold at most 4,096 characters
LAMBDA_QUERY_FIELDS = "resourceName, arn, configuration.functionName, configuration.role, configuration.vpcConfig, tags"


def max_attempts() -> int:
    text = os.environ.get(MAX_ATTEMPTS_ENV, str(DEFAULT_MAX_ATTEMPTS))
    if not text.strip().isdigit() or int(text) < 1:
        raise InvalidSetting(f"{MAX_ATTEMPTS_ENV}={text!r}: expected a whole number of attempts, 1 or more")
    return int(text)


def retry_config() -> Config:
    # total_max_attempts counts the first attempt, as AWS_MAX_ATTEMPTS does (botocore's `max_attempts`
    # would count retries only: one attempt more than the Lambda handlers make).
    return Config(retries={"mode": RETRY_MODE, "total_max_attempts": max_attempts()})


def apply_retry_environment() -> None:
    """For clients we do not build ourselves (rdklib's ClientFactory): botocore reads these variables."""
    os.environ.setdefault("AWS_RETRY_MODE", RETRY_MODE)
    os.environ.setdefault("AWS_MAX_ATTEMPTS", str(max_attempts()))


# ------------------------------------------------------------------------ answers that are not AWS's

# Python types botocore parses each shape type into (what a real answer's top-level members are). A string
# may come as a dict: botocore decodes IAM's policy documents after parsing them.
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "structure": dict, "map": dict, "list": list, "string": (str, dict), "boolean": bool, "integer": int, "long": int,
    "float": (float, int), "double": (float, int), "timestamp": (dt.datetime, str), "blob": (bytes, bytearray),
}
_GUARD_ID = "lambda-vpc-rules-answer-check"


def answer_problem(parsed: Any, output_shape: Any) -> str | None:
    """What makes a parsed answer unlike the operation's output (its required members, the types of its
    top-level members), or None."""
    if output_shape is None:
        return None
    if not isinstance(parsed, dict):
        return f"a {type(parsed).__name__}, not an object"
    missing = [name for name in output_shape.required_members if name not in parsed]
    if missing:
        return f"without {', '.join(missing)}"
    for name, shape in output_shape.members.items():
        value = parsed.get(name)
        expected = _PYTHON_TYPES.get(shape.type_name)
        if value is not None and expected is not None and not isinstance(value, expected):
            return f"{name} as a {type(value).__name__}, not a {shape.type_name}"
    return None


def _check_answer(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
    if http_response is not None and http_response.status_code >= 300:
        return  # an error answer: botocore raises its ClientError next
    problem = answer_problem(parsed, model.output_shape)
    if problem:
        raise UnreadableAnswer(f"{model.name} answered {problem}: not an AWS answer")


def _check_parse_error(exception: Exception, event_name: str = "", **_: Any) -> None:
    """A body botocore could not parse: ResponseParserError, or a KeyError or the like from a parser that met
    XML without the API's result element. Neither is a ClientError nor a BotoCoreError (a connection error,
    which stays what it is): name the operation."""
    if isinstance(exception, ClientError | BotoCoreError):
        return
    operation = event_name.rsplit(".", 1)[-1]
    detail = (str(exception).strip().splitlines() or [type(exception).__name__])[0][:120]
    raise UnreadableAnswer(f"{operation} answered a body that cannot be parsed ({type(exception).__name__}: "
                           f"{detail}): not an AWS answer") from exception


def guard(client: Any) -> Any:
    """Make every answer this client receives prove it is the API's answer (see `UnreadableAnswer`)."""
    client.meta.events.register("after-call", _check_answer, unique_id=_GUARD_ID)
    client.meta.events.register("after-call-error", _check_parse_error, unique_id=_GUARD_ID + "-parse")
    return client


def result(answer: dict[str, Any], key: str, operation: str) -> Any:
    """`answer[key]`, which the API always returns; its absence is an unreadable answer, never "nothing"."""
    if key not in answer:
        raise UnreadableAnswer(f"{operation} answered without {key}: not an AWS answer")
    return answer[key]


def parsed_items(items: Iterable[Any], parse: Callable[[Any], T], operation: str) -> Iterator[T]:
    """Each item through `parse`; an item without the fields the API always gives is an unreadable answer."""
    for item in items:
        try:
            yield parse(item)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise UnreadableAnswer(f"{operation} answered an item the pack cannot read ({error!r}): "
                                   "not an AWS answer") from None


# Fact kinds that need other kinds read first (a targeted read finds VPCs through subnets, etc.).
_PREREQUISITES = {
    Fact.VPCS: {Fact.SUBNETS},
    Fact.ROUTE_TABLES: {Fact.SUBNETS},
    Fact.NAT_GATEWAYS: {Fact.ROUTE_TABLES, Fact.SUBNETS},
}


def _with_prerequisites(needs: Iterable[Fact]) -> set[Fact]:
    result = set(needs)
    for need in list(result):
        result |= _PREREQUISITES.get(need, set())
    return result


def _chunks(values: list[str], size: int = EC2_FILTER_VALUES_LIMIT) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def route_target_kind(route: dict[str, Any]) -> tuple[str, str | None]:
    """What a route sends traffic to, as (kind, target id)."""
    if route.get("NatGatewayId"):
        return "nat-gateway", route["NatGatewayId"]
    if route.get("TransitGatewayId"):
        return "transit-gateway", route["TransitGatewayId"]
    if route.get("EgressOnlyInternetGatewayId"):
        return "egress-only-internet-gateway", route["EgressOnlyInternetGatewayId"]
    if route.get("InstanceId"):
        return "nat-instance", route["InstanceId"]
    gateway = route.get("GatewayId")
    if gateway:
        if gateway == "local":
            return "local", gateway
        if gateway.startswith("igw-"):
            return "internet-gateway", gateway
        if gateway.startswith("vpce-"):
            return "gateway-load-balancer-endpoint", gateway
        if gateway.startswith("vgw-"):
            return "virtual-private-gateway", gateway
        return "gateway", gateway
    if route.get("NetworkInterfaceId"):
        return "nat-instance", route["NetworkInterfaceId"]
    if route.get("VpcPeeringConnectionId"):
        return "vpc-peering-connection", route["VpcPeeringConnectionId"]
    if route.get("LocalGatewayId"):
        return "local-gateway", route["LocalGatewayId"]
    if route.get("CarrierGatewayId"):
        return "carrier-gateway", route["CarrierGatewayId"]
    if route.get("CoreNetworkArn"):
        return "core-network", route["CoreNetworkArn"]
    return "unknown", None


def _vpc(raw: dict[str, Any]) -> Vpc:
    return Vpc(vpc_id=raw["VpcId"], instance_tenancy=raw.get("InstanceTenancy", "default"))


def _subnet(raw: dict[str, Any]) -> Subnet:
    ipv6 = tuple(
        assoc["Ipv6CidrBlock"]
        for assoc in raw.get("Ipv6CidrBlockAssociationSet") or ()
        if (assoc.get("Ipv6CidrBlockState") or {}).get("State") == "associated"
    )
    return Subnet(
        subnet_id=raw["SubnetId"],
        vpc_id=raw["VpcId"],
        ipv6_cidr_blocks=ipv6,
        map_public_ip_on_launch=bool(raw.get("MapPublicIpOnLaunch")),
        ipv4_cidr_block=raw.get("CidrBlock") or None,
        availability_zone=raw.get("AvailabilityZone"),
        availability_zone_id=raw.get("AvailabilityZoneId"),
        tags=_tag_map(raw.get("Tags")),
    )


def _tag_map(tags: Any) -> dict[str, str]:
    """AWS's [{"Key": k, "Value": v}] as {k: v}."""
    return {tag["Key"]: tag.get("Value", "") for tag in tags or () if isinstance(tag, dict) and "Key" in tag}


def _route_table(raw: dict[str, Any]) -> RouteTable:
    routes = []
    for route in raw.get("Routes") or ():
        destination = (
            route.get("DestinationCidrBlock")
            or route.get("DestinationIpv6CidrBlock")
            or route.get("DestinationPrefixListId")
            or ""
        )
        kind, target = route_target_kind(route)
        routes.append(
            Route(destination=destination, target_id=target, target_kind=kind, state=route.get("State", "active"))
        )
    associations = [
        assoc
        for assoc in raw.get("Associations") or ()
        if (assoc.get("AssociationState") or {}).get("State", "associated") == "associated"
    ]
    return RouteTable(
        route_table_id=raw["RouteTableId"],
        vpc_id=raw["VpcId"],
        routes=tuple(routes),
        subnet_ids=tuple(assoc["SubnetId"] for assoc in associations if assoc.get("SubnetId")),
        is_main=any(assoc.get("Main") for assoc in associations),
    )


def _nat_gateway(raw: dict[str, Any]) -> NatGateway:
    return NatGateway(
        nat_gateway_id=raw["NatGatewayId"],
        state=raw.get("State", "unknown"),
        subnet_id=raw.get("SubnetId"),
        connectivity_type=raw.get("ConnectivityType", "public"),
    )


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class Fetcher:
    """Reads AWS through clients made by `client_for(service_name)`, each client made once."""

    def __init__(self, client_for: Callable[[str], Any]):
        self._client_for = client_for
        self._clients: dict[str, Any] = {}
        self._iam: tuple[dict[str, Role], dict[str, ManagedPolicy]] | None = None  # account-wide, read once
        self._read_roles: dict[tuple[str, ...], tuple[dict[str, Role], dict[str, ManagedPolicy]]] = {}
        self._identity: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = guard(self._client_for(service))
        return self._clients[service]

    def _answer_pages(self, service: str, operation: str, result_keys: tuple[str, ...], **kwargs: Any
                      ) -> Iterator[dict[str, Any]]:
        """The pages of a listing, each proven to carry its result keys (a page without them is no AWS
        answer: reading it as empty would end the listing early, an all-clear for what was never read)."""
        client = self.client(service)
        name = client.meta.method_to_api_mapping.get(operation, operation)
        size = PAGE_SIZES.get(operation)
        paginator = client.get_paginator(operation)
        for page in paginator.paginate(**kwargs, **({"PaginationConfig": {"PageSize": size}} if size else {})):
            for key in result_keys:
                result(page, key, name)
            yield page

    def _pages(self, service: str, operation: str, result_key: str, parse: Callable[[Any], T] | None = None,
               **kwargs: Any) -> Iterator[T]:
        """The items of a listing, through `parse` if given (an item it cannot read is an unreadable answer)."""
        name = self.client(service).meta.method_to_api_mapping.get(operation, operation)
        for page in self._answer_pages(service, operation, (result_key,), **kwargs):
            yield from parsed_items(page[result_key], parse or (lambda item: item), name)

    def caller_identity(self) -> dict[str, str]:
        """sts:GetCallerIdentity (Account, Arn, UserId), read once."""
        if self._identity is None:
            answer = self.client("sts").get_caller_identity()
            self._identity = {key: result(answer, key, "GetCallerIdentity") for key in ("Account", "Arn", "UserId")}
        return self._identity

    # Lambda -----------------------------------------------------------------------------------------

    def list_functions(self, tag_keys: Iterable[str] = ()) -> list[LambdaFunction]:
        """Every function of the account and region. ListFunctions carries no tags, so the tags the
        rules read (`tag_keys`) come from one Resource Groups Tagging API listing, not a call per function.
        Functions first, then tags: a function created in between is not listed (rather than listed
        without its tags, and judged without a waiver it has)."""
        tag_keys = sorted(set(tag_keys))
        listed = list(self._pages("lambda", "list_functions", "Functions", lambda raw: (raw["FunctionName"], raw)))
        tags_by_arn: dict[str, dict[str, str]] = {}
        for key in tag_keys:  # one listing per key: several TagFilters would have to match all at once
            for arn, tags in self._pages(
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
            functions.append(from_lambda_api(raw, tags))
        return functions

    # Whole account ----------------------------------------------------------------------------------

    def account_facts(self, needs: Iterable[Fact]) -> Facts:
        needs = _with_prerequisites(needs)
        facts: dict[str, Any] = {}
        if Fact.VPCS in needs:
            facts["vpcs"] = {v.vpc_id: v for v in self._pages("ec2", "describe_vpcs", "Vpcs", _vpc)}
        if Fact.SUBNETS in needs:
            facts["subnets"] = {s.subnet_id: s for s in self._pages("ec2", "describe_subnets", "Subnets", _subnet)}
        if Fact.ROUTE_TABLES in needs:
            tables = self._pages("ec2", "describe_route_tables", "RouteTables", _route_table)
            facts["route_tables"] = {t.route_table_id: t for t in tables}
        if Fact.NAT_GATEWAYS in needs:
            gateways = self._pages("ec2", "describe_nat_gateways", "NatGateways", _nat_gateway)
            facts["nat_gateways"] = {g.nat_gateway_id: g for g in gateways}
        if Fact.IAM in needs:
            facts["roles"], facts["policies"] = self._account_iam()
        return Facts(**facts)

    def _account_iam(self) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        """Every role and policy from GetAccountAuthorizationDetails: a handful of pages, no per-role calls;
        read once per Fetcher."""
        if self._iam is None:
            roles, policies = self._authorization_details(["Role", "LocalManagedPolicy", "AWSManagedPolicy"])
            # A boundary or attached policy may be missing from the answer (AWS lists only what is in use).
            referenced = {arn for role in roles.values() for arn in _role_policy_arns(role)}
            policies.update(self._managed_policies(referenced - policies.keys()))
            self._iam = roles, policies
        return self._iam

    def roles(self, names: Iterable[str]) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        """These roles (absent: not found) and the managed policies they use. One role is read on its own
        (GetRole and its policy lists); more come from the account-wide details, whose pages cost less
        than three or more calls a role (and, once read, serve every later question)."""
        names = sorted(set(names))
        if len(names) > 1 or self._iam is not None:  # several roles, or the details are read already
            roles, policies = self._account_iam()
            found = {name: roles[name] for name in names if name in roles}
            used = {arn for role in found.values() for arn in _role_policy_arns(role)}
            return found, {arn: policy for arn, policy in policies.items() if arn in used}
        return self.roles_one_by_one(names)

    def roles_one_by_one(self, names: Iterable[str]) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        """The per-role reads (GetRole, ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, then the
        policies): right for one role; `make bench` compares them with the account-wide read."""
        key = tuple(sorted(set(names)))
        if key not in self._read_roles:  # drift names a policy's role, then its checks read it: once
            found = {name: role for name in key if (role := self._role(name)) is not None}
            used = {arn for role in found.values() for arn in _role_policy_arns(role)}
            self._read_roles[key] = found, self._policies(used)
        return self._read_roles[key]

    def _authorization_details(self, entities: list[str]) -> tuple[dict[str, Role], dict[str, ManagedPolicy]]:
        roles: dict[str, Role] = {}
        policies: dict[str, ManagedPolicy] = {}
        name = "GetAccountAuthorizationDetails"
        for page in self._answer_pages("iam", "get_account_authorization_details", ("RoleDetailList", "Policies"),
                                       Filter=entities):
            for role in parsed_items(page["RoleDetailList"], _role_from_details, name):
                roles[role.name] = role
            for policy in parsed_items(page["Policies"], _policy_from_details, name):
                if policy is not None:
                    policies[policy.arn] = policy
        return roles, policies

    def _policies(self, arns: set[str]) -> dict[str, ManagedPolicy]:
        """These managed policies: GetPolicy and GetPolicyVersion for one; for more, the account's managed
        policies from GetAccountAuthorizationDetails (a page per 1,000), so that a role with many policies
        does not cost two calls each. One missing from that answer is read on its own."""
        if len(arns) <= 1:
            return self._managed_policies(arns)
        _, listed = self._authorization_details(["LocalManagedPolicy", "AWSManagedPolicy"])
        policies = {arn: policy for arn, policy in listed.items() if arn in arns}
        policies.update(self._managed_policies(arns - policies.keys()))
        return policies

    # One function (or a few) -----------------------------------------------------------------------

    def facts_for(self, functions: Iterable[LambdaFunction], needs: Iterable[Fact], network: Facts | None = None
                  ) -> Facts:
        """What these functions' checks need. `network`: one VPC's subnets, route tables and NAT gateways
        already read (drift), used instead of reading them again when it holds all the functions' subnets."""
        functions = [fn for fn in functions if fn.in_vpc]
        needs = _with_prerequisites(needs)
        facts: dict[str, Any] = {}
        subnet_ids = sorted({sid for fn in functions for sid in fn.subnet_ids})
        subnets: dict[str, Subnet] = {}
        if network is not None and subnet_ids and set(subnet_ids) <= set(network.subnets):
            facts = {"subnets": dict(network.subnets), "route_tables": dict(network.route_tables),
                     "nat_gateways": dict(network.nat_gateways)}
            subnets = facts["subnets"]
            needs = needs - {Fact.SUBNETS, Fact.ROUTE_TABLES, Fact.NAT_GATEWAYS}
        if Fact.SUBNETS in needs and subnet_ids:
            subnets = {s.subnet_id: s for s in self._filtered("describe_subnets", "Subnets", _subnet, "subnet-id",
                                                              subnet_ids)}
            facts["subnets"] = subnets
        vpc_ids = sorted({s.vpc_id for s in subnets.values()})
        if Fact.VPCS in needs and vpc_ids:
            facts["vpcs"] = {v.vpc_id: v for v in self._filtered("describe_vpcs", "Vpcs", _vpc, "vpc-id", vpc_ids)}
        tables: dict[str, RouteTable] = {}
        if Fact.ROUTE_TABLES in needs and vpc_ids:
            # All tables of the VPCs: the subnets' own and the main table, in one read.
            raw_tables = self._filtered("describe_route_tables", "RouteTables", _route_table, "vpc-id", vpc_ids)
            tables = {t.route_table_id: t for t in raw_tables}
            facts["route_tables"] = tables
        if Fact.NAT_GATEWAYS in needs:
            nat_ids = sorted(
                {
                    route.target_id
                    for table in tables.values()
                    for route in table.routes
                    if route.target_kind == "nat-gateway" and route.target_id
                }
            )
            if nat_ids:
                gateways = self._filtered("describe_nat_gateways", "NatGateways", _nat_gateway, "nat-gateway-id",
                                          nat_ids)
                facts["nat_gateways"] = {g.nat_gateway_id: g for g in gateways}
        if Fact.IAM in needs:
            facts["roles"], facts["policies"] = self.roles(role_name_from_arn(fn.role_arn)
                                                           for fn in functions if fn.role_arn)
        return Facts(**facts)

    # AWS Config's own view (evidence, Security Hub de-duplication) -----------------------------------

    def deployed_rules(self, rule_names: Iterable[str]) -> list[DeployedRule]:
        """The pack's rules deployed as AWS Config rules in this account and region, with the parameters
        they run with (a conformance pack names its rules `<name>-conformance-pack-<id>`)."""
        rule_names = list(rule_names)
        deployed = []
        for name, parameters in self._pages("config", "describe_config_rules", "ConfigRules",
                                            lambda raw: (raw["ConfigRuleName"], _input_parameters(raw))):
            if rule := pack_rule_name(name, rule_names):
                deployed.append(DeployedRule(name, rule, parameters))
        return sorted(deployed, key=lambda d: d.name)

    def config_evaluations(self, deployed: Iterable[DeployedRule], account_id: str,
                           compliance: Iterable[str] = COMPLIANCE_TYPES) -> list[Located]:
        """(account, region, result) for every evaluation AWS Config holds for these deployed rules in this
        account (`account_id`: Config's answer does not name it), of these compliance types."""
        config, results = self.client("config"), []
        region = config.meta.region_name
        for rule in deployed:
            for evaluation in self._pages("config", "get_compliance_details_by_config_rule", "EvaluationResults",
                                          lambda raw, rule=rule: _config_result(rule.rule, raw),
                                          ConfigRuleName=rule.name, ComplianceTypes=[str(c) for c in compliance]):
                results.append((account_id, region, evaluation))
        return results

    def aggregate_evaluations(self, aggregator: str, rule_names: Iterable[str]) -> list[Located]:
        """The same across an organization, through a Config aggregator: which accounts and regions run
        each rule, then each one's evaluations."""
        results: list[Located] = []
        wanted = set(rule_names)
        sources = {
            source
            for source in self._pages("config", "describe_aggregate_compliance_by_config_rules",
                                      "AggregateComplianceByConfigRules",
                                      lambda c: (c["ConfigRuleName"], c["AccountId"], c["AwsRegion"]),
                                      ConfigurationAggregatorName=aggregator)
            if pack_rule_name(source[0], wanted)
        }
        for rule, account, region in sorted(sources):
            for evaluation in self._pages("config", "get_aggregate_compliance_details_by_config_rule",
                                          "AggregateEvaluationResults",
                                          lambda raw, rule=rule: _config_result(pack_rule_name(rule, wanted), raw),
                                          ConfigurationAggregatorName=aggregator, ConfigRuleName=rule,
                                          AccountId=account, AwsRegion=region):
                results.append((account, region, evaluation))
        return results

    # What depends on a changed resource (drift) ---------------------------------------------------

    def vpc_network(self, vpc_id: str) -> Facts:
        """The subnets, route tables and NAT gateways of one VPC: three filtered reads."""
        subnets = self._filtered("describe_subnets", "Subnets", _subnet, "vpc-id", [vpc_id])
        tables = self._filtered("describe_route_tables", "RouteTables", _route_table, "vpc-id", [vpc_id])
        gateways = self._filtered("describe_nat_gateways", "NatGateways", _nat_gateway, "vpc-id", [vpc_id])
        return Facts(
            subnets={s.subnet_id: s for s in subnets},
            route_tables={t.route_table_id: t for t in tables},
            nat_gateways={g.nat_gateway_id: g for g in gateways},
        )

    def functions_in_subnets(self, subnet_ids: Iterable[str]) -> list[LambdaFunction]:
        """The functions attached to any of these subnets, as AWS Config recorded them: one advanced
        query (a page per 100 functions), not a listing of every function."""
        return self._query_functions("configuration.vpcConfig.subnetIds", subnet_ids)

    def functions_with_roles(self, role_arns: Iterable[str]) -> list[LambdaFunction]:
        return self._query_functions("configuration.role", role_arns)

    def roles_using_policy(self, policy_arn: str) -> list[str]:
        """ARNs of the roles that use this managed policy (attached, or as permissions boundary: without a
        PolicyUsageFilter IAM lists both). ListEntitiesForPolicy names them; `roles` reads them, so the
        checks that follow find them already read."""
        names = set(self._pages("iam", "list_entities_for_policy", "PolicyRoles", lambda role: role["RoleName"],
                                PolicyArn=policy_arn, EntityFilter="Role"))
        return [role.arn for role in self.roles(names)[0].values()]

    def _query_functions(self, field: str, values: Iterable[str]) -> list[LambdaFunction]:
        functions: dict[str, LambdaFunction] = {}
        for chunk in _chunks(sorted(set(values)), QUERY_VALUES_LIMIT):
            quoted = ", ".join("'" + value.replace("'", "") + "'" for value in chunk)
            expression = (
                f"SELECT {LAMBDA_QUERY_FIELDS} WHERE resourceType = '{LAMBDA_RESOURCE_TYPE}' AND {field} IN ({quoted})"
            )
            for function in self._pages("config", "select_resource_config", "Results",
                                        lambda text: from_query_result(json.loads(text)), Expression=expression):
                functions[function.name] = function
        return [functions[name] for name in sorted(functions)]

    def _filtered(self, operation: str, result_key: str, parse: Callable[[Any], T], filter_name: str,
                  values: list[str]) -> Iterator[T]:
        # A filter, unlike an ID list, answers without error when an ID does not exist.
        for chunk in _chunks(values):
            yield from self._pages("ec2", operation, result_key, parse,
                                   Filters=[{"Name": filter_name, "Values": chunk}])

    def _role(self, name: str) -> Role | None:
        iam = self.client("iam")
        try:
            raw = result(iam.get_role(RoleName=name), "Role", "GetRole")
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchEntity":
                return None
            raise
        inline = {}
        for policy_name in self._pages("iam", "list_role_policies", "PolicyNames", RoleName=name):
            answer = iam.get_role_policy(RoleName=name, PolicyName=policy_name)
            inline[policy_name] = result(answer, "PolicyDocument", "GetRolePolicy")
        attached = tuple(self._pages("iam", "list_attached_role_policies", "AttachedPolicies", lambda p: p["PolicyArn"],
                                     RoleName=name))
        boundary = (raw.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return Role(
            name=name,
            arn=result(raw, "Arn", "GetRole"),
            inline_policies=inline,
            attached_policy_arns=attached,
            permissions_boundary_arn=boundary,
            tags=_tag_map(raw.get("Tags")),
        )

    def _managed_policies(self, arns: Iterable[str]) -> dict[str, ManagedPolicy]:
        iam = self.client("iam")
        policies = {}
        for arn in sorted(arns):
            try:
                policy = result(iam.get_policy(PolicyArn=arn), "Policy", "GetPolicy")
                version = result(iam.get_policy_version(PolicyArn=arn, VersionId=result(policy, "DefaultVersionId",
                                                                                        "GetPolicy")),
                                 "PolicyVersion", "GetPolicyVersion")
            except ClientError as error:
                if error.response["Error"]["Code"] == "NoSuchEntity":
                    continue  # absent from the facts: the rule reports it missing
                raise
            policies[arn] = ManagedPolicy(
                arn, policy.get("PolicyName") or _policy_name(arn), result(version, "Document", "GetPolicyVersion")
            )
        return policies


@dataclass(frozen=True)
class DeployedRule:
    name: str  # the AWS Config rule name as deployed
    rule: str  # the pack's rule it is
    parameters: dict[str, Any]  # its InputParameters


def _input_parameters(raw: dict[str, Any]) -> dict[str, Any]:
    text = raw.get("InputParameters") or "{}"
    try:
        parameters = json.loads(text)
    except ValueError:
        parameters = None
    # AWS Config keeps InputParameters as a JSON object; anything else is recorded as it came
    return parameters if isinstance(parameters, dict) else {"InputParameters": text}


def pack_rule_name(config_rule_name: str, rule_names: Iterable[str]) -> str | None:
    """Which of the pack's rules a deployed Config rule is: the same name, or the name a conformance pack
    gives it (`lambda-vpc-eni-permissions-conformance-pack-a1b2c3d4`)."""
    for name in rule_names:
        if config_rule_name == name or config_rule_name.startswith(f"{name}-conformance-pack-"):
            return name
    return None


def _config_result(rule: str, raw: dict[str, Any]) -> EvaluationResult:
    qualifier = raw["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
    return EvaluationResult(
        rule=rule,
        resource_id=qualifier["ResourceId"],
        compliance=Compliance(raw["ComplianceType"]),
        annotation=raw.get("Annotation", ""),
        resource_type=qualifier.get("ResourceType", LAMBDA_RESOURCE_TYPE),
    )


def _role_from_details(raw: dict[str, Any]) -> Role:
    return Role(
        name=raw["RoleName"],
        arn=raw["Arn"],
        inline_policies={p["PolicyName"]: p["PolicyDocument"] for p in raw.get("RolePolicyList") or ()},
        attached_policy_arns=tuple(p["PolicyArn"] for p in raw.get("AttachedManagedPolicies") or ()),
        permissions_boundary_arn=(raw.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        tags=_tag_map(raw.get("Tags")),
    )


def _policy_from_details(raw: dict[str, Any]) -> ManagedPolicy | None:
    """A managed policy with its default version's document. moto leaves PolicyName out of this answer:
    key by ARN, name from the ARN."""
    default = next((v for v in raw.get("PolicyVersionList") or () if v.get("IsDefaultVersion")), None)
    if default is None:
        return None
    arn = raw["Arn"]
    return ManagedPolicy(arn, raw.get("PolicyName") or _policy_name(arn), default["Document"])


def _role_policy_arns(role: Role) -> set[str]:
    arns = set(role.attached_policy_arns)
    if role.permissions_boundary_arn:
        arns.add(role.permissions_boundary_arn)
    return arns
