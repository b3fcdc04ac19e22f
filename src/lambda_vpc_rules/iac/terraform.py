"""Terraform plans (`terraform show -json PLANFILE`, format 1.x) -> the same facts as a CloudFormation
template, by writing the plan's AWS resources as the CloudFormation resources they are
(`aws_subnet` -> `AWS::EC2::Subnet`...) and judging them through `cloudformation.extract`.

A resource's values are its planned values (`resource_changes[].change.after`; resources deleted or left
out of the plan are not created). A value Terraform knows only after apply (`after_unknown`) is followed
through the configuration's `references` to the resource it comes from (`aws_subnet.private[0].id` ->
that subnet; `aws_subnet.private.id` over a `count` in a list -> all its instances), and is otherwise
unknown. Sources: Terraform "JSON Output Format" (internals/json-format: values representation,
`after_unknown`, configuration representation with `references`), and the AWS provider's resource
arguments (registry.terraform.io/providers/hashicorp/aws).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .cloudformation import MAIN_ROUTE_TABLE_TYPE
from .resolve import TemplateError, Unknown

FUNCTION = "aws_lambda_function"
# Terraform type -> (CloudFormation type, {terraform argument: CloudFormation property})
TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "aws_vpc": ("AWS::EC2::VPC", {"cidr_block": "CidrBlock", "instance_tenancy": "InstanceTenancy"}),
    "aws_vpc_ipv4_cidr_block_association": ("AWS::EC2::VPCCidrBlock", {"vpc_id": "VpcId", "cidr_block": "CidrBlock"}),
    "aws_subnet": ("AWS::EC2::Subnet", {
        "vpc_id": "VpcId", "cidr_block": "CidrBlock", "ipv6_cidr_block": "Ipv6CidrBlock",
        "availability_zone": "AvailabilityZone", "availability_zone_id": "AvailabilityZoneId",
        "ipv6_native": "Ipv6Native", "map_public_ip_on_launch": "MapPublicIpOnLaunch"}),
    "aws_route_table": ("AWS::EC2::RouteTable", {"vpc_id": "VpcId"}),
    # the VPC's main route table, managed: its routes are the plan's (default_route_table_id names the VPC)
    "aws_default_route_table": ("AWS::EC2::RouteTable", {"default_route_table_id": "VpcId"}),
    "aws_main_route_table_association": (MAIN_ROUTE_TABLE_TYPE, {"vpc_id": "VpcId", "route_table_id": "RouteTableId"}),
    "aws_route": ("AWS::EC2::Route", {
        "route_table_id": "RouteTableId", "destination_cidr_block": "DestinationCidrBlock",
        "destination_ipv6_cidr_block": "DestinationIpv6CidrBlock",
        "destination_prefix_list_id": "DestinationPrefixListId",
        "gateway_id": "GatewayId", "nat_gateway_id": "NatGatewayId",
        "egress_only_gateway_id": "EgressOnlyInternetGatewayId",
        "transit_gateway_id": "TransitGatewayId", "vpc_endpoint_id": "VpcEndpointId",
        "network_interface_id": "NetworkInterfaceId", "vpc_peering_connection_id": "VpcPeeringConnectionId",
        "carrier_gateway_id": "CarrierGatewayId", "core_network_arn": "CoreNetworkArn",
        "local_gateway_id": "LocalGatewayId"}),
    "aws_route_table_association": ("AWS::EC2::SubnetRouteTableAssociation",
                                    {"subnet_id": "SubnetId", "route_table_id": "RouteTableId"}),
    "aws_internet_gateway": ("AWS::EC2::InternetGateway", {}),
    "aws_egress_only_internet_gateway": ("AWS::EC2::EgressOnlyInternetGateway", {}),
    "aws_nat_gateway": ("AWS::EC2::NatGateway", {"subnet_id": "SubnetId", "connectivity_type": "ConnectivityType",
                                                 "vpc_id": "VpcId", "availability_mode": "AvailabilityMode"}),
    "aws_vpc_endpoint": ("AWS::EC2::VPCEndpoint", {"vpc_id": "VpcId", "vpc_endpoint_type": "VpcEndpointType",
                                                   "subnet_ids": "SubnetIds", "service_name": "ServiceName"}),
    "aws_security_group": ("AWS::EC2::SecurityGroup", {"vpc_id": "VpcId"}),
    "aws_iam_role": ("AWS::IAM::Role", {"name": "RoleName", "path": "Path", "managed_policy_arns": "ManagedPolicyArns",
                                        "permissions_boundary": "PermissionsBoundary"}),
    "aws_iam_policy": ("AWS::IAM::ManagedPolicy", {"name": "ManagedPolicyName", "path": "Path",
                                                   "policy": "PolicyDocument"}),
    "aws_iam_role_policy": ("AWS::IAM::RolePolicy", {"role": "RoleName", "name": "PolicyName",
                                                     "policy": "PolicyDocument"}),
    FUNCTION: ("AWS::Lambda::Function", {"function_name": "FunctionName", "role": "Role"}),
}
ROUTE_ARGUMENTS = {"cidr_block": "destination_cidr_block", "ipv6_cidr_block": "destination_ipv6_cidr_block",
                   "destination_prefix_list_id": "destination_prefix_list_id"}
# Optional and computed arguments of aws_iam_role: unknown in a plan when not configured, then what the
# separate attachments (aws_iam_role_policy_attachment, aws_iam_role_policy) make them.
COMPUTED = {"managed_policy_arns", "inline_policy"}
ATTRIBUTES = {"arn": "Arn"}  # what a reference's attribute becomes (others: Ref, the ID)


def _logical(address: str) -> str:
    """A CloudFormation-style logical ID (letters and digits) for a Terraform address."""
    return re.sub(r"[^A-Za-z0-9]", "", address.title())


def _instances(plan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """address -> {type, after, unknown} of the managed AWS resources the plan creates or keeps."""
    found = {}
    for change in plan.get("resource_changes") or []:
        if change.get("mode") != "managed" or not isinstance(change.get("change"), Mapping):
            continue
        actions = change["change"].get("actions") or []
        if actions == ["delete"] or "after" not in change["change"] or change["change"]["after"] is None:
            continue
        found[change["address"]] = {"type": change.get("type"), "after": change["change"]["after"] or {},
                                    "unknown": change["change"].get("after_unknown") or {}}
    return found


def _configuration(plan: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Resource address (without instance keys, module prefix included) -> its configuration expressions."""
    found: dict[str, Mapping[str, Any]] = {}

    def walk(module: Mapping[str, Any], prefix: str) -> None:
        for resource in module.get("resources") or []:
            found[prefix + resource["address"]] = resource.get("expressions") or {}
        for name, call in (module.get("module_calls") or {}).items():
            walk(call.get("module") or {}, f"{prefix}module.{name}.")

    walk((plan.get("configuration") or {}).get("root_module") or {}, "")
    return found


def _base(address: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", address)


class _Translator:
    def __init__(self, plan: Mapping[str, Any]):
        self.instances = _instances(plan)
        self.configuration = _configuration(plan)
        self.logical = {address: _logical(address) for address in self.instances}

    def _reference(self, references: Sequence[str], module: str, many: bool) -> Any:
        """What a list of configuration references points to: a CloudFormation intrinsic (a list of them for a
        list argument), or Unknown. Terraform lists every reference of an expression, the attribute's first
        (`aws_subnet.a.id`, then `aws_subnet.a`)."""
        found: list[Any] = []
        for reference in references:
            match = re.fullmatch(r"((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)((?:\[[^\]]+\])?)\.([a-z_]+)", reference)
            if not match:
                continue
            resource, index, attribute = match.groups()
            target = module + resource + index
            if target in self.instances:
                targets = [target]
            else:
                targets = sorted(a for a in self.instances if _base(a) == module + resource)
                if targets and not many:
                    return Unknown(f"{reference} (one of {len(targets)} instances)")
            for address in targets:
                intrinsic = self._intrinsic(address, attribute)
                if intrinsic not in found:
                    found.append(intrinsic)
            if found and not many:
                return found[0]
        if not found:
            return Unknown(f"{', '.join(references) or 'a value'} (known after apply)")
        return found if many else found[0]

    def _intrinsic(self, address: str, attribute: str) -> Any:
        logical = self.logical[address]
        kind = self.instances[address]["type"]
        if attribute == "arn" and kind == "aws_iam_policy":
            return {"Ref": logical}  # a managed policy's Ref is its ARN
        if attribute in ATTRIBUTES:
            return {"Fn::GetAtt": [logical, ATTRIBUTES[attribute]]}
        if attribute in ("id", "name", "allocation_id") or (kind == "aws_vpc" and attribute in (
                "default_route_table_id", "main_route_table_id")):
            return {"Ref": logical}  # (a VPC's main route table stands for the VPC: aws_default_route_table)
        return Unknown(f"{address}.{attribute} (known after apply)")

    def _value(self, address: str, values: Mapping[str, Any], unknown: Any, expressions: Mapping[str, Any],
               key: str) -> Any:
        module = address.rsplit("aws_", 1)[0] if address.startswith("module.") else ""
        value = values.get(key)
        flagged = unknown.get(key) if isinstance(unknown, Mapping) else None
        expression = expressions.get(key) if isinstance(expressions, Mapping) else None
        references = (expression or {}).get("references") if isinstance(expression, Mapping) else None
        if flagged is True:
            if expression is None and key in COMPUTED:
                return None  # not configured: the provider fills it in from the attachments, read separately
            return self._reference(references or [], module, many=isinstance(value, list) or key.endswith("_ids"))
        if isinstance(value, list) and isinstance(flagged, list) and any(item is True for item in flagged):
            if references:
                resolved = self._reference(references, module, many=True)
                return resolved if isinstance(resolved, list | Unknown) else [resolved]
            return Unknown(f"{key} of {address} (known after apply)")
        return value

    def template(self) -> dict[str, Any]:
        resources: dict[str, Any] = {}
        attachments: list[tuple[Any, Any]] = []
        for address, instance in self.instances.items():
            kind, after, unknown = instance["type"], instance["after"], instance["unknown"]
            expressions = self.configuration.get(_base(address), {})
            logical = self.logical[address]
            if kind == "aws_iam_role_policy_attachment":
                attachments.append((self._value(address, after, unknown, expressions, "role"),
                                    self._value(address, after, unknown, expressions, "policy_arn")))
                continue
            if kind not in TYPES:
                continue
            cfn_type, arguments = TYPES[kind]
            props = {}
            for argument, prop in arguments.items():
                value = self._value(address, after, unknown, expressions, argument)
                if value is not None:
                    props[prop] = value
            if kind in ("aws_route_table", "aws_default_route_table"):
                self._inline_routes(address, logical, after, unknown, resources)
            if kind == "aws_default_route_table":
                resources[logical + "Main"] = {"Type": MAIN_ROUTE_TABLE_TYPE, "Properties": {
                    "VpcId": props.get("VpcId"), "RouteTableId": {"Ref": logical}}}
            if kind == "aws_vpc" and after.get("assign_generated_ipv6_cidr_block"):
                resources[logical + "Ipv6"] = {"Type": "AWS::EC2::VPCCidrBlock", "Properties": {
                    "VpcId": {"Ref": logical}, "AmazonProvidedIpv6CidrBlock": True}}
            if kind == "aws_iam_role":
                props["Policies"] = [{"PolicyName": block.get("name"), "PolicyDocument": self._document(block.get(
                    "policy"))} for block in after.get("inline_policy") or [] if isinstance(block, Mapping)
                    and block.get("name")]
            if "PolicyDocument" in props:
                props["PolicyDocument"] = self._document(props["PolicyDocument"])
            if kind == FUNCTION:
                props.update(self._function(address, after, unknown, expressions))
            resources[logical] = {"Type": cfn_type, "Properties": props, "Address": address}
        roles_by_name = {}
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::IAM::Role":
                name = resource["Properties"].get("RoleName")
                roles_by_name[name if isinstance(name, str) else logical] = logical
        for role, policy in attachments:
            target = role.get("Ref") if isinstance(role, Mapping) else roles_by_name.get(role)
            if target in resources:
                resources[target]["Properties"].setdefault("ManagedPolicyArns", []).append(policy)
        return {"Resources": resources}

    def _inline_routes(self, address: str, logical: str, after: Mapping[str, Any], unknown: Any,
                       resources: dict[str, Any]) -> None:
        routes = after.get("route") or []
        flagged = unknown.get("route") if isinstance(unknown, Mapping) else None
        if flagged is True:
            resources[logical + "Routes"] = {"Type": "AWS::EC2::Route", "Properties": {
                "RouteTableId": {"Ref": logical}, "DestinationCidrBlock": Unknown(f"the routes of {address}")}}
            return
        route_expressions = self.configuration.get(_base(address), {}).get("route")
        for index, route in enumerate(routes):
            if not isinstance(route, Mapping):
                continue
            props: dict[str, Any] = {"RouteTableId": {"Ref": logical}}
            route_unknown = flagged[index] if isinstance(flagged, list) and index < len(flagged) else {}
            # the configuration's route blocks line up with the plan's only when they are written out one by one
            expressions = route_expressions[index] if isinstance(route_expressions, list) and len(
                route_expressions) == len(routes) else {}
            for argument in route:
                name = ROUTE_ARGUMENTS.get(argument, argument)
                prop = TYPES["aws_route"][1].get(name)
                value = self._value(address, route, route_unknown, expressions, argument)
                if prop and value not in (None, ""):
                    props[prop] = value
            resources[f"{logical}Route{index}"] = {"Type": "AWS::EC2::Route", "Properties": props}

    @staticmethod
    def _document(policy: Any) -> Any:
        if isinstance(policy, str):
            try:
                return json.loads(policy)
            except ValueError:
                raise TemplateError(f"a policy is not JSON: {policy[:60]!r}") from None
        return policy if policy is not None else Unknown("a policy document (known after apply)")

    def _function(self, address: str, after: Mapping[str, Any], unknown: Any, expressions: Mapping[str, Any]
                  ) -> dict[str, Any]:
        props: dict[str, Any] = {}
        blocks = after.get("vpc_config") or []
        flagged = unknown.get("vpc_config") if isinstance(unknown, Mapping) else None
        if flagged is True:
            props["VpcConfig"] = Unknown(f"the VPC configuration of {address}")
        elif blocks:
            block = blocks[0]
            block_unknown = flagged[0] if isinstance(flagged, list) and flagged else {}
            block_expressions = (expressions.get("vpc_config") or [{}])[0] if isinstance(
                expressions.get("vpc_config"), list) else {}
            vpc: dict[str, Any] = {}
            for argument, prop in (("subnet_ids", "SubnetIds"), ("security_group_ids", "SecurityGroupIds"),
                                   ("ipv6_allowed_for_dual_stack", "Ipv6AllowedForDualStack")):
                value = self._value(address, block, block_unknown, block_expressions, argument)
                if value is not None:
                    vpc[prop] = value
            if vpc.get("SubnetIds"):
                props["VpcConfig"] = vpc
        tags = after.get("tags") or {}
        if isinstance(tags, Mapping):
            props["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
        return props


def plan_template(plan: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The plan as a CloudFormation template, and logical ID -> Terraform address."""
    if not isinstance(plan.get("resource_changes"), list):
        raise TemplateError("not a Terraform plan: no resource_changes (use `terraform show -json PLANFILE`)")
    translator = _Translator(plan)
    template = translator.template()
    addresses = {logical: resource.pop("Address", logical) for logical, resource in template["Resources"].items()}
    return template, addresses

