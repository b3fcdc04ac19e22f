"""API-call budgets at scale, counted (not timed) against moto: 2,000 VPC functions over 400 roles,
10 VPCs and 60 subnets. Calls must grow with pages of results, never with functions or roles. moto
answers each listing in one page, so the count is of the calls AWS would need (`CallRecorder.aws_calls`,
from the items moto returned and AWS's page sizes). `make bench` prints the same figures at more sizes."""

from __future__ import annotations

import json
import os
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from aws_support import (
    REGION,
    CallRecorder,
    ConfigCalls,
    change_event,
    configuration_item,
    earlier_evaluations,
    scheduled_event,
)
from conftest import FAKE_ENVIRONMENT, load_rule_module
from lambda_vpc_rules.aws.account import scan_session
from lambda_vpc_rules.aws.facts import FactReader
from lambda_vpc_rules.core.model import Fact, role_name_from_arn
from lambda_vpc_rules.core.rules import RULES
from large_account import SIX, Shape, seed

SHAPE = Shape(functions=2000, roles=400, vpcs=10, subnets=60)


@pytest.fixture(scope="module")
def account():
    with mock.patch.dict(os.environ, FAKE_ENVIRONMENT), mock_aws():
        session = boto3.Session(region_name=REGION)
        yield session, seed(session, SHAPE)


def test_scan_with_every_rule_stays_within_150_calls(account):
    session, _ = account
    recorder = CallRecorder().install(session)
    report = scan_session(session)
    assert len(report.evaluations) == SHAPE.functions * len(RULES)
    print(f"scan, {SHAPE}: {recorder.aws_calls()} AWS calls ({len(recorder.calls)} against moto)")
    assert recorder.aws_calls() <= 150
    assert recorder.calls.count("lambda:ListFunctions") == 1  # listed once for all the rules


def test_per_function_reads_would_cost_calls_per_role(account):
    """The approach account_facts replaced: IAM read role by role. Shown, so the ratio stays honest."""
    session, _ = account
    fetcher = FactReader(session.client)
    functions = fetcher.list_functions()
    recorder = CallRecorder().install(session)
    one_by_one = FactReader(session.client)
    for name in sorted({role_name_from_arn(fn.role_arn) for fn in functions}):
        one_by_one.roles_one_by_one([name])
    per_role = recorder.aws_calls()
    recorder.calls.clear()
    recorder.pages.clear()
    FactReader(session.client).account_facts({Fact.IAM})
    print(f"IAM facts for {SHAPE.roles} roles: {per_role} calls role by role, {recorder.aws_calls()} account-wide")
    assert per_role >= 3 * SHAPE.roles and recorder.aws_calls() <= 2


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_scheduled_run_puts_by_100(account, rule):
    """In the steady state: the rule has judged every function before."""
    session, seeded = account
    boto3.setup_default_session(region_name=REGION)
    config_calls = ConfigCalls(previous_results=earlier_evaluations(rule.config_rule_name, seeded["functions"]))
    config_calls.install(boto3.DEFAULT_SESSION)
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    load_rule_module(rule.rdk_name).lambda_handler(scheduled_event(rule.config_rule_name), None)
    assert [len(request["Evaluations"]) for request in config_calls.put] == [100] * (SHAPE.functions // 100)
    by_operation = recorder.by_operation()
    print(f"scheduled {rule.config_rule_name}: {recorder.aws_calls()} AWS calls: {dict(sorted(by_operation.items()))}")
    assert by_operation["config:GetComplianceDetailsByConfigRule"] == SHAPE.functions // 100
    assert recorder.aws_calls() <= 150


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_a_change_costs_at_most_12_calls(account, rule):
    session, _ = account
    function = session.client("lambda").get_function(FunctionName="fn-00007")["Configuration"]
    boto3.setup_default_session(region_name=REGION)
    ConfigCalls().install(boto3.DEFAULT_SESSION)
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    load_rule_module(rule.rdk_name).lambda_handler(change_event(configuration_item(function),
                                                                rule.config_rule_name), None)
    calls = recorder.aws_calls()  # PutEvaluations and rdklib's AssumeRole included
    print(f"change, {rule.config_rule_name}: {calls} calls: {sorted(recorder.calls)}")
    assert calls <= 12


def test_a_change_stays_within_12_calls_whatever_the_role_holds(estate, config_calls):
    """A role with many managed policies (the default IAM quota is 10), a boundary and inline policies: its
    managed policies come from one GetAccountAuthorizationDetails page, not two calls each. Only the last
    one (also the boundary) grants the ENI actions, so COMPLIANT needs every document read."""
    iam = estate.iam
    role = estate.role("busy-role")
    other = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    for index in range(10):
        document = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": SIX, "Resource": "*"}]}) if index == 9 else other
        arn = iam.create_policy(PolicyName=f"managed-{index}", PolicyDocument=document)["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="busy-role", PolicyArn=arn)
    iam.put_role_permissions_boundary(RoleName="busy-role", PermissionsBoundary=arn)
    for index in range(3):
        iam.put_role_policy(RoleName="busy-role", PolicyName=f"inline-{index}", PolicyDocument=other)
    function = estate.function("busy", [estate.subnet(estate.vpc(), "10.0.1.0/24")], role=role)
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    load_rule_module("LAMBDA_VPC_ENI_PERMISSIONS").lambda_handler(
        change_event(configuration_item(function), "lambda-vpc-eni-permissions"), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["COMPLIANT"]
    print(f"change, role with 10 managed and 3 inline policies: {recorder.aws_calls()} calls: {sorted(recorder.calls)}")
    assert recorder.aws_calls() <= 12
    assert recorder.calls.count("iam:GetAccountAuthorizationDetails") == 1 and "iam:GetPolicy" not in recorder.calls
