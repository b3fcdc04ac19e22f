"""Drift: when a resource a function depends on changes, find the functions to re-evaluate.

| changed resource | functions re-evaluated |
|---|---|
| `AWS::IAM::Role` | those whose execution role it is |
| `AWS::IAM::Policy` | those whose role has it attached or as permissions boundary |
| `AWS::EC2::VPC` | those in any subnet of the VPC |
| `AWS::EC2::Subnet` | those in the subnet, and those whose default route leads to a NAT gateway in it |
| `AWS::EC2::RouteTable` | those in subnets using the table (explicitly, or as their VPC's main table), and those behind a NAT gateway in such a subnet; deleted: every function of its VPC |
| `AWS::EC2::NatGateway` | those in subnets whose route table routes to it |

This module decides which subnets of a VPC a change affects (pure, over one VPC's network facts);
`aws.drift.dependent_functions` reads the VPC and asks AWS Config for the functions in those subnets.
"""  # noqa: E501 (the table)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import NAT_GATEWAY_TYPE as NAT_GATEWAY
from .model import ROUTE_TABLE_TYPE as ROUTE_TABLE
from .model import SUBNET_TYPE as SUBNET
from .model import VPC_TYPE as VPC
from .model import Facts

DELETED = ("ResourceDeleted", "ResourceDeletedNotRecorded")


def _routes_to(network: Facts, subnet_id: str, nat_ids: set[str]) -> bool:
    table = network.route_table_for_subnet(subnet_id, network.subnets[subnet_id].vpc_id)
    return table is not None and any(route.target_id in nat_ids for route in table.routes)


def _behind_nat_gateways_in(network: Facts, subnet_ids: set[str]) -> set[str]:
    """Subnets whose route table leads to a NAT gateway placed in one of `subnet_ids`."""
    nat_ids = {g.nat_gateway_id for g in network.nat_gateways.values() if g.subnet_id in subnet_ids}
    return {sid for sid in network.subnets if nat_ids and _routes_to(network, sid, nat_ids)}


def affected_subnets(resource_type: str, resource_id: str, deleted: bool, network: Facts) -> set[str]:
    """The subnets of one VPC whose functions a change to this resource can affect."""
    everything = set(network.subnets)
    if resource_type == VPC:
        return everything
    if resource_type == SUBNET:
        return {resource_id} | _behind_nat_gateways_in(network, {resource_id})
    if resource_type == ROUTE_TABLE:
        if deleted or resource_id not in network.route_tables:
            return everything  # its old associations are gone: its subnets now use the main table
        using = {
            sid for sid, subnet in network.subnets.items()
            if (table := network.route_table_for_subnet(sid, subnet.vpc_id)) and table.route_table_id == resource_id
        }
        return using | _behind_nat_gateways_in(network, using)
    if resource_type == NAT_GATEWAY:
        return {sid for sid in network.subnets if _routes_to(network, sid, {resource_id})}
    raise ValueError(f"not a network resource type: {resource_type}")


def vpc_of(item: Mapping[str, Any]) -> str | None:
    """The VPC of a network configuration item: its own ID, `configuration.vpcId`, or a relationship
    (a deleted resource's item keeps its relationships but not its configuration)."""
    if item.get("resourceType") == VPC:
        return item.get("resourceId")
    configuration = item.get("configuration")
    if isinstance(configuration, Mapping) and isinstance(configuration.get("vpcId"), str):
        return configuration["vpcId"]
    for relationship in item.get("relationships") or ():
        if isinstance(relationship, Mapping) and relationship.get("resourceType") == VPC:
            return relationship.get("resourceId")
    return None
