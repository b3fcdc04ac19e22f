"""The built-in demo estate: a small AWS account in an in-process moto mock, evaluated like a real one.

No AWS account and no network are used: moto answers every call inside this process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

import boto3

from ..aws.account import scan_session
from ..core.model import ScanReport
from ..core.rules import RULES, Rule
from ..errors import PackError
from ..outputs.evidence import Evidence, identity, write_bundle
from ..outputs.report import to_asff, to_json

REGION = "us-east-1"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 'ok'\n")
    return buffer.getvalue()


VPC_ACCESS_POLICY = "AWSLambdaVPCAccessExecutionRole"


def add_aws_managed_policy(account_id: str, name: str) -> str:
    """Put one AWS managed policy, as moto's copy of AWS's managed policies holds it, into moto's IAM; return its
    ARN. MOTO_IAM_LOAD_MANAGED_POLICIES would load all ~1,300 of them into each of the dozen IAM backends moto
    makes (one per partition) and hand every one to GetAccountAuthorizationDetails: most of the demo's time,
    for one policy it uses."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account_id]["aws"]
    found = [policy for policy in backend.aws_managed_policies if policy.name == name]
    if not found:
        found = [AWSManagedPolicy.from_data(name, account_id, "aws", json.loads(aws_managed_policies_data)[name])]
        backend.aws_managed_policies.append(found[0])
        backend.managed_policies[found[0].arn] = found[0]
    return found[0].arn


def build_demo_estate(session: boto3.Session) -> dict[str, str]:
    """Create the demo account's network, roles and functions; return each function's story."""
    ec2 = session.client("ec2")
    iam = session.client("iam")
    lam = session.client("lambda")

    def subnet(vpc: str, cidr: str, az: str) -> str:
        return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]

    def route_table(vpc: str, subnets: list[str], **route: str) -> str:
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        if route:
            ec2.create_route(RouteTableId=table, **route)
        for subnet_id in subnets:
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
        return table

    def nat_gateway(subnet_id: str) -> str:
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        return ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=eip)["NatGateway"]["NatGatewayId"]

    # "core": a well-built VPC with IPv6, public subnets for the NAT gateway, private app subnets.
    core = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    vpc_ipv6 = ec2.describe_vpcs(VpcIds=[core])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=core)
    public = subnet(core, "10.0.0.0/24", "a")
    private_a, private_b = subnet(core, "10.0.1.0/24", "a"), subnet(core, "10.0.2.0/24", "b")
    private_a2 = subnet(core, "10.0.5.0/24", "a")  # a second private subnet in the first zone
    isolated = subnet(core, "10.0.3.0/24", "a")  # main route table: local routes only
    stale = subnet(core, "10.0.4.0/24", "b")
    retired = subnet(core, "10.0.9.0/24", "b")
    dual_a, dual_b = subnet(core, "10.0.6.0/24", "a"), subnet(core, "10.0.7.0/24", "b")
    head, last = vpc_ipv6.split("::")[0].rsplit(":", 1)
    for index, subnet_id in enumerate((dual_a, dual_b), 1):
        ec2.associate_subnet_cidr_block(SubnetId=subnet_id, Ipv6CidrBlock=f"{head}:{int(last, 16) + index:x}::/64")
    route_table(core, [public], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    nat, old_nat = nat_gateway(public), nat_gateway(public)
    route_table(core, [private_a, private_b, private_a2], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    route_table(core, [stale], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=old_nat)
    ec2.delete_nat_gateway(NatGatewayId=old_nat)
    eigw = ec2.create_egress_only_internet_gateway(VpcId=core)["EgressOnlyInternetGateway"][
        "EgressOnlyInternetGatewayId"
    ]
    dual_table = route_table(core, [dual_a, dual_b], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.create_route(RouteTableId=dual_table, DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId=eigw)

    # "legacy": a VPC of dedicated instance tenancy.
    legacy = ec2.create_vpc(CidrBlock="172.16.0.0/16", InstanceTenancy="dedicated")["Vpc"]["VpcId"]
    dedicated = subnet(legacy, "172.16.1.0/24", "a")

    def role(name: str, attached: Sequence[str] = (), **inline: list[dict]) -> str:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        for policy_arn in attached:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        for policy_name, statements in inline.items():
            document = {"Version": "2012-10-17", "Statement": statements}
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
        return arn

    eni_actions = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                   "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    account = session.client("sts").get_caller_identity()["Account"]
    # The AWS managed policy the Lambda docs recommend.
    vpc_access = add_aws_managed_policy(account, VPC_ACCESS_POLICY)
    default_role = role("demo-lambda-vpc", attached=[vpc_access])
    one_eni_role = role("audit-exporter-role", eni=[
        {"Effect": "Allow", "Action": [a for a in eni_actions if a != "ec2:DeleteNetworkInterface"], "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:DeleteNetworkInterface",
         "Resource": f"arn:aws:ec2:{REGION}:{account}:network-interface/eni-0a1b2c3d4e5f60718"},
    ])
    guarded_role = role("payments-worker-role", attached=[vpc_access], guard=[
        {"Effect": "Deny", "Action": ["ec2:DeleteNetworkInterface", "ec2:Unassign*"], "Resource": "*"},
    ])
    conditional_role = role("metrics-agent-role", eni=[
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
    ])
    # Roles careful teams write on purpose, all COMPLIANT: least privilege (the function's own subnets and
    # security group), the guard the Lambda guide recommends (the function's code loses the ENI write
    # actions: lambda:SourceFunctionArn), and a region lock.
    app_group = ec2.create_security_group(GroupName="stock-reader", Description="stock-reader functions",
                                          VpcId=core)["GroupId"]
    ec2_arn = f"arn:aws:ec2:{REGION}:{account}"
    least_privilege_role = role("stock-reader-role", eni=[
        {"Sid": "Describe", "Effect": "Allow", "Action": eni_actions[1:3], "Resource": "*"},
        {"Sid": "CreateInOwnSubnets", "Effect": "Allow", "Action": "ec2:CreateNetworkInterface",
         "Resource": [f"{ec2_arn}:network-interface/*", f"{ec2_arn}:subnet/{private_a}",
                      f"{ec2_arn}:subnet/{private_b}", f"{ec2_arn}:security-group/{app_group}"]},
        {"Sid": "ManageLambdaEnis", "Effect": "Allow", "Action": eni_actions[3:],
         "Resource": f"{ec2_arn}:network-interface/eni-*"},
    ])
    write_actions = [eni_actions[0], *eni_actions[3:]]
    guarded_code_role = role("ledger-api-role", attached=[vpc_access], guard=[
        {"Sid": "NotFromFunctionCode", "Effect": "Deny", "Action": write_actions, "Resource": "*",
         "Condition": {"ArnEquals": {"lambda:SourceFunctionArn": f"arn:aws:lambda:{REGION}:{account}:function:*"}}},
    ])
    region_locked_role = role("catalog-api-role", attached=[vpc_access], regions=[
        {"Sid": "OnlyUsRegions", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}},
    ])
    code = {"ZipFile": _code_zip()}
    stories: dict[str, str] = {}

    def function(
        name: str,
        subnets: list[str] | None,
        story: str,
        ipv6: bool | None = None,
        tags: dict[str, str] | None = None,
        role: str = default_role,
        security_groups: list[str] | None = None,
    ) -> None:
        extra: dict = {"Tags": tags} if tags else {}
        if subnets:
            extra["VpcConfig"] = {"SubnetIds": subnets, "SecurityGroupIds": security_groups or []}
            if ipv6 is not None:
                extra["VpcConfig"]["Ipv6AllowedForDualStack"] = ipv6
        lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler", Code=code, **extra
        )
        stories[name] = story

    function("orders-api", [private_a, private_b], "private subnets in two AZs behind an available NAT gateway")
    function("billing-sync", [dedicated], "attached to a VPC of dedicated instance tenancy")
    function("public-webhook", [public], "in a public subnet: its ENI gets no public IP, so no internet")
    function(
        "ledger-writer",
        [isolated],
        "isolated subnet, tagged as needing no internet",
        tags={"lambda-vpc-rules:internet-access": "none"},
    )
    function("report-mailer", [isolated], "isolated subnet, but it needs the internet (no 0.0.0.0/0 route)")
    function("legacy-poller", [stale], "its subnet routes to a NAT gateway that was deleted")
    function("retired-subnet-job", [retired], "its subnet was deleted after it was attached")
    function("dual-stack-api", [dual_a, dual_b], "dual-stack subnets with Ipv6AllowedForDualStack on", ipv6=True)
    function("ipv6-mismatch", [dual_a, private_a], "Ipv6AllowedForDualStack on, one subnet without IPv6", ipv6=True)
    function("ipv6-unused", [dual_a, dual_b], "dual-stack subnets, Ipv6AllowedForDualStack off", ipv6=False)
    function("image-resizer", None, "not attached to a VPC")
    function("inventory-sync", [private_a, private_a2], "two private subnets behind the NAT gateway, both in one AZ")
    function("audit-exporter", [private_a, private_b], "its role may delete one ENI ID only, not every ENI",
             role=one_eni_role)
    function("payments-worker", [private_a, private_b], "a guard policy denies deleting ENIs", role=guarded_role)
    function("metrics-agent", [private_a, private_b], "its only EC2 grant holds in eu-west-1 only (condition not met)",
             role=conditional_role)
    function("stock-reader", [private_a, private_b], "least privilege: ENIs only in its own subnets and group",
             role=least_privilege_role, security_groups=[app_group])
    function("ledger-api", [private_a, private_b], "AWS's guard: its own code cannot create or delete ENIs",
             role=guarded_code_role)
    function("catalog-api", [private_a, private_b], "its role is locked to two US regions, its own among them",
             role=region_locked_role)
    ec2.delete_subnet(SubnetId=retired)
    return stories


@contextlib.contextmanager
def moto_as_aws_answers():
    """Correct where moto 5.2 answers differently from AWS, for the demo and the tests.

    moto nests a subnet's IPv6 association state (`Ipv6CidrBlockState: {"State": "{'State': 'associated'}"}`)
    where AWS answers `{"State": "associated"}`; the reads (`aws.parse`) take AWS's shape. moto also lacks filters
    AWS documents and the pack uses: DescribeVpcEndpoints' `vpc-endpoint-id` and `vpc-id`, DescribeRouteTables'
    `route.destination-prefix-list-id` (it raises FilterNotImplementedError); they are added here.
    """
    from moto.ec2.models.route_tables import RouteTable as MotoRouteTable
    from moto.ec2.models.subnets import Subnet as MotoSubnet
    from moto.ec2.models.vpcs import VPCEndPoint as MotoEndpoint

    endpoint_filter, table_filter = MotoEndpoint.get_filter_value, MotoRouteTable.get_filter_value

    def endpoint_filter_value(endpoint, name, method_name=None):
        if name == "vpc-endpoint-id":
            return endpoint.id
        if name == "vpc-id":
            return endpoint.vpc_id
        return endpoint_filter(endpoint, name, method_name)

    def table_filter_value(table, name, method_name=None):
        if name == "route.destination-prefix-list-id":
            return [route.destination_prefix_list_id for route in table.routes if route.destination_prefix_list_id]
        return table_filter(table, name, method_name)

    def association_set(subnet) -> list[dict]:
        return [
            {
                "ipv6CidrBlock": association["ipv6CidrBlock"],
                "associationId": association["associationId"],
                "ipv6CidrBlockState": {"state": association["ipv6CidrBlockState"]["State"]},
            }
            for association in subnet.ipv6_cidr_block_associations.values()
            if association["ipv6CidrBlockState"]["State"] == "associated"
        ]

    with mock.patch.object(MotoSubnet, "ipv6_cidr_block_association_set", property(association_set)), \
            mock.patch.object(MotoEndpoint, "get_filter_value", endpoint_filter_value), \
            mock.patch.object(MotoRouteTable, "get_filter_value", table_filter_value):
        yield


def run_demo(
    out_dir: str,
    rules: Sequence[Rule] = RULES,
    raw_parameters: dict[str, str] | None = None,
    progress=lambda message: None,
    wrote=lambda path, what: None,
) -> ScanReport:
    """Build the demo estate in moto, scan it like a live account, write into `out_dir`: demo-estate.json (what
    each function is meant to show), demo-scan.json, demo-findings.asff.json and the evidence/ bundle.
    `progress` is told each stage, `wrote` each file written."""
    try:
        from moto import mock_aws  # a test/demo dependency, imported only here
    except ImportError as error:
        raise PackError(f"the demo needs moto ({error}): pip install 'lambda-vpc-rules[demo]'") from None

    # Fake credentials so no real profile is read and nothing can reach AWS; restored afterwards.
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "false",  # the one the demo attaches is added alone
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # 1,300 AMIs, each with a volume and a snapshot; none is used
    }
    with mock.patch.dict(os.environ, environment), contextlib.ExitStack() as stack:
        os.environ.pop("AWS_PROFILE", None)
        stack.enter_context(mock_aws())
        stack.enter_context(moto_as_aws_answers())
        session = boto3.Session(region_name=REGION)
        progress("Building the demo estate in moto (VPCs, subnets, roles, functions)")
        stories = build_demo_estate(session)
        report = scan_session(session, rules, raw_parameters, progress=progress)
        caller = session.client("sts").get_caller_identity()
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    progress(f"Writing the verdicts (JSON) and each function's story to {path}")
    (path / "demo-estate.json").write_text(json.dumps(stories, indent=2) + "\n", encoding="utf-8")
    wrote(path / "demo-estate.json", f"what each of the {len(stories)} demo functions is meant to show")
    (path / "demo-scan.json").write_text(to_json(report), encoding="utf-8")
    wrote(path / "demo-scan.json", f"the {len(report.evaluations)} verdicts (JSON, as `scan --format json`)")
    progress(f"Writing {len(report.evaluations)} Security Hub findings (ASFF)")
    (path / "demo-findings.asff.json").write_text(to_asff(report), encoding="utf-8")
    wrote(path / "demo-findings.asff.json", "the same verdicts as Security Hub findings (ASFF)")
    progress("Writing the evidence bundle (evaluations, report.html, manifest.json)")
    write_bundle(path / "evidence", Evidence.from_scan(report, "scan (demo estate)", identity(caller)))
    wrote(f"{path / 'evidence'}/", "evidence bundle: evaluations.json/.csv, report.html, manifest.json")
    return report
