"""The EC2 requests the ENI rule judges, as IAM sees them: each resource a request names and the request
context it is evaluated in (`iam_policy.Authorization`). Pure, over model data. The tables (actions,
resources, context keys with their values and sources) are in `eni_permissions`' docstring.

- `lambda_requests`: what Lambda itself asks EC2 for a VPC function, with the execution role: one
  CreateNetworkInterface per subnet (the interface being created, that subnet, each security group), Delete /
  Assign / Unassign on a Lambda-made interface in each subnet, the two Describe calls on `*`.
- `code_requests`: what the function's code could ask with the same role (the four write actions, on any
  subnet, security group or network interface of the account, in any region).
"""

from __future__ import annotations

from datetime import datetime

from ..iam_conditions import ABSENT, PRESENT_UNKNOWN, UNKNOWN, RequestContext, Value
from ..iam_policy import Authorization
from ..model import Facts, LambdaFunction, Role
from ..scp import ScpChain

CREATE = "ec2:CreateNetworkInterface"
DESCRIBE_ACTIONS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")
ON_INTERFACE_ACTIONS = ("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses")
REQUIRED_ACTIONS = (CREATE, *DESCRIBE_ACTIONS, *ON_INTERFACE_ACTIONS)  # the order annotations list them in
WRITE_ACTIONS = (CREATE, *ON_INTERFACE_ACTIONS)  # what RequireFunctionCodeGuard keeps from the code

ANY = "*"
NEW_INTERFACE = "network-interface/${*}"  # the ARN of an interface being created: a literal `*` as its ID
MADE_INTERFACE = "network-interface/eni-*"  # any interface Lambda made: every ID starts with eni-
PRINCIPAL_TAGS = "aws:PrincipalTag/"
RESOURCE_TAGS = ("aws:ResourceTag/", "ec2:ResourceTag/")
EC2_RESOURCE_KEYS = ("ec2:Vpc", "ec2:Subnet", "ec2:SubnetID", "ec2:SecurityGroupID", "ec2:AvailabilityZone",
                     "ec2:AvailabilityZoneId", "ec2:NetworkInterfaceID", "ec2:ManagedResourceOperator")


def _account_of(arn: str) -> Value:
    parts = arn.split(":")
    return (parts[4],) if len(parts) > 4 and parts[0] == "arn" and parts[4] else UNKNOWN


def _organization_of(role: Role, chain: ScpChain | None) -> str:
    """The organization of the role's account, from its SCP chain as read or published (`scps publish`), when
    that chain is the role's account's, was read, and is not stale; "" when not known."""
    if chain is None or not chain.organization_id or chain.unread or chain.stale:
        return ""
    return chain.organization_id if _account_of(role.arn) == (chain.account_id,) else ""


def principal_context(role: Role, now: datetime | None, chain: ScpChain | None = None) -> RequestContext:
    """The keys every request made with the role's session carries; `chain`: the account's SCP chain, which
    names its organization (aws:PrincipalOrgID: "included in the request context only if the principal is a
    member of an organization", IAM global condition keys; unknown without a chain)."""
    values: dict[str, Value] = {
        "aws:PrincipalArn": (role.arn,),
        "aws:PrincipalAccount": _account_of(role.arn),
        "aws:PrincipalType": ("AssumedRole",),
        "aws:username": ABSENT,
        "aws:referer": ABSENT,
        # present in every signed request with temporary credentials, values not known
        "aws:userid": PRESENT_UNKNOWN,
        "aws:SecureTransport": PRESENT_UNKNOWN,
        "aws:UserAgent": PRESENT_UNKNOWN,
        "aws:TokenIssueTime": PRESENT_UNKNOWN,
        "aws:MultiFactorAuthPresent": PRESENT_UNKNOWN,
    }
    organization = _organization_of(role, chain)
    if organization:
        values["aws:PrincipalOrgID"] = (organization,)
    if now is not None:
        values["aws:CurrentTime"] = (now.strftime("%Y-%m-%dT%H:%M:%SZ"),)
        values["aws:EpochTime"] = (str(int(now.timestamp())),)
    return RequestContext(values, {PRINCIPAL_TAGS: role.tags})


def _where(function: LambdaFunction) -> tuple[str, str, str]:
    return function.partition_region_account or (ANY, ANY, ANY)


def _arn(function: LambdaFunction, suffix: str, region: str | None = None) -> str:
    partition, own_region, account = _where(function)
    return f"arn:{partition}:ec2:{region or own_region}:{account}:{suffix}"


def _known(value: str | None, *needed: str) -> Value:
    """A single known value, or UNKNOWN when it (or a part it is made of) is not known."""
    return (value,) if value is not None and ANY not in needed else UNKNOWN


_NO_CONTEXT = RequestContext()


class _Unread:
    """A context no statement reads (`contexts=False`): every derived context is the same empty one."""

    def with_values(self, *_: object) -> RequestContext:
        return _NO_CONTEXT


def lambda_requests(function: LambdaFunction, role: Role, facts: Facts, contexts: bool = True
                    ) -> dict[str, tuple[Authorization, ...]]:
    """Per required action, the authorizations of Lambda's own requests for this function. Each resource
    carries the EC2 keys the Service Authorization Reference lists for it under the action (its row for that
    resource type, plus the action's own row: ec2:Region); a key it does not list there is absent.
    `contexts=False` when no statement of the policies judged reads the request context: the resources alone,
    each with one shared empty context (`iam_policy.reads_context`)."""
    partition, region, account = _where(function)
    lambda_context = principal_context(role, facts.evaluated_at, facts.scp_chain).with_values({
        "lambda:SourceFunctionArn": ABSENT,  # Lambda's own ENI calls do not carry it (Lambda guide)
        "aws:RequestedRegion": _known(region, region),
        "ec2:Region": _known(region, region),  # listed for all six actions (SAR)
        **{key: ABSENT for key in EC2_RESOURCE_KEYS},  # unless the resource's row lists it (below)
    }, {prefix: {} for prefix in RESOURCE_TAGS}) if contexts else _Unread()
    subnets = [(subnet_id, facts.subnets.get(subnet_id)) for subnet_id in function.subnet_ids]
    vpc_ids = {subnet.vpc_id for _, subnet in subnets if subnet is not None}
    vpc = _known(_arn(function, f"vpc/{next(iter(vpc_ids))}") if len(vpc_ids) == 1 else None,
                 partition, region, account)
    group_ids = tuple(dict.fromkeys(function.security_group_ids))
    unread_tags = {prefix: None for prefix in RESOURCE_TAGS}  # tags not read: unknown

    new_interfaces, interfaces, own_subnets, groups = [], [], [], []
    for subnet_id, subnet in subnets:
        subnet_arn = _known(_arn(function, f"subnet/{subnet_id}"), partition, region, account)
        zone = _known(subnet.availability_zone if subnet else None)
        zone_id = _known(subnet.availability_zone_id if subnet else None)
        # CreateNetworkInterface, network-interface row: aws:RequestTag/*, aws:TagKeys, ec2:NetworkInterfaceID.
        # Being created, the interface has no ID yet: IAM evaluates `network-interface/*`, a literal `*`.
        new_interfaces.append(Authorization(_arn(function, NEW_INTERFACE), lambda_context.with_values({
            "ec2:NetworkInterfaceID": UNKNOWN})))
        # subnet row: ec2:AvailabilityZone(Id), ec2:SubnetID, ec2:Vpc, the subnet's tags
        own_subnets.append(Authorization(_arn(function, f"subnet/{subnet_id}"), lambda_context.with_values({
            "ec2:Vpc": vpc, "ec2:AvailabilityZone": zone, "ec2:AvailabilityZoneId": zone_id,
            "ec2:SubnetID": (subnet_id,)}, {prefix: subnet.tags for prefix in RESOURCE_TAGS} if subnet is not None
            else unread_tags)))
        # security-group row: ec2:SecurityGroupID, ec2:Vpc, the group's tags (not read)
        for group_id in group_ids or ("sg-*",):  # none listed: the VPC's default group, whose ID is not read
            groups.append(Authorization(_arn(function, f"security-group/{group_id}"), lambda_context.with_values({
                "ec2:Vpc": vpc, "ec2:SecurityGroupID": (group_id,) if group_ids else UNKNOWN}, unread_tags)))
        # Delete/Assign/Unassign, network-interface row: ec2:AvailabilityZone, ec2:Subnet, ec2:Vpc,
        # ec2:NetworkInterfaceID, ec2:ManagedResourceOperator and the interface's tags (the last three not known)
        interfaces.append(Authorization(_arn(function, MADE_INTERFACE), lambda_context.with_values({
            "ec2:Subnet": subnet_arn, "ec2:Vpc": vpc, "ec2:AvailabilityZone": zone,
            "ec2:NetworkInterfaceID": UNKNOWN, "ec2:ManagedResourceOperator": UNKNOWN}, unread_tags)))
    # The Describe calls name no resource: only the action's row (ec2:Region) applies.
    describe = Authorization("*", lambda_context)
    requests: dict[str, tuple[Authorization, ...]] = {CREATE: (*new_interfaces, *own_subnets, *groups)}
    for action in DESCRIBE_ACTIONS:
        requests[action] = (describe,)
    for action in ON_INTERFACE_ACTIONS:
        requests[action] = tuple(interfaces)
    return {action: requests[action] for action in REQUIRED_ACTIONS}


def code_requests(function: LambdaFunction, role: Role, facts: Facts) -> dict[str, tuple[Authorization, ...]]:
    """Per write action, the authorizations of a request the function's code could make with its role:
    `lambda:SourceFunctionArn` is the function's ARN; region, subnet, group and interface are any."""
    code_context = principal_context(role, facts.evaluated_at, facts.scp_chain).with_values({
        "lambda:SourceFunctionArn": (function.arn,) if function.arn else PRESENT_UNKNOWN,
    })
    interface = Authorization(_arn(function, MADE_INTERFACE, region=ANY), code_context)
    requests = {CREATE: (Authorization(_arn(function, NEW_INTERFACE, region=ANY), code_context),
                         Authorization(_arn(function, "subnet/subnet-*", region=ANY), code_context),
                         Authorization(_arn(function, "security-group/sg-*", region=ANY), code_context))}
    for action in ON_INTERFACE_ACTIONS:
        requests[action] = (interface,)
    return requests
