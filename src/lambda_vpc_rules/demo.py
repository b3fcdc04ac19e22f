"""The built-in demo estate: a small AWS account in an in-process moto mock, evaluated like a real one.

No AWS account and no network are used: moto answers every call inside this process.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import boto3

from .output import ScanReport, to_json
from .rules import RULES, Rule

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


def build_demo_estate(session: boto3.Session) -> dict[str, str]:
    """Create the demo account's network, roles and functions; return the functions' intended stories."""
    ec2 = session.client("ec2")
    iam = session.client("iam")
    lam = session.client("lambda")

    core = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=core)
    public = ec2.create_subnet(VpcId=core, CidrBlock="10.0.0.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    private_a = ec2.create_subnet(VpcId=core, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"][
        "SubnetId"
    ]
    private_b = ec2.create_subnet(VpcId=core, CidrBlock="10.0.2.0/24", AvailabilityZone=f"{REGION}b")["Subnet"][
        "SubnetId"
    ]
    retired = ec2.create_subnet(VpcId=core, CidrBlock="10.0.9.0/24", AvailabilityZone=f"{REGION}b")["Subnet"][
        "SubnetId"
    ]
    public_rt = ec2.create_route_table(VpcId=core)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    private_rt = ec2.create_route_table(VpcId=core)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for subnet in (private_a, private_b):
        ec2.associate_route_table(RouteTableId=private_rt, SubnetId=subnet)

    legacy = ec2.create_vpc(CidrBlock="172.16.0.0/16", InstanceTenancy="dedicated")["Vpc"]["VpcId"]
    dedicated = ec2.create_subnet(VpcId=legacy, CidrBlock="172.16.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"][
        "SubnetId"
    ]

    role = iam.create_role(RoleName="demo-lambda-vpc", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]

    code = {"ZipFile": _code_zip()}

    def function(name: str, subnets: list[str] | None, story: str) -> tuple[str, str]:
        extra = {"VpcConfig": {"SubnetIds": subnets, "SecurityGroupIds": []}} if subnets else {}
        lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler", Code=code, **extra
        )
        return name, story

    stories = dict(
        [
            function("orders-api", [private_a, private_b], "private subnets behind a NAT gateway, default tenancy"),
            function("billing-sync", [dedicated], "attached to a VPC of dedicated tenancy"),
            function("public-webhook", [public], "in a public subnet (route to an internet gateway)"),
            function("retired-subnet-job", [retired], "its subnet was deleted after it was attached"),
            function("image-resizer", None, "not attached to a VPC"),
        ]
    )
    ec2.delete_subnet(SubnetId=retired)
    return stories


def run_demo(
    out_dir: str,
    rules: Sequence[Rule] = RULES,
    raw_parameters: dict[str, str] | None = None,
    progress=lambda message: None,
) -> ScanReport:
    """Build the demo estate in moto, scan it like a live account, write `<out_dir>/demo-scan.json`."""
    from moto import mock_aws  # a test/demo dependency, imported only here

    from .cli import scan_session

    # Fake credentials so no real profile is read and nothing can reach AWS.
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        build_demo_estate(session)
        report = scan_session(session, rules, raw_parameters, progress=progress)
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / "demo-scan.json").write_text(to_json(report), encoding="utf-8")
    progress(f"Wrote {path / 'demo-scan.json'}")
    return report
