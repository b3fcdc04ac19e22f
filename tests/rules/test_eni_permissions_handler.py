"""LAMBDA_VPC_ENI_PERMISSIONS against moto (with the AWS managed policy AWSLambdaVPCAccessExecutionRole):
through the RDK handler (change and scheduled events) and `scan`, with roles built the ways teams build
them, and every role shape of the rows that depend on the request context (eni_shapes.py) on a function in
two tagged subnets with a security group."""

from __future__ import annotations

import json
import os
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from aws_support import REGION, ConfigCalls, Estate, change_event, configuration_item, scheduled_event
from conftest import FAKE_ENVIRONMENT, load_rule_module
from eni_shapes import SHAPES, SUBNET_TAGS, Env, create_by_subnet_tag
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.demo import add_aws_managed_policy, moto_as_aws_answers

RULE_NAME, RULE_DIR = "lambda-vpc-eni-permissions", "LAMBDA_VPC_ENI_PERMISSIONS"
MANAGED = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


def document(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def roles():
    """Roles and functions, built once. Of the AWS managed policies, moto holds the one the roles attach (as the
    demo does): loading all ~1,300 (MOTO_IAM_LOAD_MANAGED_POLICIES) made every GetAccountAuthorizationDetails
    answer serialize them all, seconds per test, for verdicts that read only the attached one."""
    with mock.patch.dict(os.environ, FAKE_ENVIRONMENT), mock_aws(), moto_as_aws_answers():
        estate = Estate(boto3.Session(region_name=REGION))
        assert add_aws_managed_policy("123456789012", MANAGED.rsplit("/", 1)[1]) == MANAGED
        iam = estate.iam
        subnet = estate.subnet(estate.vpc(), "10.0.1.0/24")

        def role(name: str, inline: dict | None = None, attached=(), boundary: str | None = None) -> str:
            arn = estate.role(name)
            for policy_name, doc in (inline or {}).items():
                iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=doc)
            for policy_arn in attached:
                iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
            if boundary:
                iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
            return arn

        custom = iam.create_policy(PolicyName="eni-v1-too-narrow", PolicyDocument=document(
            {"Effect": "Allow", "Action": SIX[:3], "Resource": "*"}))["Policy"]["Arn"]
        # v2 becomes the default version: the rule must read it, not v1.
        iam.create_policy_version(PolicyArn=custom, SetAsDefault=True, PolicyDocument=document(
            {"Effect": "Allow", "Action": SIX, "Resource": "*"}))
        boundary = iam.create_policy(PolicyName="boundary-no-create", PolicyDocument=document(
            {"Effect": "Allow", "Action": ["logs:*", "ec2:Describe*", "ec2:Delete*"], "Resource": "*"}))["Policy"][
            "Arn"]
        arns = {
            "managed": role("managed-role", attached=[MANAGED]),
            "customer-v2": role("customer-v2-role", attached=[custom]),
            "no-eni": role("logs-only-role", inline={"logs": document(
                {"Effect": "Allow", "Action": "logs:*", "Resource": "*"})}),
            "one-eni": role("one-eni-role", inline={"eni": document(
                {"Effect": "Allow", "Action": SIX[:3] + SIX[4:], "Resource": "*"},
                {"Effect": "Allow", "Action": "ec2:DeleteNetworkInterface",
                 "Resource": "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0abc"})}),
            "denied": role("denied-role", attached=[MANAGED], inline={"guard": document(
                {"Effect": "Deny", "Action": "ec2:DeleteNetworkInterface", "Resource": "*"})}),
            "bounded": role("bounded-role", attached=[MANAGED], boundary=boundary),
            "admin": role("admin-role", inline={"admin": document({"Effect": "Allow", "Action": "*",
                                                                   "Resource": "*"})}),
            "doomed": role("doomed-role", attached=[MANAGED]),
        }
        made = {name: estate.function(f"fn-{name}", [subnet], role=arn) for name, arn in arns.items()}
        made["no-vpc"] = estate.function("fn-no-vpc", role=arns["no-eni"])
        # the request-context rows: two subnets tagged tier=app and a security group
        vpc = estate.ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
        second = estate.subnet(vpc, "10.0.2.0/24", az="b")
        estate.ec2.create_tags(Resources=[subnet, second],
                               Tags=[{"Key": k, "Value": v} for k, v in SUBNET_TAGS.items()])
        group = estate.ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
        for shape in SHAPES:
            if not shape.aws:
                continue
            name = f"shape-{shape.name}"
            env = Env(f"arn:aws:lambda:{REGION}:123456789012:function:fn-{name}", vpc, (subnet, second), (group,))
            arn = role(f"{name}-role", inline={"eni": document(*shape.statements(env))},
                       attached=[MANAGED] if shape.managed else ())
            if shape.role_tags:
                iam.tag_role(RoleName=f"{name}-role", Tags=[{"Key": k, "Value": v} for k, v in shape.role_tags.items()])
            made[name] = estate.function(f"fn-{name}", [subnet, second], role=arn, security_groups=[group])
            assert made[name]["FunctionArn"] == env.function_arn
        # a subnet deleted after the function was attached: its tags are unknown, so a grant on them is too
        retired = estate.subnet(vpc, "10.0.9.0/24")
        env = Env("arn:aws:lambda:us-east-1:123456789012:function:fn-retired-subnet", vpc, (retired,), (group,))
        made["retired-subnet"] = estate.function("fn-retired-subnet", [retired], security_groups=[group], role=role(
            "retired-subnet-role", inline={"eni": document(*create_by_subnet_tag(env, "app", "ec2:ResourceTag/tier"))}))
        estate.ec2.delete_subnet(SubnetId=retired)
        iam.detach_role_policy(RoleName="doomed-role", PolicyArn=MANAGED)
        iam.delete_role(RoleName="doomed-role")
        yield made


@pytest.fixture
def config_calls(roles):
    return ConfigCalls.on_default_session()


CASES = [
    ("managed", {}, "COMPLIANT", []),
    ("customer-v2", {}, "COMPLIANT", []),
    ("no-eni", {}, "NON_COMPLIANT", ["all 6 ENI actions (missing"]),
    ("one-eni", {}, "NON_COMPLIANT", ["ec2:DeleteNetworkInterface (resource too narrow"]),
    ("denied", {}, "NON_COMPLIANT", ["ec2:DeleteNetworkInterface (denied"]),
    ("bounded", {}, "NON_COMPLIANT", ["ec2:CreateNetworkInterface, ec2:AssignPrivateIpAddresses", "(boundary"]),
    ("admin", {}, "COMPLIANT", []),
    ("admin", {"FlagOverbroadEc2": "true"}, "NON_COMPLIANT", ["FlagOverbroadEc2"]),
    ("doomed", {}, "NON_COMPLIANT", ["doomed-role", "missing"]),
    ("no-vpc", {}, "NOT_APPLICABLE", []),
    ("retired-subnet", {}, "NON_COMPLIANT", ["StringEquals ec2:ResourceTag/tier cannot be known"]),
    *((f"shape-{shape.name}", dict(shape.parameters), shape.compliance, list(shape.words))
      for shape in SHAPES if shape.aws),
]
PARAMETER_SETS = sorted({tuple(sorted(parameters.items())) for _, parameters, _, _ in CASES})


@pytest.mark.parametrize(("name", "parameters", "compliance", "words"), CASES)
def test_change_notification(config_calls, roles, name, parameters, compliance, words):
    handler = load_rule_module(RULE_DIR).lambda_handler
    handler(change_event(configuration_item(roles[name]), RULE_NAME, parameters), None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceType"] == compliance, evaluation.get("Annotation")
    for word in words:
        assert word in evaluation["Annotation"]


@pytest.mark.parametrize("parameters", PARAMETER_SETS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p) or "defaults")
def test_scheduled_notification(config_calls, roles, parameters):
    load_rule_module(RULE_DIR).lambda_handler(scheduled_event(RULE_NAME, dict(parameters)), None)
    verdicts = {rid: e["ComplianceType"] for rid, e in config_calls.by_resource().items()}
    for name, case_parameters, compliance, _ in CASES:
        if tuple(sorted(case_parameters.items())) == parameters:
            assert verdicts[f"fn-{name}"] == compliance, name


@pytest.mark.parametrize("parameters", PARAMETER_SETS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p) or "defaults")
def test_scan(roles, capsys, parameters):
    options = [item for key, value in parameters for item in ("--param", f"{key}={value}")]
    code = main(["scan", "--region", REGION, "--format", "json", "--rule", RULE_NAME, *options])
    evaluations = {e["resource_id"]: e for e in json.loads(capsys.readouterr().out)["evaluations"]}
    assert code == 1
    for name, case_parameters, compliance, words in CASES:
        if tuple(sorted(case_parameters.items())) == parameters:
            assert evaluations[f"fn-{name}"]["compliance"] == compliance, name
            for word in words:
                assert word in evaluations[f"fn-{name}"]["annotation"], name
