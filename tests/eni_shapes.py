"""The role shapes behind the rows of LAMBDA_VPC_ENI_PERMISSIONS' tables that depend on the request
context (conditions, the function's own resources, the lambda:SourceFunctionArn guard): each one runs
through the pure core (test_eni_permissions.py) and through the handlers and `scan` in moto
(test_eni_permissions_aws.py), against the same function: two subnets tagged tier=app, one security group."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

REGION, ACCOUNT = "us-east-1", "123456789012"
MANAGED = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
ON_INTERFACE = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
CREATE = "ec2:CreateNetworkInterface"
SIX = [CREATE, *DESCRIBE, *ON_INTERFACE]
WRITE = [CREATE, *ON_INTERFACE]
SUBNET_TAGS = {"tier": "app"}


@dataclass(frozen=True)
class Env:
    """The function a shape is judged for."""

    function_arn: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...]

    def ec2(self, suffix: str, region: str = REGION) -> str:
        return f"arn:aws:ec2:{region}:{ACCOUNT}:{suffix}"

    @property
    def own_resources(self) -> list[str]:
        """The function's subnets and security groups, and the interface being created."""
        return [self.ec2("network-interface/*"), *(self.ec2(f"subnet/{s}") for s in self.subnet_ids),
                *(self.ec2(f"security-group/{g}") for g in self.group_ids)]


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def least_privilege(env: Env) -> list[dict]:
    return [allow(DESCRIBE, Sid="Describe"),
            allow(CREATE, env.own_resources, Sid="CreateInOwnSubnets"),
            allow(ON_INTERFACE, env.ec2("network-interface/eni-*"), Sid="ManageLambdaEnis")]


def guard(env: Env) -> dict:
    """The Deny the Lambda guide recommends: the function's own code loses the ENI write actions."""
    return deny(WRITE, Sid="NotFromFunctionCode",
                Condition={"ArnEquals": {"lambda:SourceFunctionArn": env.function_arn}})


def describe_and_manage(env: Env) -> list[dict]:
    """Everything but CreateNetworkInterface, least privilege."""
    return [allow(DESCRIBE), allow(ON_INTERFACE, env.ec2("network-interface/eni-*"))]


def create_on(env: Env, *resources: str, **extra) -> list[dict]:
    return [*describe_and_manage(env), allow(CREATE, list(resources), **extra)]


def create_by_subnet_tag(env: Env, tier: str, key: str) -> list[dict]:
    return [*create_on(env, env.ec2("network-interface/*"), env.ec2("security-group/*")),
            allow(CREATE, env.ec2("subnet/*"), Sid=f"{tier.title()}Tier", Condition={"StringEquals": {key: tier}})]


def all_six_if(sid: str, condition: dict) -> list[dict]:
    return [allow(SIX, Sid=sid, Condition=condition)]


def known_keys(env: Env) -> list[dict]:
    return all_six_if("KnownKeys", {
        "StringEquals": {"aws:RequestedRegion": REGION, "aws:PrincipalAccount": ACCOUNT,
                         "aws:PrincipalTag/team": "payments"},
        "StringEqualsIfExists": {"ec2:Vpc": env.ec2(f"vpc/{env.vpc_id}")},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"},  # a policy variable
        "DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}})


def every_known_key(env: Env) -> list[dict]:
    """Every other row of the context table, each as it holds for Lambda's calls (IfExists where the key
    belongs to some of the resources only)."""
    subnets = [env.ec2(f"subnet/{s}") for s in env.subnet_ids]
    return all_six_if("EveryKey", {
        "StringEqualsIfExists": {"ec2:Region": REGION, "ec2:AvailabilityZone": [f"{REGION}a", f"{REGION}b"]},
        "StringEquals": {"aws:PrincipalType": "AssumedRole"},
        "ArnEqualsIfExists": {"ec2:Subnet": subnets},
        "NumericGreaterThan": {"aws:EpochTime": "1577836800"},
        "Null": {"aws:referer": "true", "aws:username": "true", "lambda:SourceFunctionArn": "true",
                 "aws:userid": "false", "aws:SecureTransport": "false", "aws:TokenIssueTime": "false"}})


@dataclass(frozen=True)
class Shape:
    name: str
    statements: Callable[[Env], list[dict]]  # the role's one inline policy, "eni"
    compliance: str
    words: tuple[str, ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    managed: bool = False  # AWSLambdaVPCAccessExecutionRole attached too
    role_tags: Mapping[str, str] = field(default_factory=dict)
    aws: bool = True  # False: IAM refuses the document (MalformedPolicyDocument), so only the core sees it


GUARD = {"RequireFunctionCodeGuard": "true"}
SHAPES = [
    Shape("least-privilege", least_privilege, "COMPLIANT", ("allows all 6",)),
    Shape("account-wide-create", lambda env: create_on(
        env, env.ec2("network-interface/*"), env.ec2("subnet/*"), env.ec2("security-group/*")), "COMPLIANT"),
    Shape("create-on-eni-prefix", lambda env: create_on(
        env, env.ec2("network-interface/eni-*"), *env.own_resources[1:]),
          "NON_COMPLIANT", ("ec2:CreateNetworkInterface (resource too narrow: needs", "network-interface/*")),
    Shape("create-in-another-subnet", lambda env: create_on(
        env, env.ec2("network-interface/*"), env.ec2("subnet/subnet-other"),
        *env.own_resources[len(env.subnet_ids) + 1:]),
          "NON_COMPLIANT", ("resource too narrow", "subnet/subnet-")),
    Shape("guarded", lambda env: [*least_privilege(env), guard(env)], "COMPLIANT", parameters=GUARD),
    Shape("guarded-by-null", lambda env: [
        allow(SIX), deny(WRITE, Condition={"Null": {"lambda:SourceFunctionArn": "false"}})],
          "COMPLIANT", ("keeps the ENI write actions from the function's code",), GUARD),
    Shape("unguarded", least_privilege, "NON_COMPLIANT",
          ("RequireFunctionCodeGuard", "can call all 4 ENI write actions", "lambda:SourceFunctionArn"), GUARD),
    Shape("guard-on-create-only", lambda env: [allow(SIX), {**guard(env), "Action": CREATE}], "NON_COMPLIANT",
          ("can call ec2:DeleteNetworkInterface, ec2:AssignPrivateIpAddresses",), GUARD),
    Shape("region-locked", lambda env: [allow(SIX), {
        "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", REGION]}}}], "COMPLIANT"),
    Shape("locked-out-of-region", lambda env: [allow(SIX), deny("*", Sid="EuOnly", Condition={
        "StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}})],
          "NON_COMPLIANT", ("denied: by inline:eni/EuOnly: its condition on aws:RequestedRegion holds",)),
    Shape("deny-on-source-ip", lambda env: [allow(SIX), deny("ec2:*", Sid="OfficeOnly", Condition={
        "NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}})],
          "NON_COMPLIANT", ("conditional Deny on aws:SourceIp could apply",)),
    Shape("deny-per-user-name", lambda env: [
        allow(SIX), deny("ec2:*", env.ec2("network-interface/${aws:username}-*"))], "COMPLIANT"),
    # A variable without value in one entry of several: the others are judged, the statement's reach is
    # unknown (IAM, "Variables and tags": it "might cause the entire statement to be invalid").
    Shape("deny-with-an-entry-without-value", lambda env: [allow(SIX), deny(CREATE, [
        env.ec2("network-interface/${aws:username}"), env.ec2("network-interface/*")], Sid="PerUser")],
          "NON_COMPLIANT", ("denied: by inline:eni/PerUser: ${aws:username} has no value (in its Resource), so it "
                            "could apply",)),
    Shape("deny-on-a-tag-the-role-lacks", lambda env: [allow(SIX), deny(CREATE, [
        env.ec2("subnet/${aws:PrincipalTag/subnet}"), env.ec2("subnet/*")], Sid="TaggedSubnets")],
          "NON_COMPLIANT", ("by inline:eni/TaggedSubnets: ${aws:PrincipalTag/subnet} has no value",)),
    Shape("deny-with-entries-without-value-only-elsewhere", lambda env: [allow(SIX), deny(CREATE, [
        env.ec2("network-interface/${aws:username}"), env.ec2("subnet/subnet-other")])], "COMPLIANT"),
    Shape("deny-not-resource-without-value", lambda env: [allow(SIX), {
        "Effect": "Deny", "Action": CREATE, "NotResource": env.ec2("network-interface/${aws:username}"),
        "Sid": "AllButMine"}], "NON_COMPLIANT", ("by inline:eni/AllButMine: ${aws:username} has no value",)),
    Shape("deny-on-a-condition-variable-without-value", lambda env: [allow(SIX), deny(
        "ec2:*", Sid="SameUser", Condition={"StringNotEquals": {"aws:PrincipalTag/team": "${aws:username}"}})],
          "NON_COMPLIANT",
          ("by inline:eni/SameUser: StringNotEquals aws:PrincipalTag/team: ${aws:username} has no value, so it "
           "could apply",), role_tags={"team": "payments"}),
    Shape("allow-with-an-entry-without-value", lambda env: [allow(SIX, ["*", env.ec2(
        "network-interface/${aws:username}")], Sid="Mixed")], "NON_COMPLIANT",
          ("variable without value: inline:eni/Mixed: ${aws:username} has no value: the statement may be invalid",)),
    Shape("allow-on-known-keys", known_keys, "COMPLIANT", role_tags={"team": "payments"}),
    Shape("allow-on-every-known-key", every_known_key, "COMPLIANT"),
    Shape("allow-on-unknown-variable", lambda env: all_six_if(
        "SameTeam", {"StringEquals": {"aws:PrincipalTag/team": "${aws:SourceIdentity}"}}), "NON_COMPLIANT",
          ("condition unknown: inline:eni/SameTeam: StringEquals aws:PrincipalTag/team: the policy value "
           "${aws:SourceIdentity} cannot be known",),
          role_tags={"team": "payments"}),
    Shape("allow-for-another-team", lambda env: all_six_if(
        "PaymentsOnly", {"StringEquals": {"aws:PrincipalTag/team": "payments"}}), "NON_COMPLIANT",
          ("condition not met: inline:eni/PaymentsOnly: StringEquals aws:PrincipalTag/team does not hold",),
          role_tags={"team": "search"}),
    Shape("allow-from-source-ip", lambda env: all_six_if(
        "OfficeOnly", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
          "NON_COMPLIANT", ("condition unknown: inline:eni/OfficeOnly: IpAddress aws:SourceIp cannot be known",)),
    Shape("own-subnets-and-groups-by-condition", lambda env: all_six_if("Own", {"ForAllValues:StringEquals": {
        "ec2:SubnetID": list(env.subnet_ids), "ec2:SecurityGroupID": list(env.group_ids)}}), "COMPLIANT"),
    Shape("subnet-tier", lambda env: create_by_subnet_tag(env, "app", "ec2:ResourceTag/tier"), "COMPLIANT"),
    Shape("subnet-of-another-tier", lambda env: create_by_subnet_tag(env, "db", "aws:ResourceTag/tier"),
          "NON_COMPLIANT", ("condition not met: inline:eni/DbTier: StringEquals aws:ResourceTag/tier does not hold",)),
    Shape("resource-from-principal-tag", lambda env: create_on(
        env, env.ec2("network-interface/*"), env.ec2("security-group/*"),
        env.ec2("subnet/${aws:PrincipalTag/subnets}*")), "COMPLIANT", role_tags={"subnets": "subnet-"}),
    Shape("expired-grant", lambda env: all_six_if("Until2020", {"DateLessThan": {"aws:EpochTime": "1577836800"}}),
          "NON_COMPLIANT", ("condition not met: inline:eni/Until2020: DateLessThan aws:EpochTime does not hold",)),
    # Known values are known: the keys the Service Authorization Reference lists for each resource of each
    # action (its per-resource-type rows), with the values read.
    Shape("create-in-own-vpc", lambda env: [*create_on(env, env.ec2("network-interface/*")), allow(
        CREATE, [env.ec2("subnet/*"), env.ec2("security-group/*")], Sid="OwnVpc",
        Condition={"ArnEquals": {"ec2:Vpc": env.ec2(f"vpc/{env.vpc_id}")}})], "COMPLIANT"),
    Shape("create-in-another-vpc", lambda env: [*create_on(env, env.ec2("network-interface/*")), allow(
        CREATE, [env.ec2("subnet/*"), env.ec2("security-group/*")], Sid="OtherVpc",
        Condition={"ArnEquals": {"ec2:Vpc": env.ec2("vpc/vpc-other")}})], "NON_COMPLIANT",
          ("condition not met: inline:eni/OtherVpc: ArnEquals ec2:Vpc does not hold",)),
    Shape("deny-outside-own-vpc", lambda env: [allow(SIX), deny(
        CREATE, [env.ec2("subnet/*"), env.ec2("security-group/*")], Sid="OnlyOwnVpc",
        Condition={"ArnNotEquals": {"ec2:Vpc": env.ec2(f"vpc/{env.vpc_id}")}})], "COMPLIANT"),
    Shape("deny-in-another-vpc-on-any-resource", lambda env: [allow(SIX), deny(
        CREATE, Sid="NotThatVpc", Condition={"ArnEquals": {"ec2:Vpc": env.ec2("vpc/vpc-other")}})], "COMPLIANT"),
    Shape("describe-in-own-region", lambda env: [
        allow(DESCRIBE, Sid="HereOnly", Condition={"StringEquals": {"ec2:Region": REGION}}),
        allow(ON_INTERFACE, env.ec2("network-interface/eni-*")), allow(CREATE, env.own_resources)], "COMPLIANT"),
    Shape("describe-in-another-region", lambda env: [
        allow(DESCRIBE, Sid="EuOnly", Condition={"StringEquals": {"ec2:Region": "eu-west-1"}}),
        allow(ON_INTERFACE, env.ec2("network-interface/eni-*")), allow(CREATE, env.own_resources)], "NON_COMPLIANT",
          ("condition not met: inline:eni/EuOnly: StringEquals ec2:Region does not hold",)),
    Shape("create-with-own-groups-if-exists", lambda env: [*describe_and_manage(env), allow(
        CREATE, Sid="OwnGroups", Condition={"StringEqualsIfExists": {"ec2:SecurityGroupID": list(env.group_ids)}})],
          "COMPLIANT"),
    Shape("create-with-other-groups-if-exists", lambda env: [*describe_and_manage(env), allow(
        CREATE, Sid="OtherGroups", Condition={"StringEqualsIfExists": {"ec2:SecurityGroupID": ["sg-other"]}})],
          "NON_COMPLIANT", ("condition not met: inline:eni/OtherGroups: StringEqualsIfExists ec2:SecurityGroupID",)),
    Shape("grant-until-a-date", lambda env: all_six_if("Until2099", {
        "DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}), "COMPLIANT",
          ("valid until 2099-01-01T00:00:00Z",)),
    Shape("denied-from-a-date", lambda env: [allow(SIX), deny("ec2:*", Sid="From2099", Condition={
        "NumericGreaterThanEquals": {"aws:EpochTime": "4070908800"}})], "COMPLIANT",
          ("valid until 2099-01-01T00:00:00Z",)),
    Shape("managed-and-guard", lambda env: [guard(env)], "COMPLIANT", parameters=GUARD, managed=True),
    Shape("managed-without-guard", lambda env: [allow("logs:*")], "NON_COMPLIANT",
          ("can call all 4 ENI write actions",), parameters=GUARD, managed=True),
    Shape("allow-unknown-operator", lambda env: all_six_if(
        "Odd", {"StringEqualsAnyCase": {"aws:RequestedRegion": REGION}}),
          "NON_COMPLIANT", ("condition unknown: inline:eni/Odd: unknown operator StringEqualsAnyCase",), aws=False),
    Shape("deny-unknown-operator", lambda env: [allow(SIX), deny("ec2:*", Sid="Odd", Condition={
        "StringEqualsAnyCase": {"aws:RequestedRegion": "eu-west-1"}})], "NON_COMPLIANT",
          ("denied: by inline:eni/Odd: unknown operator StringEqualsAnyCase, so it could apply",), aws=False),
]
