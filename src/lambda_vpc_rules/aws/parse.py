"""AWS answers and AWS Config configuration items -> the plain model the rules read. Pure: no client here.

AWS Config's item for `AWS::Lambda::Function` carries the function's configuration in camelCase
(`configuration.vpcConfig.subnetIds`); the Lambda API answers in PascalCase (`VpcConfig.SubnetIds`).
Both end up as the same plain `LambdaFunction`. An item a parser cannot read raises (KeyError, TypeError,
`MalformedInput`): the reads turn that into `UnreadableAnswer`, the handler into `InvalidEvent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.model import (
    LambdaFunction,
    ManagedPolicy,
    NatGateway,
    Role,
    Route,
    RouteTable,
    Subnet,
    TargetKind,
    Vpc,
    VpcEndpoint,
)
from ..errors import PackError


class MalformedInput(PackError, ValueError):
    """An event or configuration item that does not have the shape AWS documents."""


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedInput(f"{where} must be a list of strings, got {type(value).__name__}")
    return tuple(value)


def _optional_bool(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise MalformedInput(f"{where} must be a boolean, got {type(value).__name__}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedInput(f"{where} must be an object, got {type(value).__name__}")
    return value


def _tags(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    tags = _mapping(value, where)
    return {str(key): str(val) for key, val in tags.items()}


def from_configuration_item(item: Mapping[str, Any]) -> LambdaFunction:
    """A function from an AWS Config configuration item (change notification or history)."""
    item = _mapping(item, "configurationItem")
    configuration = _mapping(item.get("configuration"), "configuration")
    name = configuration.get("functionName") or item.get("resourceName") or item.get("resourceId")
    if not isinstance(name, str) or not name:
        raise MalformedInput("configuration item has no function name (configuration.functionName, resourceId)")
    vpc = _mapping(configuration.get("vpcConfig"), "configuration.vpcConfig")
    return LambdaFunction(
        name=name,
        arn=configuration.get("functionArn") or item.get("ARN"),
        role_arn=configuration.get("role"),
        subnet_ids=_string_list(vpc.get("subnetIds"), "vpcConfig.subnetIds"),
        security_group_ids=_string_list(vpc.get("securityGroupIds"), "vpcConfig.securityGroupIds"),
        ipv6_allowed_for_dual_stack=_optional_bool(
            vpc.get("ipv6AllowedForDualStack"), "vpcConfig.ipv6AllowedForDualStack"
        ),
        tags=_tags(item.get("tags"), "tags"),
    )


def from_query_result(result: Mapping[str, Any]) -> LambdaFunction:
    """A function from one row of an AWS Config advanced query (`SelectResourceConfig`), whose tags come
    as a list of {key, value}, not the object a configuration item holds."""
    result = _mapping(result, "query result")
    tags = result.get("tags")
    if isinstance(tags, list):
        tags = {str(tag.get("key")): str(tag.get("value")) for tag in tags if isinstance(tag, Mapping)}
    return from_configuration_item({**result, "ARN": result.get("arn"), "tags": tags})


def from_lambda_api(configuration: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> LambdaFunction:
    """A function from Lambda's ListFunctions / GetFunctionConfiguration answer."""
    vpc = configuration.get("VpcConfig") or {}
    return LambdaFunction(
        name=configuration["FunctionName"],
        arn=configuration.get("FunctionArn"),
        role_arn=configuration.get("Role"),
        subnet_ids=tuple(vpc.get("SubnetIds") or ()),
        security_group_ids=tuple(vpc.get("SecurityGroupIds") or ()),
        ipv6_allowed_for_dual_stack=vpc.get("Ipv6AllowedForDualStack"),
        tags=dict(tags) if tags is not None else None,
    )


# ------------------------------------------------------------ EC2 and IAM answers


_TARGET_FIELDS = (  # (route field, kind), in the order a route is read
    ("NatGatewayId", TargetKind.NAT_GATEWAY),
    ("TransitGatewayId", TargetKind.TRANSIT_GATEWAY),
    ("EgressOnlyInternetGatewayId", TargetKind.EGRESS_ONLY_INTERNET_GATEWAY),
    ("InstanceId", TargetKind.NAT_INSTANCE),
    ("GatewayId", None),  # by its ID's prefix
    ("NetworkInterfaceId", TargetKind.NAT_INSTANCE),
    ("VpcPeeringConnectionId", TargetKind.VPC_PEERING_CONNECTION),
    ("LocalGatewayId", TargetKind.LOCAL_GATEWAY),
    ("CarrierGatewayId", TargetKind.CARRIER_GATEWAY),
    ("CoreNetworkArn", TargetKind.CORE_NETWORK),
)
_GATEWAY_PREFIXES = (("igw-", TargetKind.INTERNET_GATEWAY), ("vpce-", TargetKind.VPC_ENDPOINT),
                     ("vgw-", TargetKind.VIRTUAL_PRIVATE_GATEWAY))


def route_target_kind(route: dict[str, Any]) -> tuple[TargetKind, str | None]:
    """What a route sends traffic to, as (kind, target id)."""
    for key, kind in _TARGET_FIELDS:
        target = route.get(key)
        if not target:
            continue
        if kind is not None:
            return kind, target
        if target == "local":
            return TargetKind.LOCAL, target
        return next((k for prefix, k in _GATEWAY_PREFIXES if target.startswith(prefix)), TargetKind.GATEWAY), target
    return TargetKind.UNKNOWN, None


def vpc(raw: dict[str, Any]) -> Vpc:
    return Vpc(vpc_id=raw["VpcId"], instance_tenancy=raw.get("InstanceTenancy", "default"))


def subnet(raw: dict[str, Any]) -> Subnet:
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
        tags=tag_map(raw.get("Tags")),
    )


def tag_map(tags: Any) -> dict[str, str]:
    """AWS's [{"Key": k, "Value": v}] as {k: v}."""
    return {tag["Key"]: tag.get("Value", "") for tag in tags or () if isinstance(tag, dict) and "Key" in tag}


def route_table(raw: dict[str, Any]) -> RouteTable:
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
            Route(destination=destination, target_id=target, target_kind=kind, state=route.get("State", "active"),
                  origin=route.get("Origin", "CreateRoute"))
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


def nat_gateway(raw: dict[str, Any]) -> NatGateway:
    return NatGateway(
        nat_gateway_id=raw["NatGatewayId"],
        state=raw.get("State", "unknown"),
        subnet_id=raw.get("SubnetId"),
        connectivity_type=raw.get("ConnectivityType", "public"),
        vpc_id=raw.get("VpcId"),
        availability_mode=raw.get("AvailabilityMode", "zonal"),
        route_table_id=raw.get("RouteTableId"),
    )


def vpc_endpoint(raw: dict[str, Any]) -> VpcEndpoint:
    return VpcEndpoint(
        vpc_endpoint_id=raw["VpcEndpointId"],
        vpc_id=raw.get("VpcId"),
        endpoint_type=raw.get("VpcEndpointType", "unknown"),
        state=raw.get("State", "unknown"),
        subnet_ids=tuple(raw.get("SubnetIds") or ()),
        service_name=raw.get("ServiceName"),
    )


def policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def role_from_details(raw: dict[str, Any]) -> Role:
    return Role(
        name=raw["RoleName"],
        arn=raw["Arn"],
        inline_policies={p["PolicyName"]: p["PolicyDocument"] for p in raw.get("RolePolicyList") or ()},
        attached_policy_arns=tuple(p["PolicyArn"] for p in raw.get("AttachedManagedPolicies") or ()),
        permissions_boundary_arn=(raw.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        tags=tag_map(raw.get("Tags")),
    )


def policy_from_details(raw: dict[str, Any]) -> ManagedPolicy | None:
    """A managed policy with its default version's document. moto leaves PolicyName out of this answer:
    key by ARN, name from the ARN."""
    default = next((v for v in raw.get("PolicyVersionList") or () if v.get("IsDefaultVersion")), None)
    if default is None:
        return None
    arn = raw["Arn"]
    return ManagedPolicy(arn, raw.get("PolicyName") or policy_name(arn), default["Document"])
