"""Drift reads: the functions that depend on a changed resource (the table is in `core.drift`).

Three or four EC2 reads for the changed resource's VPC (kept by the `FactReader`, so the checks that follow
reuse them; for a prefix list, one more to find the VPCs that refer to it), one AWS Config advanced query
per 50 subnets or roles (a page per 100 functions), and for a policy the roles that use it - never a
listing of every function.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.drift import DELETED, affected_subnets, vpc_of
from ..core.model import LAMBDA_RESOURCE_TYPE, POLICY_TYPE, PREFIX_LIST_TYPE, ROLE_TYPE, LambdaFunction
from .facts import FactReader, chunks
from .parse import from_query_result

QUERY_VALUES_LIMIT = 50  # values per advanced query: its expression may hold at most 4,096 characters
LAMBDA_QUERY_FIELDS = "resourceName, arn, configuration.functionName, configuration.role, configuration.vpcConfig, tags"


def dependent_functions(reader: FactReader, item: Mapping[str, Any]) -> list[LambdaFunction]:
    """The functions to re-evaluate after this configuration item's change (`core.drift`'s table)."""
    resource_type, resource_id = item.get("resourceType"), item.get("resourceId")
    arn = item.get("ARN") or item.get("arn")
    if resource_type == ROLE_TYPE:
        return functions_with_roles(reader, [arn]) if arn else []
    if resource_type == POLICY_TYPE:
        return functions_with_roles(reader, roles_using_policy(reader, arn)) if arn else []
    if not isinstance(resource_id, str):
        return []
    if resource_type == PREFIX_LIST_TYPE:  # regional, in no VPC: the VPCs whose route tables refer to it
        vpc_ids = vpcs_routing_to_prefix_list(reader, resource_id)
    else:
        vpc_ids = [vpc_id] if (vpc_id := vpc_of(item)) else []
    if not vpc_ids:
        return []
    deleted = item.get("configurationItemStatus") in DELETED
    subnets = affected_subnets(resource_type, resource_id, deleted, reader.vpc_network(vpc_ids))
    return functions_in_subnets(reader, sorted(subnets)) if subnets else []


def vpcs_routing_to_prefix_list(reader: FactReader, prefix_list_id: str) -> list[str]:
    """The VPCs with a route table that refers to this prefix list: one filtered DescribeRouteTables."""
    return sorted(set(reader.clients.pages("ec2", "describe_route_tables", "RouteTables", lambda raw: raw["VpcId"],
                                           Filters=[{"Name": "route.destination-prefix-list-id",
                                                     "Values": [prefix_list_id]}])))


def functions_in_subnets(reader: FactReader, subnet_ids: Iterable[str]) -> list[LambdaFunction]:
    """The functions attached to any of these subnets, as AWS Config recorded them: one advanced query (a
    page per 100 functions), not a listing of every function."""
    return _query_functions(reader, "configuration.vpcConfig.subnetIds", subnet_ids)


def functions_with_roles(reader: FactReader, role_arns: Iterable[str]) -> list[LambdaFunction]:
    return _query_functions(reader, "configuration.role", role_arns)


def roles_using_policy(reader: FactReader, policy_arn: str) -> list[str]:
    """ARNs of the roles that use this managed policy (attached, or as permissions boundary: without a
    PolicyUsageFilter IAM lists both). ListEntitiesForPolicy names them; the reader reads them, so the checks
    that follow find them already read."""
    names = set(reader.clients.pages("iam", "list_entities_for_policy", "PolicyRoles", lambda role: role["RoleName"],
                                     PolicyArn=policy_arn, EntityFilter="Role"))
    return [role.arn for role in reader.roles(names)[0].values()]


def _query_functions(reader: FactReader, field: str, values: Iterable[str]) -> list[LambdaFunction]:
    functions: dict[str, LambdaFunction] = {}
    for chunk in chunks(sorted(set(values)), QUERY_VALUES_LIMIT):
        quoted = ", ".join("'" + value.replace("'", "") + "'" for value in chunk)
        expression = (
            f"SELECT {LAMBDA_QUERY_FIELDS} WHERE resourceType = '{LAMBDA_RESOURCE_TYPE}' AND {field} IN ({quoted})"
        )
        for function in reader.clients.pages("config", "select_resource_config", "Results",
                                             lambda text: from_query_result(json.loads(text)), Expression=expression):
            functions[function.name] = function
    return [functions[name] for name in sorted(functions)]
