"""The call budgets of tests/test_budgets.py with prefix lists and endpoints on every VPC's egress path: the
same 2,000 functions over 400 roles, 10 VPCs and 60 subnets, each VPC's private subnets also routed to the
Amazon S3 gateway endpoint and a customer prefix list, its NAT gateway's subnet through a firewall (Gateway
Load Balancer) endpoint. A module of its own: moto's IAM is global, so this account cannot be seeded while
test_budgets.py's is alive."""

from __future__ import annotations

import os
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from aws_support import REGION, CallRecorder, ConfigCalls, change_event, configuration_item
from conftest import FAKE_ENVIRONMENT, load_rule_module
from lambda_vpc_rules.aws.account import scan_session
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers
from large_account import Shape, seed
from test_budgets import SHAPE

EGRESS_SHAPE = Shape(SHAPE.functions, SHAPE.roles, SHAPE.vpcs, SHAPE.subnets, egress_design=True)
NETWORK_RULES = [rule for rule in RULES if rule.config_rule_name in
                 ("lambda-vpc-private-subnet-nat", "lambda-vpc-ipv6-dual-stack")]


@pytest.fixture(scope="module")
def egress_account():
    """The same account with prefix lists (a customer one, Amazon S3's), a gateway endpoint and a firewall
    endpoint in every VPC's egress path."""
    with mock.patch.dict(os.environ, FAKE_ENVIRONMENT), mock_aws(), moto_as_aws_answers():
        session = boto3.Session(region_name=REGION)
        yield session, seed(session, EGRESS_SHAPE)


def test_scan_with_prefix_lists_and_endpoints_stays_within_150_calls(egress_account):
    """Endpoints are listed once, each prefix list's entries read once, for all rules and functions."""
    session, _ = egress_account
    recorder = CallRecorder().install(session)
    report = scan_session(session)
    assert {e.compliance.value for e in report.evaluations if e.rule == "lambda-vpc-private-subnet-nat"} == {
        "COMPLIANT"}
    by_operation = recorder.by_operation()
    print(f"scan with prefix lists and endpoints, {EGRESS_SHAPE}: {recorder.aws_calls()} AWS calls: "
          f"{dict(sorted(by_operation.items()))}")
    assert by_operation["ec2:DescribeVpcEndpoints"] == 1 and by_operation["ec2:DescribeManagedPrefixLists"] == 1
    assert by_operation["ec2:GetManagedPrefixListEntries"] == 2  # the customer list and Amazon S3's
    assert recorder.aws_calls() <= 150


@pytest.mark.parametrize("rule", NETWORK_RULES, ids=lambda rule: rule.rdk_name)
def test_a_change_with_prefix_lists_and_endpoints_costs_at_most_12_calls(egress_account, rule):
    session, _ = egress_account
    function = session.client("lambda").get_function(FunctionName="fn-00007")["Configuration"]
    boto3.setup_default_session(region_name=REGION)
    config_calls = ConfigCalls()
    config_calls.install(boto3.DEFAULT_SESSION)
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    load_rule_module(rule.rdk_name).lambda_handler(change_event(configuration_item(function),
                                                                rule.config_rule_name), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["COMPLIANT"]
    calls = recorder.aws_calls()  # PutEvaluations and rdklib's AssumeRole included
    print(f"change with prefix lists and endpoints, {rule.config_rule_name}: {calls} calls: {sorted(recorder.calls)}")
    assert calls <= 12
