"""Drift: when a resource a function depends on changes, find the functions to re-evaluate.

| changed resource | functions re-evaluated |
|---|---|
| `AWS::IAM::Role` | those whose execution role it is |
| `AWS::IAM::Policy` | those whose role has it attached or as permissions boundary |
| `AWS::EC2::VPC` | those in any subnet of the VPC |
| `AWS::EC2::Subnet` | those in the subnet, and those whose egress passes through it (a NAT gateway or a firewall / Gateway Load Balancer endpoint in it) |
| `AWS::EC2::RouteTable` | those in subnets using the table (explicitly, or as their VPC's main table), and those whose egress passes through it (a NAT gateway's or a firewall subnet's table, a regional NAT gateway's own table); deleted: every function of its VPC |
| `AWS::EC2::NatGateway` | those whose egress passes through it |
| `AWS::EC2::VPCEndpoint` | those whose egress passes through it (a firewall or Gateway Load Balancer endpoint, a gateway endpoint) |
| `AWS::EC2::PrefixList` | those whose egress passes through a route table that refers to it, in every VPC that does |

"Passes through" is `egress.dependencies`: everything any route of the subnet's route table leads to,
followed through NAT gateways and endpoints to their own route tables, over all routes rather than only
the winning ones (a change can make another route win). This module decides which subnets a change
affects (pure, over the network facts of the VPCs concerned); `aws.drift.dependent_functions` reads those
VPCs (three or four EC2 reads: the fourth, endpoints, when a route targets one; for a prefix list, one more
to find the VPCs that refer to it) and asks AWS Config for the functions in the subnets.
"""  # noqa: E501 (the table)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .egress import dependencies
from .model import NAT_GATEWAY_TYPE as NAT_GATEWAY
from .model import PREFIX_LIST_TYPE as PREFIX_LIST
from .model import ROUTE_TABLE_TYPE as ROUTE_TABLE
from .model import SUBNET_TYPE as SUBNET
from .model import VPC_ENDPOINT_TYPE as VPC_ENDPOINT
from .model import VPC_TYPE as VPC
from .model import Facts

DELETED = ("ResourceDeleted", "ResourceDeletedNotRecorded")


def affected_subnets(resource_type: str, resource_id: str, deleted: bool, network: Facts) -> set[str]:
    """The subnets (of the VPCs in `network`) whose functions a change to this resource can affect."""
    everything = set(network.subnets)
    if resource_type == VPC:
        return everything
    if resource_type == ROUTE_TABLE and (deleted or resource_id not in network.route_tables):
        return everything  # its old associations are gone: its subnets now use the main table
    if resource_type not in (SUBNET, ROUTE_TABLE, NAT_GATEWAY, VPC_ENDPOINT, PREFIX_LIST):
        raise ValueError(f"not a network resource type: {resource_type}")
    passing = {sid for sid in network.subnets if resource_id in dependencies(network, sid)}
    return passing | ({resource_id} if resource_type == SUBNET else set())


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
