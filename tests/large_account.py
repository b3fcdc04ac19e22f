"""A large account for budgets and benchmarks, seeded in moto through the AWS API: VPCs with a public
subnet, an internet gateway and a NAT gateway each; private subnets routed to it; roles that alternate
between an inline ENI policy and an attached customer-managed one; functions spread over all of them.
With `egress_design`, each VPC also routes its private subnets to an Amazon S3 gateway endpoint and a
customer prefix list (one for the account), and its NAT gateway's subnet through a Gateway Load Balancer
endpoint in a firewall subnet (AWS Network Firewall's design) to the internet gateway."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import boto3

from aws_support import Estate

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
    egress_design: bool = False  # prefix lists, a gateway endpoint and a firewall endpoint in each VPC


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def seed(session: boto3.Session, shape: Shape) -> dict[str, list[str]]:
    estate = Estate(session)
    iam, lam = estate.iam, estate.lam
    private: list[str] = []
    per_vpc = max(1, shape.subnets // shape.vpcs)
    partners = estate.prefix_list("partners", ["52.94.0.0/22", "35.71.64.0/22"]) if shape.egress_design else None
    for v in range(shape.vpcs):
        vpc = estate.vpc(f"10.{v}.0.0/16")
        public = estate.subnet(vpc, f"10.{v}.0.0/24")
        igw = estate.internet_gateway(vpc)
        if shape.egress_design:
            firewall = estate.subnet(vpc, f"10.{v}.200.0/24")
            estate.route_table(vpc, [firewall], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            estate.route_table(vpc, [public], DestinationCidrBlock="0.0.0.0/0",
                               VpcEndpointId=estate.gwlb_endpoint(vpc, firewall))
        else:
            estate.route_table(vpc, [public], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        subnets = [estate.subnet(vpc, f"10.{v}.{s + 1}.0/24") for s in range(per_vpc)]
        nat = estate.nat_gateway(public)
        table = estate.route_table(vpc, subnets, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        if shape.egress_design:
            estate.gateway_endpoint(vpc, "s3", [table])
            estate.ec2.create_route(RouteTableId=table, DestinationPrefixListId=partners, NatGatewayId=nat)
        private += subnets
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
