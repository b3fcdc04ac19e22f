"""A CloudFormation template (SAM already transformed) -> the functions it would create and the facts the
rules read about them, in the shapes `aws.parse` gives AWS's answers (so one parser serves both).

What the template defines becomes facts; what it names but does not define (an existing subnet, role,
VPC, NAT gateway, managed policy) is listed in `Extraction.external`, for the account reads (`check`) or
to stay unknown offline; a value that cannot be known before deployment is an `Unknown` whose reason goes
to the function's `unknown` notes, by the fact kind it affects.

The state of what the stack creates is the state CloudFormation leaves it in once the stack exists: a NAT
gateway `available` (CloudFormation waits for it: AWS::EC2::NatGateway "Return values"/stabilization),
routes `active`, every route table with its `local` routes for the VPC's CIDR blocks, and a VPC's main
route table holding only those (VPC guide, "Route tables": "Main route table - The route table that
automatically comes with your VPC"). A gateway VPC endpoint's routes (`RouteTableIds`) are left out: they
send only the service's prefix list to the endpoint, so they never decide whether a public destination
leaves through a NAT gateway or goes to an internet gateway (the private-subnet rule's "gateway VPC
endpoint" row: those destinations are fine either way).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..aws import parse
from ..core.model import Fact, Facts, LambdaFunction, ManagedPolicy, PrefixList, Role
from ..core.rules.multi_az import MULTI_AZ
from ..core.unknown import Unknowns
from .policies import allow_only_known
from .resolve import NO_VALUE, Resolver, TemplateError, Unknown, ZoneOfRegion, contains_unknown

FUNCTION_TYPE = "AWS::Lambda::Function"
# Not a CloudFormation type: what a Terraform plan's main route table association becomes (iac/terraform.py)
MAIN_ROUTE_TABLE_TYPE = "LambdaVpcRules::EC2::MainRouteTableAssociation"


@dataclass
class TemplateFunction:
    """A function the template would create: the model the rules read, where it is, what is unknown."""

    logical_id: str
    function: LambdaFunction
    line: int | None = None
    unknowns: Unknowns = field(default_factory=Unknowns)


@dataclass
class External:
    """What the template names but does not define: read from the account, or unknown offline."""

    subnets: set[str] = field(default_factory=set)
    vpcs: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)  # role names
    policies: set[str] = field(default_factory=set)  # managed policy ARNs (AWS managed, or existing)
    targets: set[str] = field(default_factory=set)  # route targets (nat-..., vpce-...) and prefix lists
    # the template's route tables in a VPC it does not define: their `local` routes are the VPC's CIDRs
    tables_in: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.subnets or self.vpcs or self.roles or self.policies or self.targets)


@dataclass
class Extraction:
    functions: list[TemplateFunction]
    facts: Facts
    external: External
    # (scope, fact kind, what): something about a template resource (a VPC's tenancy from a parameter...)
    # that is unknown; scope is the resource ID, role name or policy ARN it concerns ("*": every function)
    unknown_ids: list[tuple[str, Fact | str, str]] = field(default_factory=list)
    # roles whose Allow statements lost values known only after creation (narrowed, never widened)
    narrowed_roles: dict[str, str] = field(default_factory=dict)


def _strings(value: Any) -> tuple[list[str], Unknown | None]:
    """A list of strings (IDs); the first Unknown among them, if any."""
    if isinstance(value, Unknown):
        return [], value
    if value is None or value is NO_VALUE:
        return [], None
    items = value if isinstance(value, list) else [value]
    found = [str(item) for item in items if isinstance(item, str | int)]
    unknown = next((item for item in items if isinstance(item, Unknown)), None)
    return found, unknown


class _Builder:
    def __init__(self, template: Mapping[str, Any], resolver: Resolver, lines: Mapping[str, int]):
        self.template = template
        self.r = resolver
        self.lines = lines
        self.external = External()
        self.unknown_ids: list[tuple[str, Fact | str, str]] = []
        self.narrowed: dict[str, str] = {}
        self.by_type: dict[str, list[str]] = {}
        for logical_id, resource in resolver.resources.items():
            if not isinstance(resource, Mapping) or not isinstance(resource.get("Type"), str):
                raise TemplateError(f"resource {logical_id} has no Type")
            active = resolver.active(logical_id)
            if active is False:
                continue  # its Condition is false: not created
            self.by_type.setdefault(resource["Type"], []).append(logical_id)

    def unknown(self, scope: str, kind: Fact | str, what: str) -> None:
        """Something about `scope` (a resource ID, a role name, a policy ARN; "*": every function; "own:<subnet
        ID>": the functions in that subnet) that affects rules reading `kind` (or the rule so named) is
        unknown."""
        self.unknown_ids.append((scope, kind, what))

    def _tags(self, logical_id: str, scope: str, what: str) -> list[Mapping[str, Any]]:
        """A resource's tags; one whose value is not known yet is left out, and the ENI rule, whose policy
        conditions may read tags (ec2:ResourceTag, aws:PrincipalTag), is told so."""
        tags = self.prop(logical_id, "Tags") or []
        if isinstance(tags, Unknown):
            self.unknown(scope, Fact.IAM, f"the tags of {what} ({tags.reason})")
            return []
        known = []
        for tag in tags if isinstance(tags, list) else []:
            if not isinstance(tag, Mapping):
                continue
            unknown = contains_unknown(tag)
            if unknown:
                self.unknown(scope, Fact.IAM, f"a tag of {what} ({unknown.reason})")
            else:
                known.append(tag)
        return known

    def ids(self, kind: str) -> list[str]:
        return self.by_type.get(kind, [])

    def prop(self, logical_id: str, name: str) -> Any:
        return self.r.value(self.r.properties(logical_id).get(name))

    # ------------------------------------------------------------------ network

    def network(self) -> dict[str, Any]:
        vpcs, local_routes = {}, {}
        for logical_id in self.ids("AWS::EC2::VPC"):
            vpc_id = self.r.physical_id(logical_id)
            tenancy = self.prop(logical_id, "InstanceTenancy")
            if isinstance(tenancy, Unknown):
                self.unknown(vpc_id, Fact.VPCS, f"the tenancy of VPC {vpc_id}: {tenancy.reason}")
            else:
                vpcs[vpc_id] = parse.vpc({"VpcId": vpc_id, "InstanceTenancy": tenancy or "default"})
            cidr = self.prop(logical_id, "CidrBlock")
            if isinstance(cidr, Unknown) or cidr is None:
                reason = cidr.reason if isinstance(cidr, Unknown) else "from an IPAM pool"
                self.unknown(vpc_id, Fact.ROUTE_TABLES, f"the CIDR of VPC {vpc_id} ({reason})")
            else:
                local_routes.setdefault(vpc_id, []).append({"DestinationCidrBlock": cidr, "GatewayId": "local"})
        for logical_id in self.ids("AWS::EC2::VPCCidrBlock"):
            vpc_id = self.prop(logical_id, "VpcId")
            if not isinstance(vpc_id, str):
                continue
            if self.prop(logical_id, "AmazonProvidedIpv6CidrBlock") in (True, "true", "True") or \
                    self.prop(logical_id, "Ipv6Pool") is not None:
                # The /56 AWS assigns is not known before creation; it only takes the VPC's own addresses
                # out of the public ones, which every route decides the same way. A documentation prefix
                # stands for it (RFC 3849).
                local_routes.setdefault(vpc_id, []).append({"DestinationIpv6CidrBlock": "2001:db8::/56",
                                                           "GatewayId": "local"})
            for key, field_ in (("CidrBlock", "DestinationCidrBlock"), ("Ipv6CidrBlock", "DestinationIpv6CidrBlock")):
                value = self.prop(logical_id, key)
                if isinstance(value, str):
                    local_routes.setdefault(vpc_id, []).append({field_: value, "GatewayId": "local"})

        subnets = {}
        for logical_id in self.ids("AWS::EC2::Subnet"):
            subnet_id = self.r.physical_id(logical_id)
            vpc_id = self.prop(logical_id, "VpcId")
            if not isinstance(vpc_id, str):
                why = vpc_id.reason if isinstance(vpc_id, Unknown) else "no VpcId"
                self.unknown(subnet_id, Fact.SUBNETS, f"the VPC of subnet {subnet_id} ({why})")
                continue
            if not vpc_id.startswith("vpc-") or vpc_id.removeprefix("vpc-") not in self.r.resources:
                self.external.vpcs.add(vpc_id)
            ipv6_native = self.prop(logical_id, "Ipv6Native") in (True, "true", "True")
            ipv4 = None if ipv6_native else self.prop(logical_id, "CidrBlock")
            for what, value in (("IPv4", ipv4), ("IPv6", self.prop(logical_id, "Ipv6CidrBlock"))):
                if isinstance(value, Unknown) and value.maybe_absent:  # whether it has one decides the rules
                    self.unknown(subnet_id, Fact.SUBNETS, f"whether subnet {subnet_id} has an {what} CIDR "
                                                          f"({value.reason})")
            if ipv4 is None and not ipv6_native and self.prop(logical_id, "Ipv4IpamPoolId") is not None:
                ipv4 = Unknown("from an IPAM pool")
            if isinstance(ipv4, Unknown):
                ipv4 = f"(IPv4 CIDR known after creation: {ipv4.reason})"  # presence is what the rules read
            ipv6 = []
            for value in (self.prop(logical_id, "Ipv6CidrBlock"),) + tuple(
                    self.prop(other, "Ipv6CidrBlock") for other in self.ids("AWS::EC2::SubnetCidrBlock")
                    if self.prop(other, "SubnetId") == subnet_id):
                if value is not None and value is not NO_VALUE:
                    ipv6.append(value if isinstance(value, str) else "(IPv6 CIDR known after creation)")
            zone, zone_id = self.prop(logical_id, "AvailabilityZone"), self.prop(logical_id, "AvailabilityZoneId")
            raw = {
                "SubnetId": subnet_id, "VpcId": vpc_id, "CidrBlock": ipv4,
                "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": block, "Ipv6CidrBlockState": {"State": "associated"}}
                                                for block in ipv6],
                "MapPublicIpOnLaunch": self.prop(logical_id, "MapPublicIpOnLaunch") in (True, "true", "True"),
                "Tags": self._tags(logical_id, subnet_id, f"subnet {subnet_id}"),
            }
            if isinstance(zone_id, str):
                raw["AvailabilityZoneId"] = zone_id
            elif isinstance(zone, ZoneOfRegion):
                raw["AvailabilityZoneId"] = str(zone)  # resolved to one kind per template: see `_zones`
                raw["AvailabilityZone"] = str(zone)
            elif isinstance(zone, str):
                # The zone name stands for its ID: within one account a name is one zone (multi_az).
                raw["AvailabilityZone"] = zone
                raw["AvailabilityZoneId"] = zone
            else:
                why = zone.reason if isinstance(zone, Unknown) else "none given: AWS chooses one"
                # Only the multi-AZ rule counts zones, and only of the function's own subnets.
                self.unknown(f"own:{subnet_id}", MULTI_AZ.config_rule_name,
                             f"the Availability Zone of subnet {subnet_id} ({why})")
            subnets[subnet_id] = parse.subnet(raw)
        subnets = _zones(subnets)

        tables: dict[str, dict[str, Any]] = {}
        for vpc_id in local_routes.keys() | {s.vpc_id for s in subnets.values() if s.vpc_id.removeprefix("vpc-")
                                              in self.r.resources}:
            if vpc_id.removeprefix("vpc-") in self.r.resources:
                tables[f"rtb-main-of-{vpc_id}"] = {"RouteTableId": f"rtb-main-of-{vpc_id}", "VpcId": vpc_id,
                                                   "Routes": list(local_routes.get(vpc_id, [])),
                                                   "Associations": [{"Main": True}]}
        for logical_id in self.ids("AWS::EC2::RouteTable"):
            table_id, vpc_id = self.r.physical_id(logical_id), self.prop(logical_id, "VpcId")
            if not isinstance(vpc_id, str):
                self.unknown(table_id, Fact.ROUTE_TABLES, f"the VPC of route table {table_id}")
                continue
            if vpc_id.removeprefix("vpc-") not in self.r.resources:
                self.external.vpcs.add(vpc_id)
                self.external.tables_in.setdefault(vpc_id, []).append(table_id)
            tables[table_id] = {"RouteTableId": table_id, "VpcId": vpc_id, "Routes": list(local_routes.get(vpc_id, [])),
                                "Associations": []}
        # A VPC's main route table replaced (Terraform: aws_main_route_table_association, aws_default_route_table;
        # CloudFormation cannot): that table is the main one, the VPC's own is not.
        for logical_id in self.ids(MAIN_ROUTE_TABLE_TYPE):
            table_id, vpc_id = self.prop(logical_id, "RouteTableId"), self.prop(logical_id, "VpcId")
            if isinstance(table_id, str) and table_id in tables and isinstance(vpc_id, str):
                tables.pop(f"rtb-main-of-{vpc_id}", None)
                tables[table_id]["Associations"].append({"Main": True})
            else:
                self.unknown(vpc_id if isinstance(vpc_id, str) else "*", Fact.ROUTE_TABLES,
                             f"the main route table of VPC {vpc_id} (replaced by {logical_id})")
        for logical_id in self.ids("AWS::EC2::SubnetRouteTableAssociation"):
            table_id, subnet_id = self.prop(logical_id, "RouteTableId"), self.prop(logical_id, "SubnetId")
            if isinstance(table_id, str) and table_id in tables and isinstance(subnet_id, str):
                tables[table_id]["Associations"].append({"SubnetId": subnet_id})
            elif isinstance(subnet_id, str):
                why = table_id.reason if isinstance(table_id, Unknown) else f"route table {table_id} not in template"
                self.unknown(
                    subnet_id, Fact.ROUTE_TABLES, f"the route table of subnet {subnet_id} ({why})")
        for logical_id in self.ids("AWS::EC2::Route"):
            self._route(logical_id, tables)
        route_tables = {table_id: parse.route_table(raw) for table_id, raw in tables.items()}

        nat_gateways = {}
        for logical_id in self.ids("AWS::EC2::NatGateway"):
            nat_id, subnet_id = self.r.physical_id(logical_id), self.prop(logical_id, "SubnetId")
            mode = self.prop(logical_id, "AvailabilityMode")
            vpc_id = self.prop(logical_id, "VpcId")
            if isinstance(subnet_id, Unknown) or isinstance(vpc_id, Unknown):
                self.unknown(nat_id, Fact.NAT_GATEWAYS, f"the subnet of NAT gateway {nat_id}")
                continue
            subnet = subnets.get(subnet_id) if isinstance(subnet_id, str) else None
            nat_gateways[nat_id] = parse.nat_gateway({
                "NatGatewayId": nat_id, "State": "available", "SubnetId": subnet_id,
                "ConnectivityType": self.prop(logical_id, "ConnectivityType") or "public",
                "VpcId": vpc_id if isinstance(vpc_id, str) else (subnet.vpc_id if subnet else None),
                "AvailabilityMode": mode if isinstance(mode, str) else "zonal"})
            if mode == "regional":
                self.unknown(nat_id, Fact.NAT_GATEWAYS,
                                            f"the route table of regional NAT gateway {nat_id} (created by AWS)")
        endpoints = {}
        for logical_id in self.ids("AWS::EC2::VPCEndpoint"):
            endpoint_id = self.r.physical_id(logical_id)
            subnet_ids, _ = _strings(self.prop(logical_id, "SubnetIds"))
            vpc_id = self.prop(logical_id, "VpcId")
            service = self.prop(logical_id, "ServiceName")
            endpoints[endpoint_id] = parse.vpc_endpoint({
                "VpcEndpointId": endpoint_id, "VpcId": vpc_id if isinstance(vpc_id, str) else None,
                "VpcEndpointType": self.prop(logical_id, "VpcEndpointType") or "Gateway", "State": "available",
                "SubnetIds": subnet_ids, "ServiceName": service if isinstance(service, str) else None})
        prefix_lists = {}
        for logical_id in self.ids("AWS::EC2::PrefixList"):
            entries = self.prop(logical_id, "Entries") or []
            pl_id = self.r.physical_id(logical_id)
            cidrs = [entry.get("Cidr") for entry in entries if isinstance(entry, Mapping)]
            if any(not isinstance(cidr, str) for cidr in cidrs):
                self.unknown(pl_id, Fact.PREFIX_LISTS, f"the entries of prefix list {pl_id}")
                continue
            prefix_lists[pl_id] = PrefixList(pl_id, tuple(cidrs), logical_id)
        return {"vpcs": vpcs, "subnets": subnets, "route_tables": route_tables, "nat_gateways": nat_gateways,
                "vpc_endpoints": endpoints, "prefix_lists": prefix_lists}

    def _route(self, logical_id: str, tables: dict[str, dict[str, Any]]) -> None:
        table_id = self.prop(logical_id, "RouteTableId")
        if not isinstance(table_id, str) or table_id not in tables:
            if isinstance(table_id, Unknown):
                self.unknown(
                    "*", Fact.ROUTE_TABLES, f"the route table of route {logical_id} ({table_id.reason})")
            return  # a route in a table outside the template: the account's reads see it once it exists
        route: dict[str, Any] = {}
        for key in ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"):
            value = self.prop(logical_id, key)
            if value is not None and value is not NO_VALUE:
                route[key] = value
        targets = {
            "GatewayId": "GatewayId", "NatGatewayId": "NatGatewayId", "TransitGatewayId": "TransitGatewayId",
            "EgressOnlyInternetGatewayId": "EgressOnlyInternetGatewayId", "InstanceId": "InstanceId",
            "NetworkInterfaceId": "NetworkInterfaceId", "VpcPeeringConnectionId": "VpcPeeringConnectionId",
            "LocalGatewayId": "LocalGatewayId", "CarrierGatewayId": "CarrierGatewayId",
            "CoreNetworkArn": "CoreNetworkArn", "VpcEndpointId": "GatewayId",  # AWS answers vpce- as GatewayId
        }
        for key, field_ in targets.items():
            value = self.prop(logical_id, key)
            if value is not None and value is not NO_VALUE:
                route[field_] = value
        unknown = contains_unknown(route)
        if unknown:
            self.unknown(
                table_id, Fact.ROUTE_TABLES, f"route {logical_id} of route table {table_id} ({unknown.reason})")
            return
        for key in ("NatGatewayId", "GatewayId", "TransitGatewayId", "EgressOnlyInternetGatewayId"):
            target = route.get(key)
            if isinstance(target, str) and "-" in target and target.split("-", 1)[1] not in self.r.resources:
                self.external.targets.add(target)
        destination = route.get("DestinationPrefixListId")
        if isinstance(destination, str) and destination.removeprefix("pl-") not in self.r.resources:
            self.external.targets.add(destination)
        tables[table_id]["Routes"].append(route)

    # ------------------------------------------------------------------ IAM

    def iam(self) -> dict[str, Any]:
        roles: dict[str, dict[str, Any]] = {}
        for logical_id in self.ids("AWS::IAM::Role"):
            name = self.r.physical_id(logical_id)
            inline = {}
            for policy in self.prop(logical_id, "Policies") or []:
                if isinstance(policy, Mapping) and isinstance(policy.get("PolicyName"), str):
                    inline[policy["PolicyName"]] = policy.get("PolicyDocument")
            managed, unknown = _strings(self.prop(logical_id, "ManagedPolicyArns"))
            if unknown:
                self.unknown(name, Fact.IAM, f"a managed policy of role {name} ({unknown.reason})")
            boundary = self.prop(logical_id, "PermissionsBoundary")
            if isinstance(boundary, Unknown):
                self.unknown(name, Fact.IAM, f"the boundary of role {name} ({boundary.reason})")
                boundary = None
            roles[name] = {"RoleName": name, "Arn": self.r.role_arn(logical_id), "inline": inline,
                           "managed": list(managed), "boundary": boundary,
                           "Tags": self._tags(logical_id, name, f"role {name}")}
        policies = {}
        for logical_id in self.ids("AWS::IAM::ManagedPolicy"):
            arn = self.r.policy_arn(logical_id)
            document, narrowed = allow_only_known(self.prop(logical_id, "PolicyDocument"))
            policies[arn] = ManagedPolicy(arn, arn.rsplit("/", 1)[-1], document)
            attached, _ = _strings(self.prop(logical_id, "Roles"))
            for role in attached:
                if role in roles:
                    roles[role]["managed"].append(arn)
                if narrowed and role in roles:
                    self.narrowed[role] = f"policy {logical_id}: {narrowed}"
        for kind, roles_key in (("AWS::IAM::Policy", "Roles"), ("AWS::IAM::RolePolicy", "RoleName")):
            for logical_id in self.ids(kind):
                name = self.prop(logical_id, "PolicyName")
                attached, unknown = _strings(self.prop(logical_id, roles_key))
                for role in attached:
                    if role in roles:
                        roles[role]["inline"][name if isinstance(name, str) else logical_id] = \
                            self.r.properties(logical_id).get("PolicyDocument")
        result_roles = {}
        for name, raw in roles.items():
            inline = {}
            for policy_name, document in raw["inline"].items():
                kept, narrowed = allow_only_known(self.r.value(document))
                if kept is None:
                    self.unknown(name, Fact.IAM, f"inline policy {policy_name} of role {name}: "
                                                       f"{narrowed}")
                    continue
                if narrowed:
                    self.narrowed[name] = f"inline policy {policy_name}: {narrowed}"
                inline[policy_name] = kept
            for arn in raw["managed"]:
                if arn not in policies:
                    self.external.policies.add(arn)
            if raw["boundary"] and raw["boundary"] not in policies:
                self.external.policies.add(raw["boundary"])
            result_roles[name] = Role(name=name, arn=raw["Arn"], inline_policies=inline,
                                      attached_policy_arns=tuple(raw["managed"]),
                                      permissions_boundary_arn=raw["boundary"], tags=parse.tag_map(raw["Tags"]))
        for arn, policy in list(policies.items()):
            if policy.document is None:
                del policies[arn]
                self.unknown(arn, Fact.IAM, f"managed policy {arn}: a Deny or condition value "
                                                    "known only after creation")
        return {"roles": result_roles, "policies": policies}

    # ------------------------------------------------------------------ functions

    def functions(self, facts: Facts) -> list[TemplateFunction]:
        found = []
        for logical_id in self.ids(FUNCTION_TYPE):
            unknowns = Unknowns()
            active = self.r.active(logical_id)
            if isinstance(active, Unknown):
                unknowns.add(None, f"whether {logical_id} is created ({active.reason})")
            name = self.r.physical_id(logical_id)
            role = self.prop(logical_id, "Role")
            if isinstance(role, Unknown):
                unknowns.add(Fact.IAM, f"the execution role ({role.reason})")
                role = None
            elif isinstance(role, str):
                role_name = role.rsplit("/", 1)[-1]
                if role_name not in facts.roles:
                    self.external.roles.add(role_name)
            vpc = self.prop(logical_id, "VpcConfig")
            subnet_ids: list[str] = []
            groups: list[str] = []
            ipv6 = None
            if isinstance(vpc, Unknown):
                unknowns.add(Fact.SUBNETS, f"the VPC configuration ({vpc.reason})")
                subnet_ids = ["subnet-unknown"]
            elif isinstance(vpc, Mapping):
                subnet_ids, unknown = _strings(vpc.get("SubnetIds"))
                if unknown:
                    unknowns.add(Fact.SUBNETS, f"subnets ({unknown.reason})")
                    subnet_ids = subnet_ids or ["subnet-unknown"]
                groups, unknown = _strings(vpc.get("SecurityGroupIds"))
                if unknown:  # the ENI rule judges CreateNetworkInterface on each group
                    unknowns.add(Fact.IAM, f"security groups ({unknown.reason})")
                ipv6 = vpc.get("Ipv6AllowedForDualStack")
                if isinstance(ipv6, Unknown):
                    unknowns.add(Fact.SUBNETS, f"Ipv6AllowedForDualStack ({ipv6.reason})")
                    ipv6 = None
                elif isinstance(ipv6, str):
                    ipv6 = ipv6.lower() == "true"
            for subnet_id in subnet_ids:
                if subnet_id not in facts.subnets and subnet_id != "subnet-unknown" and \
                        subnet_id.removeprefix("subnet-") not in self.r.resources:
                    self.external.subnets.add(subnet_id)
            tags = {}
            for tag in self.prop(logical_id, "Tags") or []:
                if isinstance(tag, Mapping) and isinstance(tag.get("Key"), str):
                    value = tag.get("Value")
                    if isinstance(value, Unknown):
                        unknowns.add(None, f"tag {tag['Key']} ({value.reason})")
                    tags[tag["Key"]] = str(value) if not isinstance(value, Unknown) else ""
            arn = self.r.function_arn(logical_id)
            function = LambdaFunction(
                name=name, arn=arn if isinstance(arn, str) and isinstance(self.prop(logical_id, "FunctionName"), str)
                else None, role_arn=role, subnet_ids=tuple(subnet_ids), security_group_ids=tuple(groups),
                ipv6_allowed_for_dual_stack=ipv6 if isinstance(ipv6, bool) else None, tags=tags)
            found.append(TemplateFunction(logical_id, function, self.lines.get(logical_id), unknowns))
        return found


def _zones(subnets: dict[str, Any]) -> dict[str, Any]:
    """`GetAZs[i]` zones count as distinct zones among themselves; beside literal zone names they could be
    any of them, so there they are unknown (the multi-AZ rule never counts a zone it has not seen)."""
    import dataclasses

    literal = any(s.availability_zone_id and not s.availability_zone_id.startswith("GetAZs[")
                  for s in subnets.values())
    if not literal:
        return subnets
    return {sid: dataclasses.replace(s, availability_zone=None, availability_zone_id=None)
            if (s.availability_zone_id or "").startswith("GetAZs[") else s for sid, s in subnets.items()}


def extract(template: Mapping[str, Any], resolver: Resolver, lines: Mapping[str, int] | None = None) -> Extraction:
    builder = _Builder(template, resolver, lines or {})
    facts = Facts(**builder.network(), **builder.iam())
    functions = builder.functions(facts)
    return Extraction(functions, facts, builder.external, builder.unknown_ids, builder.narrowed)
