"""Turn AWS Config configuration items and Lambda API answers into `LambdaFunction`s.

AWS Config's item for `AWS::Lambda::Function` carries the function's configuration in camelCase
(`configuration.vpcConfig.subnetIds`); the Lambda API answers in PascalCase (`VpcConfig.SubnetIds`).
Both end up as the same plain `LambdaFunction`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import LambdaFunction


class MalformedInput(ValueError):
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
