"""The CloudFormation Lambda Hook (hook/handler.py) with the documented request shapes (CloudFormation Hooks
User Guide, "Create Lambda functions to evaluate resources for Lambda Hooks"): resource create and update,
delete, stack and change set (their payloads, behind the presigned URL, passed in here), malformed
requests; and its AWS calls for a stack of 200 functions (the hook waits 30 seconds: a budget on calls)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from aws_support import CallRecorder, Estate
from conftest import ACCOUNT, FAKE_ENVIRONMENT, REGION
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.hook.handler import MESSAGE_LIMIT, evaluate
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

ENI = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]}]}


@pytest.fixture(scope="module")
def moto_session():
    """One moto account for the module: private subnets in two zones behind a NAT gateway, a public one, a
    role that can manage ENIs (built once: the tests only read it)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_ENVIRONMENT.items():
            patch.setenv(key, value)
        with mock_aws(), moto_as_aws_answers():
            session = boto3.Session(region_name=REGION)
            estate = Estate(session)
            vpc = estate.vpc("10.0.0.0/16")
            public = estate.subnet(vpc, "10.0.0.0/24", "a")
            private = [estate.subnet(vpc, "10.0.1.0/24", "a"), estate.subnet(vpc, "10.0.2.0/24", "b")]
            igw = estate.internet_gateway(vpc)
            estate.route_table(vpc, [public], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            nat = estate.nat_gateway(public)
            estate.route_table(vpc, private, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
            role = estate.role("hook-fn")
            session.client("iam").put_role_policy(RoleName="hook-fn", PolicyName="eni", PolicyDocument=json.dumps(ENI))
            yield session, {"public": public, "private": private, "role": role}


@pytest.fixture
def network(moto_session):
    session, network = moto_session
    return {**network, "clients": Clients(session_clients(session))}


@pytest.fixture
def aws(moto_session):
    return moto_session[0]


def _request(point: str, data: dict) -> dict:
    return {
        "clientRequestToken": "f6a8b3c2-1111-2222-3333-444455556666",
        "awsAccountId": ACCOUNT,
        "stackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/app/1a2b3c4d",
        "changeSetId": None,
        "hookTypeName": "Private::Lambda::VpcRules",
        "hookTypeVersion": "00000001",
        "hookModel": {"LambdaFunction": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:lambda-vpc-rules-hook"},
        "actionInvocationPoint": point,
        "requestData": data,
        "requestContext": {"invocation": 1, "callbackContext": None},
    }


def _function(network, subnets, **extra) -> dict:
    return {"FunctionName": "app-fn", "Role": network["role"], "Runtime": "python3.12", "Handler": "index.handler",
            "Code": {"ZipFile": "x"}, "VpcConfig": {"SubnetIds": subnets, "SecurityGroupIds": ["sg-0123456789abcdef0"]},
            **extra}


def _resource(point: str, properties: dict, previous: dict | None = None, kind: str = "AWS::Lambda::Function"):
    model = {"resourceProperties": properties, **({"previousResourceProperties": previous} if previous else {})}
    return _request(point, {"targetName": kind, "targetType": kind, "targetLogicalId": "AppFunction",
                            "targetModel": model})


def test_create_of_a_compliant_function_succeeds(network):
    answer = evaluate(_resource("CREATE_PRE_PROVISION", _function(network, network["private"])), network["clients"])
    assert answer["hookStatus"] == "SUCCESS" and answer["clientRequestToken"].startswith("f6a8")
    assert "errorCode" not in answer


def test_update_into_a_public_single_zone_subnet_fails_with_the_annotations(network):
    before = _function(network, network["private"])
    request = _resource("UPDATE_PRE_PROVISION", _function(network, [network["public"]]), before)
    answer = evaluate(request, network["clients"])
    assert (answer["hookStatus"], answer["errorCode"]) == ("FAILED", "NonCompliant")
    assert "lambda-vpc-private-subnet-nat" in answer["message"] and "is public" in answer["message"]
    assert "lambda-vpc-multi-az" in answer["message"] and len(answer["message"]) <= MESSAGE_LIMIT


def test_the_exceptions_register_applies(network):
    """The waiver tag lets a function without internet access pass the private-subnet rule, as deployed."""
    isolated = _function(network, network["private"], Tags=[{"Key": "lambda-vpc-rules:internet-access",
                                                              "Value": "none"}])
    answer = evaluate(_resource("CREATE_PRE_PROVISION", isolated), network["clients"])
    assert answer["hookStatus"] == "SUCCESS"


def test_delete_and_other_types_succeed_without_reads(aws, network):
    recorder = CallRecorder().install(aws)
    clients = Clients(session_clients(aws))
    assert evaluate(_resource("DELETE_PRE_PROVISION", _function(network, [network["public"]])),
                    clients)["hookStatus"] == "SUCCESS"
    other = _resource("CREATE_PRE_PROVISION", {"BucketName": "b"}, kind="AWS::S3::Bucket")
    assert evaluate(other, clients)["hookStatus"] == "SUCCESS"
    assert recorder.calls == []


@pytest.mark.parametrize("request_", [
    {"awsAccountId": ACCOUNT},
    {"clientRequestToken": "t", "actionInvocationPoint": "SOMETIME", "requestData": {}},
    {"clientRequestToken": "t", "actionInvocationPoint": "CREATE_PRE_PROVISION",
     "requestData": {"targetType": "AWS::Lambda::Function", "targetModel": {}}},
    {"clientRequestToken": "t", "actionInvocationPoint": "CREATE_PRE_PROVISION",
     "requestData": {"targetType": "STACK", "targetName": "STACK"}},
])
def test_malformed_requests_fail_as_internal_failures_not_verdicts(network, request_):
    answer = evaluate(request_, network["clients"])
    assert (answer["hookStatus"], answer["errorCode"]) == ("FAILED", "InternalFailure")


def _stack_template(network, count: int, subnets) -> dict:
    resources = {}
    for index in range(count):
        resources[f"Fn{index}"] = {"Type": "AWS::Lambda::Function", "Properties": _function(
            network, subnets, FunctionName=f"fn-{index}")}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def test_change_set_judges_the_changed_functions_only(network):
    template = _stack_template(network, 2, network["private"])
    template["Resources"]["Fn1"]["Properties"]["VpcConfig"]["SubnetIds"] = [network["public"]]
    payload = {"template": json.dumps(template), "changedResources": [
        {"action": "CREATE", "logicalResourceId": "Fn0", "resourceType": "AWS::Lambda::Function", "lineNumber": 3,
         "beforeContext": None, "afterContext": json.dumps({"Properties": template["Resources"]["Fn0"]["Properties"]})},
    ]}
    request = _request("CREATE_PRE_PROVISION", {"targetName": "CHANGE_SET", "targetType": "CHANGE_SET",
                                                "targetLogicalId": "arn:aws:cloudformation:cs", "payload": "https://x"})
    answer = evaluate(request, network["clients"], fetch=lambda url: payload)
    assert answer["hookStatus"] == "SUCCESS", answer["message"]
    payload["changedResources"][0]["logicalResourceId"] = "Fn1"
    answer = evaluate(request, network["clients"], fetch=lambda url: payload)
    assert answer["hookStatus"] == "FAILED" and "Fn1" in answer["message"] and "Fn0" not in answer["message"]


def test_a_stack_of_200_functions_is_answered_in_a_bounded_number_of_calls(aws, network):
    """The hook waits 30 s; the reads must not grow with the functions: the stack's 200 functions share
    their subnets and role, read once (scan's batched reads)."""
    template = _stack_template(network, 200, network["private"])
    request = _request("UPDATE_PRE_PROVISION", {"targetName": "STACK", "targetType": "STACK",
                                                "targetLogicalId": "app", "payload": "https://x"})
    recorder = CallRecorder().install(aws)
    clients = Clients(session_clients(aws))
    answer = evaluate(request, clients, fetch=lambda url: {"template": json.dumps(template),
                                                           "previousTemplate": None})
    assert answer["hookStatus"] == "SUCCESS", answer["message"]
    assert "200 function(s)" in answer["message"]
    print("hook calls for 200 functions:", recorder.by_operation())
    assert recorder.aws_calls() <= 15, recorder.by_operation()
    from lambda_vpc_rules.hook.template import READ_ACTIONS

    assert recorder.actions <= READ_ACTIONS  # the hook's role grants these


@pytest.mark.parametrize("mode", ["FAIL", "WARN"])
def test_the_hook_template_passes_cfn_lint(tmp_path, mode):
    from cfnlint.api import lint_file

    from lambda_vpc_rules.hook.template import hook_template, hook_template_json

    path = tmp_path / "hook.json"
    path.write_text(hook_template_json(mode))
    assert [str(match) for match in lint_file(path)] == []
    hook = hook_template(mode)["Resources"]["LambdaVpcRulesHook"]["Properties"]
    assert hook["FailureMode"] == mode and hook["TargetFilters"]["TargetNames"] == ["AWS::Lambda::Function"]
    with pytest.raises(ValueError):
        hook_template("IGNORE")


def test_the_published_exceptions_register_applies_as_in_the_deployed_rules(aws, network):
    """ExceptionsRegister among the hook's rule parameters (deploy passes the pack's on): an excepted function
    passes, naming nothing to fix; a register that cannot be read is an InternalFailure, never a verdict."""
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    register = {"version": "1", "exceptions": [{
        "id": "EX-4", "rules": ["*"], "scope": {"resources": ["app-fn"]}, "reason": "vendor appliance",
        "owner": "platform", "approver": "ciso", "ticket": "https://tickets.example.com/4",
        "approved": today.isoformat(), "expires": (today + dt.timedelta(days=5)).isoformat()}]}
    aws.client("s3").create_bucket(Bucket="hook-register")
    aws.client("s3").put_object(Bucket="hook-register", Key="register.json", Body=json.dumps(register))
    public = _resource("CREATE_PRE_PROVISION", _function(network, [network["public"]]))
    assert evaluate(public, network["clients"])["hookStatus"] == "FAILED"
    answer = evaluate(public, network["clients"], raw_parameters={"ExceptionsRegister":
                                                                     "s3://hook-register/register.json"})
    assert answer["hookStatus"] == "SUCCESS", answer
    missing = evaluate(public, network["clients"], raw_parameters={"ExceptionsRegister": "s3://hook-register/none"})
    assert (missing["hookStatus"], missing["errorCode"]) == ("FAILED", "InternalFailure")
