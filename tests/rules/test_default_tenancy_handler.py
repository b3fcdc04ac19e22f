"""LAMBDA_VPC_DEFAULT_TENANCY through its RDK handler, with AWS Config events in the documented format,
against moto. Evaluations are read from the PutEvaluations requests the handler makes."""

from __future__ import annotations

import pytest

from aws_support import (
    change_event,
    configuration_item,
    failed_invocation,
    history_item,
    oversized_event,
    scheduled_event,
)
from conftest import load_rule_module

RULE_NAME = "lambda-vpc-default-tenancy"


@pytest.fixture
def handler(config_calls):
    return load_rule_module("LAMBDA_VPC_DEFAULT_TENANCY").lambda_handler


@pytest.fixture
def functions(estate):
    default_vpc = estate.vpc("10.0.0.0/16")
    dedicated_vpc = estate.vpc("10.1.0.0/16", tenancy="dedicated")
    good = estate.subnet(default_vpc, "10.0.1.0/24")
    dedicated = estate.subnet(dedicated_vpc, "10.1.1.0/24")
    doomed = estate.subnet(default_vpc, "10.0.9.0/24")
    made = {
        "in-default": estate.function("in-default", [good]),
        "in-dedicated": estate.function("in-dedicated", [dedicated]),
        "subnet-gone": estate.function("subnet-gone", [doomed]),
        "no-vpc": estate.function("no-vpc"),
    }
    estate.ec2.delete_subnet(SubnetId=doomed)
    return made


@pytest.mark.parametrize(
    ("name", "compliance", "words"),
    [
        ("in-default", "COMPLIANT", ["default instance tenancy"]),
        ("in-dedicated", "NON_COMPLIANT", ["dedicated instance tenancy"]),
        ("subnet-gone", "NON_COMPLIANT", ["not found"]),
        ("no-vpc", "NOT_APPLICABLE", []),
    ],
)
def test_change_notification(handler, config_calls, functions, name, compliance, words):
    event = change_event(configuration_item(functions[name]), RULE_NAME)
    handler(event, None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceResourceId"] == name
    assert evaluation["ComplianceResourceType"] == "AWS::Lambda::Function"
    assert evaluation["ComplianceType"] == compliance
    for word in words:
        assert word in evaluation["Annotation"]
    assert config_calls.put[0]["ResultToken"] == "result-token-from-config"


def test_oversized_notification_is_read_from_history(handler, config_calls, functions):
    item = configuration_item(functions["in-dedicated"])
    config_calls.history["in-dedicated"] = history_item(item)
    handler(oversized_event(item, RULE_NAME), None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceType"] == "NON_COMPLIANT"
    assert "dedicated" in evaluation["Annotation"]


def test_deleted_function_is_not_applicable(handler, config_calls, functions):
    item = configuration_item(functions["in-dedicated"], status="ResourceDeleted")
    handler(change_event(item, RULE_NAME), None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceType"] == "NOT_APPLICABLE"


def test_event_that_left_scope_is_not_applicable(handler, config_calls, functions):
    handler(change_event(configuration_item(functions["in-dedicated"]), RULE_NAME, left_scope=True), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NOT_APPLICABLE"]


def test_scheduled_notification_evaluates_every_function(handler, config_calls, functions):
    # A function Config judged earlier that no longer exists: rdklib's clean-up marks it NOT_APPLICABLE.
    config_calls.previous_results = [
        {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": RULE_NAME,
                    "ResourceType": "AWS::Lambda::Function",
                    "ResourceId": "long-gone",
                },
                "OrderingTimestamp": "2026-11-01T00:00:00Z",
            },
            "ComplianceType": "NON_COMPLIANT",
            "ResultRecordedTime": "2026-11-01T00:00:00Z",
            "ConfigRuleInvokedTime": "2026-11-01T00:00:00Z",
        }
    ]
    handler(scheduled_event(RULE_NAME), None)
    verdicts = {rid: e["ComplianceType"] for rid, e in config_calls.by_resource().items()}
    assert verdicts == {
        "in-default": "COMPLIANT",
        "in-dedicated": "NON_COMPLIANT",
        "subnet-gone": "NON_COMPLIANT",
        "no-vpc": "NOT_APPLICABLE",
        "long-gone": "NOT_APPLICABLE",
    }
    assert all(e["OrderingTimestamp"] for e in config_calls.evaluations)


def test_access_denied_is_an_error_response_not_a_verdict(handler, config_calls, functions, estate, monkeypatch):
    """The execution role rdklib assumes lacks ec2:DescribeVpcs: moto enforces IAM and refuses."""
    import json

    from moto.core import set_initial_no_auth_action_count

    iam = estate.iam
    # The rule Lambda's own identity: a user allowed only to assume the Config execution role.
    iam.create_user(UserName="rule-lambda")
    iam.put_user_policy(
        UserName="rule-lambda",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="rule-lambda")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    iam.create_role(
        RoleName="config-rule-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )
    iam.put_role_policy(
        RoleName="config-rule-role",
        PolicyName="almost",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["ec2:DescribeSubnets", "config:PutEvaluations"], "Resource": "*"}
                ],
            }
        ),
    )
    event = change_event(configuration_item(functions["in-default"]), RULE_NAME)

    @set_initial_no_auth_action_count(0)
    def invoke():
        return failed_invocation(handler, event)

    response = invoke()
    assert response["customerErrorCode"] in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")
    assert "DescribeVpcs" in response["internalErrorDetails"]
    assert response["customerErrorMessage"].startswith("missing permission ec2:DescribeVpcs")
    assert config_calls.evaluations == []
