"""A large account for budgets and benchmarks, seeded in moto through the AWS API: VPCs with a public
subnet, an internet gateway and a NAT gateway each; private subnets routed to it; roles that alternate
between an inline ENI policy and an attached customer-managed one; functions spread over all of them."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import boto3

SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ENI = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": SIX, "Resource": "*"}]})


@dataclass(frozen=True)
class Shape:
    functions: int
    roles: int
    vpcs: int
    subnets: int  # private subnets, over all VPCs (each VPC also has one public subnet)


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def seed(session: boto3.Session, shape: Shape) -> dict[str, list[str]]:
    ec2, iam, lam = session.client("ec2"), session.client("iam"), session.client("lambda")
    private: list[str] = []
    per_vpc = max(1, shape.subnets // shape.vpcs)
    for v in range(shape.vpcs):
        vpc = ec2.create_vpc(CidrBlock=f"10.{v}.0.0/16")["Vpc"]["VpcId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        public = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{v}.0.0/24")["Subnet"]["SubnetId"]
        public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=public_table, SubnetId=public)
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        for s in range(per_vpc):
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{v}.{s + 1}.0/24")["Subnet"]["SubnetId"]
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
            private.append(subnet)
    policy = iam.create_policy(PolicyName="eni", PolicyDocument=ENI)["Policy"]["Arn"]
    roles = []
    for r in range(shape.roles):
        name = f"fn-role-{r}"
        roles.append(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"])
        if r % 2:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        else:
            iam.put_role_policy(RoleName=name, PolicyName="eni", PolicyDocument=ENI)
    code = {"ZipFile": _code()}
    names = []
    for f in range(shape.functions):
        name = f"fn-{f:05d}"
        subnets = [private[f % len(private)], private[(f + 1) % len(private)]]
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=roles[f % len(roles)],
                            Handler="index.handler", Code=code,
                            VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": []})
        names.append(name)
    return {"functions": names, "roles": roles, "subnets": private}
