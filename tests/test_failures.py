"""Failure semantics: malformed events, unexpected configuration items, throttling, refused evaluations,
bad parameters, a function deleted under the rule - each has a defined outcome, none a made-up verdict.
Hypothesis fuzzes the event and configuration-item parsing."""

from __future__ import annotations

import contextlib
import copy
import json
import logging

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aws_support import REGION, change_event, configuration_item, scheduled_event
from conftest import load_rule_module
from lambda_vpc_rules.cli import main
from lambda_vpc_rules.functions import MalformedInput, from_configuration_item
from lambda_vpc_rules.logs import JsonLines
from lambda_vpc_rules.rdk import PutEvaluationsFailed, event_problem

RULE_DIR, RULE_NAME = "LAMBDA_VPC_PRIVATE_SUBNET_NAT", "lambda-vpc-private-subnet-nat"


@pytest.fixture
def handler(config_calls):
    return load_rule_module(RULE_DIR).lambda_handler


@pytest.fixture
def function(estate):
    vpc = estate.vpc()
    return estate.function("fn", [estate.subnet(vpc, "10.0.1.0/24")])


def _with_invoking(event: dict, change) -> dict:
    event = copy.deepcopy(event)
    invoking = json.loads(event["invokingEvent"])
    change(invoking)
    event["invokingEvent"] = json.dumps(invoking)
    return event


MALFORMED = {
    "not an object": lambda e: ["not", "an", "event"],
    "no invokingEvent": lambda e: {k: v for k, v in e.items() if k != "invokingEvent"},
    "invokingEvent not JSON": lambda e: {**e, "invokingEvent": "{not json"},
    "ruleParameters not JSON": lambda e: {**e, "ruleParameters": "FlagOverbroadEc2=true"},
    "unknown messageType": lambda e: _with_invoking(e, lambda i: i.update(messageType="SomethingElse")),
    "no configurationItem": lambda e: _with_invoking(e, lambda i: i.pop("configurationItem")),
    "configurationItem without resourceType": lambda e: _with_invoking(
        e, lambda i: i["configurationItem"].pop("resourceType")),
    "eventLeftScope not a boolean": lambda e: {**e, "eventLeftScope": "no"},
    "no resultToken": lambda e: {k: v for k, v in e.items() if k != "resultToken"},
}


@pytest.mark.parametrize("mutation", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_event_is_an_error_response_and_puts_nothing(handler, config_calls, function, mutation, caplog):
    event = mutation(change_event(configuration_item(function), RULE_NAME))
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"):
        response = handler(event, None)
    assert response["customerErrorCode"] == "InvalidEvent"
    assert response["customerErrorMessage"]
    assert config_calls.put == []
    [record] = [r for r in caplog.records if r.getMessage() == "malformed event"]
    assert record.fields["outcome"] == "error" and record.fields["rule"] == RULE_NAME


def test_missing_event_left_scope_is_taken_as_false(handler, config_calls, function):
    event = change_event(configuration_item(function), RULE_NAME)
    del event["eventLeftScope"]
    handler(event, None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NON_COMPLIANT"]


@pytest.mark.parametrize("shape", [
    {"vpcConfig": None}, {"vpcConfig": {"subnetIds": [], "securityGroupIds": []}}, {"vpcConfig": {}},
])
def test_configuration_items_without_a_vpc_are_not_applicable(handler, config_calls, function, shape):
    item = configuration_item(function)
    item["configuration"].update(shape)
    item["configuration"]["someFutureKey"] = {"nested": True}
    handler(change_event(item, RULE_NAME), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NOT_APPLICABLE"]


def test_a_bad_parameter_is_a_parameter_error_naming_it(handler, config_calls, function):
    response = handler(change_event(configuration_item(function), RULE_NAME, {"RequireInternetAccess": "maybe"}), None)
    assert response["customerErrorCode"] == "InvalidParameterValueException"
    assert "RequireInternetAccess" in response["customerErrorMessage"]
    assert config_calls.put == []


def test_refused_evaluations_are_sent_once_more(handler, config_calls, function):
    event = change_event(configuration_item(function), RULE_NAME)
    config_calls.refusals = [[json.loads(json.dumps({"ComplianceResourceType": "AWS::Lambda::Function",
                                                     "ComplianceResourceId": "fn", "ComplianceType": "NON_COMPLIANT",
                                                     "OrderingTimestamp": "2026-11-25T00:00:00Z"}))]]
    handler(event, None)
    assert len(config_calls.put) == 2  # the batch, then the refused evaluation again


def test_evaluations_refused_twice_fail_the_invocation(handler, config_calls, function):
    refused = {"ComplianceResourceType": "AWS::Lambda::Function", "ComplianceResourceId": "fn",
               "ComplianceType": "NON_COMPLIANT", "OrderingTimestamp": "2026-11-25T00:00:00Z"}
    config_calls.refusals = [[refused], [refused]]
    with pytest.raises(PutEvaluationsFailed, match="refused 1 evaluation"):
        handler(change_event(configuration_item(function), RULE_NAME), None)


# ------------------------------------------------------------------------------------------ throttling


def _throttle(times: int | None):
    """A before-send hook answering EC2 DescribeSubnets with RequestLimitExceeded, as EC2 does."""
    calls = {"n": 0}
    body = (b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
            b"</Message></Error></Errors><RequestID>1</RequestID></Response>")

    class Raw:
        def stream(self, **_):
            yield body

    def hook(request, **_):
        calls["n"] += 1
        if times is None or calls["n"] <= times:
            return AWSResponse(request.url, 503, {}, Raw())
        return None

    return hook, calls


def test_throttling_is_retried_with_backoff(handler, config_calls, function, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    hook, calls = _throttle(times=2)
    boto3.DEFAULT_SESSION.events.register("before-send.ec2.DescribeSubnets", hook)
    handler(change_event(configuration_item(function), RULE_NAME), None)
    assert calls["n"] == 3
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NON_COMPLIANT"]


def test_persistent_throttling_is_an_error_never_a_verdict(handler, config_calls, function, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    hook, calls = _throttle(times=None)
    boto3.DEFAULT_SESSION.events.register("before-send.ec2.DescribeSubnets", hook)
    response = handler(change_event(configuration_item(function), RULE_NAME), None)
    assert response["customerErrorCode"] == "RequestLimitExceeded"
    assert calls["n"] == 2 and config_calls.put == []


def test_scan_under_persistent_throttling_exits_2(function, monkeypatch, capsys):
    monkeypatch.setenv("LAMBDA_VPC_RULES_MAX_ATTEMPTS", "2")
    hook, _ = _throttle(times=None)
    original = boto3.Session.__init__

    def session_with_throttling(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.events.register("before-send.ec2.DescribeSubnets", hook)

    monkeypatch.setattr(boto3.Session, "__init__", session_with_throttling)
    assert main(["scan", "--region", REGION, "--format", "json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "RequestLimitExceeded" in out.err


# ------------------------------------------------------------------------------------------ logs


def test_logs_are_json_lines_with_rule_account_resource_outcome(handler, config_calls, function, caplog):
    with caplog.at_level(logging.INFO, logger="lambda_vpc_rules"):
        handler(scheduled_event(RULE_NAME), None)
    lines = [json.loads(JsonLines().format(r)) for r in caplog.records if r.getMessage() == "evaluation"]
    assert lines == [{"level": "INFO", "message": "evaluation", "rule": RULE_NAME, "account": "123456789012",
                      "resource_type": "AWS::Lambda::Function", "resource": "fn", "outcome": "NON_COMPLIANT"}]


# ------------------------------------------------------------------------------------------ fuzz

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["invokingEvent", "ruleParameters", "resultToken", "eventLeftScope",
                                        "executionRoleArn", "configRuleName", "accountId"]),
                       json_values | st.text(max_size=40).map(json.dumps) | json_values.map(json.dumps)))
def test_event_checks_never_raise(event):
    assert event_problem(event) is None or isinstance(event_problem(event), str)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["configuration", "resourceName", "resourceId", "ARN", "tags"]), json_values))
def test_configuration_item_parsing_raises_only_malformed_input(item):
    for shape in (item, {**item, "configuration": {"vpcConfig": item.get("configuration")}}):
        with contextlib.suppress(MalformedInput):  # the one exception it may raise
            from_configuration_item(shape)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["configuration", "vpcConfig", "subnetIds", "role", "configurationItemStatus", "tags",
                        "resourceType", "ipv6AllowedForDualStack"]), json_values)
def test_handler_never_crashes_on_a_mutated_item(handler, config_calls, function, key, value):
    item = configuration_item(function)
    target = item["configuration"]["vpcConfig"] if key in ("subnetIds", "ipv6AllowedForDualStack") else (
        item["configuration"] if key in ("vpcConfig", "role") else item)
    target[key] = value
    response = handler(change_event(item, RULE_NAME), None)
    assert isinstance(response, list | dict)
    if isinstance(response, list):
        assert {e["ComplianceType"] for e in response} <= {"COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"}


def test_annotations_and_logs_carry_no_policy_document(estate, config_calls, caplog):
    """What a policy says stays out of Config and the logs: only names and actions appear."""
    role = estate.role("secretive")
    estate.iam.put_role_policy(RoleName="secretive", PolicyName="eni", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:*:*:network-interface/TOPSECRET-*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "TOPSECRET-TEAM"}}}]}))
    function = estate.function("private-fn", [estate.subnet(estate.vpc(), "10.0.1.0/24")], role=role)
    with caplog.at_level(logging.INFO, logger="lambda_vpc_rules"):
        load_rule_module("LAMBDA_VPC_ENI_PERMISSIONS").lambda_handler(
            change_event(configuration_item(function), "lambda-vpc-eni-permissions"), None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceType"] == "NON_COMPLIANT"
    assert "TOPSECRET" not in evaluation["Annotation"]
    assert "TOPSECRET" not in caplog.text and "testing" not in caplog.text  # nor the (fake) credentials
