"""CloudFormation intrinsic functions, resolved as far as a template alone (plus what the caller knows: the
region, the account, parameter values, exports) can resolve them.

A value that cannot be known before the stack exists (an Amazon-provided IPv6 block, a parameter without
default, an export of another stack read offline) resolves to `Unknown`, carrying why; anything built from
an `Unknown` is `Unknown` too, so no guess ever reaches a rule. A resource of the template resolves to a
placeholder ID shaped like AWS's (`subnet-PrivateA`, `rtb-PrivateRoutes`: the AWS prefix and the logical
ID, which has no hyphen and so never equals a real ID), so that the facts the rules read keep AWS's shapes
and the annotations name the template's resources.

Sources: "Intrinsic function reference" (intrinsic-function-reference.html), "Pseudo parameters reference"
(pseudo-parameter-reference.html), and each resource type's "Return values" section (Ref, Fn::GetAtt).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import PackError


class TemplateError(PackError, ValueError):
    """A template that is not valid CloudFormation (an intrinsic with the wrong shape, a missing resource)."""


@dataclass(frozen=True)
class Unknown:
    """A value not known before deployment; `reason` says what and why (shown in annotations)."""

    reason: str
    # True when even whether there is a value is unknown (a `Fn::If` on an unknown condition may give
    # AWS::NoValue); False: a value there will be, not known yet (an address AWS assigns)
    maybe_absent: bool = False

    def __str__(self) -> str:
        return f"<unknown: {self.reason}>"


@dataclass(frozen=True)
class ZoneOfRegion:
    """`!Select [i, !GetAZs '']`: the i-th Availability Zone of the region, in alphabetical order. Distinct
    indexes are distinct zones ("Fn::GetAZs returns an array that lists Availability Zones")."""

    index: int

    def __str__(self) -> str:
        return f"GetAZs[{self.index}]"


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

# Placeholder IDs: the AWS prefix of the resource type's ID, then the logical ID.
ID_PREFIXES = {
    "AWS::EC2::VPC": "vpc-",
    "AWS::EC2::Subnet": "subnet-",
    "AWS::EC2::RouteTable": "rtb-",
    "AWS::EC2::InternetGateway": "igw-",
    "AWS::EC2::EgressOnlyInternetGateway": "eigw-",
    "AWS::EC2::NatGateway": "nat-",
    "AWS::EC2::VPCEndpoint": "vpce-",
    "AWS::EC2::TransitGateway": "tgw-",
    "AWS::EC2::VPNGateway": "vgw-",
    "AWS::EC2::SecurityGroup": "sg-",
    "AWS::EC2::Instance": "i-",
    "AWS::EC2::NetworkInterface": "eni-",
    "AWS::EC2::VPCPeeringConnection": "pcx-",
    "AWS::EC2::CarrierGateway": "cagw-",
    "AWS::EC2::EIP": "eipalloc-",
    "AWS::EC2::PrefixList": "pl-",
}
PLACEHOLDER_ACCOUNT = "000000000000"  # offline, when no --account/credentials say which


@dataclass
class Context:
    """What resolution knows besides the template."""

    region: str | None = None
    account_id: str | None = None
    partition: str = "aws"
    stack_name: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)  # given values (override defaults)
    exports: Mapping[str, str] | None = None  # Fn::ImportValue: None, not read (offline)


def partition_of(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class Resolver:
    """Resolves values of one template. `resources`: logical ID -> resource (Type, Properties, ...)."""

    def __init__(self, template: Mapping[str, Any], context: Context):
        self.template = template
        self.context = context
        self.resources: Mapping[str, Any] = template.get("Resources") or {}
        if not isinstance(self.resources, Mapping):
            raise TemplateError("Resources must be an object")
        self.parameters: Mapping[str, Any] = template.get("Parameters") or {}
        self.mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self.conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._condition_values: dict[str, Any] = {}
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref, "Fn::GetAtt": self._get_att, "Fn::Sub": self._sub, "Fn::Join": self._join,
            "Fn::Select": self._select, "Fn::Split": self._split, "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map, "Fn::GetAZs": self._get_azs, "Fn::ImportValue": self._import,
            "Fn::Cidr": self._cidr, "Fn::Base64": lambda v: self.value(v), "Fn::Length": self._length,
            "Fn::ToJsonString": self._to_json, "Condition": self._condition_ref,
        }

    # ------------------------------------------------------------------ public

    def resource_type(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("Type") if isinstance(resource, Mapping) else None

    def physical_id(self, logical_id: str) -> str:
        """The placeholder ID `Ref` returns for a resource of the template (its name where Ref gives one)."""
        kind = self.resource_type(logical_id)
        if kind is None:
            raise TemplateError(f"Ref to {logical_id}: no such parameter or resource")
        props = self.properties(logical_id)
        if kind == "AWS::IAM::Role":
            name = self.value(props.get("RoleName"))
            return name if isinstance(name, str) else logical_id
        if kind == "AWS::IAM::ManagedPolicy":
            return self.policy_arn(logical_id)
        if kind == "AWS::Lambda::Function":
            name = self.value(props.get("FunctionName"))
            return name if isinstance(name, str) else logical_id
        return ID_PREFIXES.get(kind, "") + logical_id

    def account(self) -> str:
        return self.context.account_id or PLACEHOLDER_ACCOUNT

    def role_arn(self, logical_id: str) -> str:
        path = self.value(self.properties(logical_id).get("Path"))
        path = path if isinstance(path, str) and path.startswith("/") else "/"
        return f"arn:{self.context.partition}:iam::{self.account()}:role{path}{self.physical_id(logical_id)}"

    def policy_arn(self, logical_id: str) -> str:
        props = self.properties(logical_id)
        name = self.value(props.get("ManagedPolicyName"))
        path = self.value(props.get("Path"))
        path = path if isinstance(path, str) and path.startswith("/") else "/"
        return (f"arn:{self.context.partition}:iam::{self.account()}:policy{path}"
                f"{name if isinstance(name, str) else logical_id}")

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        props = (self.resources.get(logical_id) or {}).get("Properties") or {}
        if not isinstance(props, Mapping):
            raise TemplateError(f"{logical_id}: Properties must be an object")
        return props

    def active(self, logical_id: str) -> bool | Unknown:
        """Whether the resource is created: its Condition, if any."""
        name = (self.resources.get(logical_id) or {}).get("Condition")
        return True if name is None else self.condition(name)

    def condition(self, name: str) -> bool | Unknown:
        if name not in self._condition_values:
            if name not in self.conditions:
                raise TemplateError(f"condition {name} is not defined")
            self._condition_values[name] = Unknown(f"condition {name} (circular)")
            value = self.value(self.conditions[name])
            self._condition_values[name] = value if isinstance(value, bool | Unknown) else bool(value)
        return self._condition_values[name]

    def value(self, value: Any) -> Any:
        """The value, intrinsics resolved; `Unknown` where not knowable; NO_VALUE for AWS::NoValue."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, argument), = value.items()
                function = self._functions.get(key)
                if function is not None:
                    return function(argument)
                if key in ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"):
                    return self._condition_function(key, argument)
            resolved = {}
            for key, item in value.items():
                item = self.value(item)
                if item is not NO_VALUE:
                    resolved[str(key)] = item
            return resolved
        if isinstance(value, list):
            return [item for item in (self.value(item) for item in value) if item is not NO_VALUE]
        return value

    # ------------------------------------------------------------------ intrinsics

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"Ref takes a name, got {type(name).__name__}")
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self._parameter(name)
        return self.physical_id(name)

    def _pseudo(self, name: str) -> Any:
        context = self.context
        if name == "AWS::NoValue":
            return NO_VALUE
        if name == "AWS::Region":
            return context.region or Unknown("the region (pass --region)")
        if name == "AWS::AccountId":
            return context.account_id or Unknown("the account ID (pass --account or credentials)")
        if name == "AWS::Partition":
            return context.partition
        if name == "AWS::URLSuffix":
            return "amazonaws.com.cn" if context.partition == "aws-cn" else "amazonaws.com"
        if name in ("AWS::StackName", "AWS::StackId"):
            return context.stack_name or Unknown(f"{name} (known at deployment)")
        if name == "AWS::NotificationARNs":
            return []
        return None

    def _parameter(self, name: str) -> Any:
        declaration = self.parameters[name] or {}
        if name in self.context.parameters:
            raw = self.context.parameters[name]
        elif "Default" in declaration:
            raw = declaration["Default"]
        else:
            return Unknown(f"parameter {name} (no default; pass --parameter {name}=VALUE)")
        kind = str(declaration.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::Value"):
            return Unknown(f"parameter {name} (an SSM parameter, read at deployment)")
        if kind.startswith("List<") or kind == "CommaDelimitedList":
            return [item.strip() for item in str(raw).split(",")] if not isinstance(raw, list) else raw
        return raw if isinstance(raw, bool | int | float) and kind == "Number" else str(raw)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"Fn::GetAtt takes [LogicalId, Attribute], got {argument!r}")
        logical_id, attribute = argument[0], self.value(argument[1])
        kind = self.resource_type(logical_id)
        if kind is None:
            raise TemplateError(f"Fn::GetAtt: no resource {logical_id}")
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return self.role_arn(logical_id)
        if kind == "AWS::IAM::Role" and attribute == "RoleId":
            return Unknown(f"{logical_id}.RoleId (known after creation)")
        if kind == "AWS::EC2::Subnet" and attribute == "SubnetId":
            return self.physical_id(logical_id)
        if kind == "AWS::EC2::Subnet" and attribute == "VpcId":
            return self.value(self.properties(logical_id).get("VpcId"))
        if kind == "AWS::EC2::Subnet" and attribute == "AvailabilityZone":
            return self.value(self.properties(logical_id).get("AvailabilityZone")) or Unknown(
                f"{logical_id}.AvailabilityZone (chosen by AWS)")
        if kind == "AWS::EC2::VPC" and attribute == "VpcId":
            return self.physical_id(logical_id)
        if kind == "AWS::EC2::VPC" and attribute == "CidrBlock":
            return self.value(self.properties(logical_id).get("CidrBlock")) or Unknown(
                f"{logical_id}.CidrBlock (from an IPAM pool)")
        if kind in ("AWS::EC2::NatGateway", "AWS::EC2::RouteTable", "AWS::EC2::InternetGateway") and \
                attribute.endswith("Id"):
            return self.physical_id(logical_id)
        if kind == "AWS::EC2::SecurityGroup" and attribute == "GroupId":
            return self.physical_id(logical_id)
        if kind == "AWS::EC2::SecurityGroup" and attribute == "VpcId":
            return self.value(self.properties(logical_id).get("VpcId"))
        if kind == "AWS::EC2::VPCEndpoint" and attribute == "Id":
            return self.physical_id(logical_id)
        if kind == "AWS::IAM::ManagedPolicy" and attribute == "PolicyArn":
            return self.policy_arn(logical_id)
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return self.function_arn(logical_id)
        return Unknown(f"{logical_id}.{attribute} (known after creation)")

    def function_arn(self, logical_id: str) -> str | Unknown:
        region = self.context.region
        if not region or not self.context.account_id:
            return Unknown(f"{logical_id}.Arn (needs the region and account)")
        return f"arn:{self.context.partition}:lambda:{region}:{self.context.account_id}:function:" \
               f"{self.physical_id(logical_id)}"

    def _sub(self, argument: Any) -> Any:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text, variables = argument[0], argument[1] or {}
        else:
            raise TemplateError(f"Fn::Sub takes a string or [string, variables], got {argument!r}")
        unknown: list[Unknown] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = self.value(variables[name])
            elif "." in name and name.split(".", 1)[0] in self.resources:
                value = self._get_att(name.split(".", 1))
            else:
                value = self._ref(name)
            if isinstance(value, Unknown):
                unknown.append(value)
                return ""
            return str(value)

        result = re.sub(r"\$\{([^}]+)\}", replace, text)
        return unknown[0] if unknown else result

    def _join(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError("Fn::Join takes [delimiter, list]")
        delimiter, items = self.value(argument[0]), self.value(argument[1])
        for part in [delimiter, items, *(items if isinstance(items, list) else [])]:
            if isinstance(part, Unknown | ZoneOfRegion):
                return part if isinstance(part, Unknown) else Unknown(f"a zone name ({part})")
        if not isinstance(items, list):
            raise TemplateError("Fn::Join: the second item must be a list")
        return str(delimiter).join(str(item) for item in items)

    def _select(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError("Fn::Select takes [index, list]")
        index, items = self.value(argument[0]), self.value(argument[1])
        if isinstance(index, Unknown):
            return index
        try:
            index = int(index)
        except (TypeError, ValueError):
            raise TemplateError(f"Fn::Select: index {index!r} is not a number") from None
        if isinstance(items, _ZonesOfRegion):
            return ZoneOfRegion(index)
        if isinstance(items, Unknown):
            return items
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise TemplateError(f"Fn::Select: index {index} out of range")
        return items[index]

    def _split(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError("Fn::Split takes [delimiter, string]")
        delimiter, text = self.value(argument[0]), self.value(argument[1])
        if isinstance(text, Unknown):
            return text
        return str(text).split(str(delimiter))

    def _if(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError("Fn::If takes [condition, then, else]")
        holds = self.condition(argument[0])
        if isinstance(holds, Unknown):
            return Unknown(holds.reason, maybe_absent=True)
        return self.value(argument[1] if holds else argument[2])

    def _condition_ref(self, name: Any) -> Any:
        return self.condition(name)

    def _condition_function(self, key: str, argument: Any) -> Any:
        if not isinstance(argument, list):
            raise TemplateError(f"{key} takes a list")
        values = [self.value(item) for item in argument]
        unknown = next((v for v in values if isinstance(v, Unknown)), None)
        if key == "Fn::Equals":
            if len(values) != 2:
                raise TemplateError("Fn::Equals takes two values")
            return unknown or (str(values[0]) == str(values[1]))
        if key == "Fn::Not":
            return unknown or (not values[0])
        if key == "Fn::And":
            if any(v is False for v in values):
                return False
            return unknown or True
        if any(v is True for v in values):  # Fn::Or
            return True
        return unknown or False

    def _find_in_map(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) < 3:
            raise TemplateError("Fn::FindInMap takes [map, top key, second key]")
        keys = [self.value(item) for item in argument[:3]]
        unknown = next((k for k in keys if isinstance(k, Unknown)), None)
        if unknown:
            return unknown
        try:
            return self.value(self.mappings[keys[0]][keys[1]][keys[2]])
        except (KeyError, TypeError):
            if len(argument) == 4 and isinstance(argument[3], Mapping) and "DefaultValue" in argument[3]:
                return self.value(argument[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap: no {keys[0]}.{keys[1]}.{keys[2]}") from None

    def _get_azs(self, argument: Any) -> Any:
        return _ZonesOfRegion()

    def _import(self, argument: Any) -> Any:
        name = self.value(argument)
        if isinstance(name, Unknown):
            return name
        exports = self.context.exports
        if exports is None:
            return Unknown(f"export {name} (Fn::ImportValue; read with --region)")
        if name not in exports:
            return Unknown(f"export {name} (no such export in the account and region)")
        return exports[name]

    def _cidr(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError("Fn::Cidr takes [block, count, cidrBits]")
        block, count, bits = (self.value(item) for item in argument)
        for item in (block, count, bits):
            if isinstance(item, Unknown):
                return item
        try:
            network = ipaddress.ip_network(str(block), strict=False)
            prefix = network.max_prefixlen - int(bits)
            subnets = network.subnets(new_prefix=prefix)
            return [str(next(subnets)) for _ in range(int(count))]
        except (ValueError, StopIteration) as error:
            raise TemplateError(f"Fn::Cidr: {error}") from None

    def _length(self, argument: Any) -> Any:
        value = self.value(argument)
        return value if isinstance(value, Unknown) else len(value)

    def _to_json(self, argument: Any) -> Any:
        value = self.value(argument)
        return value if isinstance(value, Unknown) else json.dumps(value, separators=(",", ":"))


class _ZonesOfRegion(list):
    """Fn::GetAZs: the region's zones, not known offline; only `Fn::Select` of it means something."""


def contains_unknown(value: Any) -> Unknown | None:
    """The first Unknown inside a value (a policy document, a list), if any."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Mapping):
        return next((u for u in (contains_unknown(v) for v in value.values()) if u), None)
    if isinstance(value, list):
        if isinstance(value, _ZonesOfRegion):
            return Unknown("the region's Availability Zones (Fn::GetAZs)")
        return next((u for u in (contains_unknown(v) for v in value) if u), None)
    if isinstance(value, ZoneOfRegion):
        return None
    return None
