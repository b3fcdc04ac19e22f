"""Failure semantics: malformed events, unexpected configuration items, throttling, refused evaluations,
bad parameters, a function deleted under the rule - each has a defined outcome, none a made-up verdict.
Hypothesis fuzzes the event and configuration-item parsing."""

from __future__ import annotations

import contextlib
import copy
import json
import logging

import boto3
import botocore.endpoint
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aws_support import (
    REGION,
    AwsError,
    build_network,
    change_event,
    configuration_item,
    failed_invocation,
    history_item,
    oversized_event,
    scheduled_event,
)
from conftest import load_rule_module
from lambda_vpc_rules.aws.parse import MalformedInput, from_configuration_item
from lambda_vpc_rules.core.rules import get_rule
from lambda_vpc_rules.rdk.events import event_problem
from lambda_vpc_rules.rdk.handler import InvocationFailed, PutEvaluationsFailed
from lambda_vpc_rules.rdk.logs import JsonLines
from lambda_vpc_rules.tooling.cli import main

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
    # a function that exists (status OK) without its configuration would pass for one outside any VPC
    "function item without configuration": lambda e: _with_invoking(e, lambda i: i["configurationItem"].pop(
        "configuration")),
    "function item with configuration null": lambda e: _with_invoking(
        e, lambda i: i["configurationItem"].update(configuration=None)),
    "function item with configuration not an object": lambda e: _with_invoking(
        e, lambda i: i["configurationItem"].update(configuration="{}")),
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


BAD_PARAMETERS = [
    {"RequireInternetAccess": "maybe"},
    {"AllowedEgressTargets": "nat-gateway,teleport"},
    # read by rdklib itself, before its error handling: it would raise (AttributeError, TypeError)
    {"AssumeRoleMode": True},
    {"AssumeRoleMode": None},
    {"AssumeRoleMode": "maybe"},  # rdklib would take anything but "false" as true
    {"ExecutionRoleName": 5},
    {"ExecutionRoleName": "\x1f"},  # not an IAM role name (found by the fuzz below: STS answered unparseable XML)
    {"ExecutionRoleName": "a/b"},
    {"ExecutionRoleRegion": 5},
    {"ExecutionRoleRegion": "the-moon"},
    {"ExecutionRoleRegion": ""},
]


@pytest.mark.parametrize("parameters", BAD_PARAMETERS, ids=lambda p: json.dumps(p))
def test_a_bad_parameter_is_a_parameter_error_naming_it(handler, config_calls, function, parameters):
    response = handler(change_event(configuration_item(function), RULE_NAME, parameters), None)
    assert response["customerErrorCode"] == "InvalidParameterValueException"
    [name] = parameters
    assert response["customerErrorMessage"].startswith(f"{name}: invalid value")
    assert config_calls.put == []


def test_rdklib_parameters_of_a_single_account_pack_are_accepted(handler, config_calls, function):
    """rdklib's own parameters, as an earlier pack passed them in a single account (ExecutionRoleName empty)."""
    parameters = {"ExecutionRoleName": "", "ExecutionRoleRegion": REGION, "AssumeRoleMode": "FALSE"}
    handler(change_event(configuration_item(function), RULE_NAME, parameters), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NON_COMPLIANT"]


# ------------------------------------------------------------------------------------------ oversized items


def _history(item: dict, **changes) -> dict:
    history = history_item(item)
    for key, value in changes.items():
        if value is ...:
            history.pop(key)
        else:
            history[key] = value
    return history


UNUSABLE_HISTORY = {
    "history holds no item": lambda item: None,
    "item without configuration": lambda item: _history(item, configuration=...),
    "configuration not JSON": lambda item: _history(item, configuration="{oops"),
    "configuration null, status OK": lambda item: _history(item, configuration="null"),
    "configuration a list": lambda item: _history(item, configuration="[]"),
}


@pytest.mark.parametrize("history", UNUSABLE_HISTORY.values(), ids=UNUSABLE_HISTORY.keys())
def test_an_oversized_item_without_usable_history_is_an_error_response(handler, config_calls, function, history):
    item = configuration_item(function)
    config_calls.history["fn"] = history(item)
    response = handler(oversized_event(item, RULE_NAME), None)
    assert response["customerErrorCode"] == "InvalidEvent"
    assert config_calls.put == []


def test_an_oversized_item_aws_config_never_recorded_fails_the_invocation(handler, config_calls, function):
    response = failed_invocation(handler, oversized_event(configuration_item(function), RULE_NAME))
    assert response["customerErrorCode"] == "ResourceNotDiscoveredException"
    assert config_calls.put == []


def test_an_oversized_item_of_a_deleted_function_is_not_applicable(handler, config_calls, function):
    item = configuration_item(function)
    config_calls.history["fn"] = _history(item, configurationItemStatus="ResourceDeleted", configuration="null")
    handler(oversized_event(item, RULE_NAME), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NOT_APPLICABLE"]


def test_access_denied_to_the_history_names_the_permission(handler, config_calls, function):
    """rdklib reads the history before its own error handling: the answer must still be an error response."""
    item = configuration_item(function)
    config_calls.history["fn"] = history_item(item)
    config_calls.errors["GetResourceConfigHistory"] = ("AccessDeniedException", "not authorized")
    response = failed_invocation(handler, oversized_event(item, RULE_NAME))
    assert response["customerErrorCode"] == "AccessDeniedException"
    assert response["customerErrorMessage"] == "missing permission config:GetResourceConfigHistory: not authorized"
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


# Each service's own throttling code, in its own wire format. AWS Config answers ThrottlingException, but
# the Config calls here are answered before they are sent (tests/aws_support.py, ConfigCalls): the same
# code goes to the tagging API, whose protocol carries it the same way (a `__type`).
THROTTLES = [
    ("ec2", "DescribeSubnets", "RequestLimitExceeded", 503),
    ("iam", "GetAccountAuthorizationDetails", "Throttling", 400),
    ("lambda", "ListFunctions", "TooManyRequestsException", 429),
    ("resourcegroupstaggingapi", "GetResources", "ThrottlingException", 400),
]


@pytest.fixture
def backoff(monkeypatch) -> list[float]:
    """The pauses botocore's retries take, recorded instead of slept."""
    pauses: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", pauses.append)
    return pauses


def test_throttling_is_retried_with_backoff(handler, config_calls, function, monkeypatch, backoff):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    throttle = AwsError("ec2", "DescribeSubnets", "RequestLimitExceeded", 503, times=2).install(boto3.DEFAULT_SESSION)
    handler(change_event(configuration_item(function), RULE_NAME), None)
    assert throttle.attempts == 3
    assert len(backoff) == 2 and all(0 <= pause <= 2 ** n for n, pause in enumerate(backoff, 1))  # jittered
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NON_COMPLIANT"]


def test_persistent_throttling_fails_the_invocation_never_a_verdict(handler, config_calls, function, monkeypatch,
                                                                     backoff):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    throttle = AwsError("ec2", "DescribeSubnets", "RequestLimitExceeded", 503).install(boto3.DEFAULT_SESSION)
    response = failed_invocation(handler, change_event(configuration_item(function), RULE_NAME))
    assert response["customerErrorCode"] == "RequestLimitExceeded"
    assert throttle.attempts == 2 and config_calls.put == []


@contextlib.contextmanager
def on_every_new_session(error: AwsError):
    """`error` on every boto3 session made meanwhile (the CLI makes its own)."""
    original = boto3.Session.__init__

    def session_with_error(self, *args, **kwargs):
        original(self, *args, **kwargs)
        error.install(self)

    boto3.Session.__init__ = session_with_error
    try:
        yield error
    finally:
        boto3.Session.__init__ = original


def _scan(capsys) -> tuple[int, str, str]:
    """--quiet: no progress on stderr, so what is left there is the error alone."""
    code = main(["scan", "--region", REGION, "--format", "json", "--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _without_time(report: str) -> dict:
    """The report without its timestamps (generated_at, each verdict's recorded_at, coverage read_at)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("generated_at", "recorded_at", "read_at")}
        return [strip(v) for v in value] if isinstance(value, list) else value

    return strip(json.loads(report))


def test_scan_retries_throttling_then_gives_up_with_exit_2(function, monkeypatch, capsys, backoff):
    code, expected, _ = _scan(capsys)
    assert code == 1
    monkeypatch.setenv("LAMBDA_VPC_RULES_MAX_ATTEMPTS", "4")
    for service, operation, error_code, status in THROTTLES:
        with on_every_new_session(AwsError(service, operation, error_code, status, times=2)) as throttle:
            code, out, err = _scan(capsys)
        assert (code, throttle.attempts) == (1, 3), (error_code, err)
        assert _without_time(out) == _without_time(expected)
        with on_every_new_session(AwsError(service, operation, error_code, status)) as throttle:
            code, out, err = _scan(capsys)
        assert (code, out, throttle.attempts) == (2, "", 4), error_code
        assert error_code in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ access denied

# Every read `scan` makes, refused with the code and format its service uses.
SCAN_READS = [
    ("ec2", "DescribeVpcs", "UnauthorizedOperation", 403),
    ("ec2", "DescribeSubnets", "UnauthorizedOperation", 403),
    ("ec2", "DescribeRouteTables", "UnauthorizedOperation", 403),
    ("ec2", "DescribeNatGateways", "UnauthorizedOperation", 403),
    ("iam", "GetAccountAuthorizationDetails", "AccessDenied", 403),
    ("lambda", "ListFunctions", "AccessDeniedException", 403),
    ("resourcegroupstaggingapi", "GetResources", "AccessDeniedException", 400),
]
ACTION_PREFIX = {"resourcegroupstaggingapi": "tag"}


def _action(service: str, operation: str) -> str:
    return f"{ACTION_PREFIX.get(service, service)}:{operation}"


@pytest.fixture
def networked(estate):
    """A function behind a NAT gateway (so every network read happens) with a role that has an inline and
    an attached policy (so every IAM read happens)."""
    ids = build_network(estate)
    role = estate.role("app-role")
    estate.iam.put_role_policy(RoleName="app-role", PolicyName="inline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}))
    policy = estate.iam.create_policy(PolicyName="eni", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*NetworkInterface*", "Resource": "*"}]}))["Policy"]["Arn"]
    estate.iam.attach_role_policy(RoleName="app-role", PolicyArn=policy)
    return estate.function("app", [ids["private-a"]], role=role)


def test_scan_refused_any_read_exits_2_naming_it(networked, capsys):
    for service, operation, error_code, status in SCAN_READS:
        with on_every_new_session(AwsError(service, operation, error_code, status)) as refusal:
            code, out, err = _scan(capsys)
        assert (code, out, refusal.attempts) == (2, "", 1), operation  # not retried
        assert f"access denied: {_action(service, operation)} was refused ({error_code})" in err


# Every read a rule handler makes: on a change (the function's own facts) and on a scheduled run.
HANDLER_READS = [
    ("LAMBDA_VPC_PRIVATE_SUBNET_NAT", "change", "ec2", "DescribeSubnets", "UnauthorizedOperation", 403),
    ("LAMBDA_VPC_PRIVATE_SUBNET_NAT", "change", "ec2", "DescribeRouteTables", "UnauthorizedOperation", 403),
    ("LAMBDA_VPC_PRIVATE_SUBNET_NAT", "change", "ec2", "DescribeNatGateways", "UnauthorizedOperation", 403),
    ("LAMBDA_VPC_DEFAULT_TENANCY", "change", "ec2", "DescribeVpcs", "UnauthorizedOperation", 403),
    ("LAMBDA_VPC_MULTI_AZ", "change", "ec2", "DescribeSubnets", "UnauthorizedOperation", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "change", "ec2", "DescribeSubnets", "UnauthorizedOperation", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "change", "iam", "GetRole", "AccessDenied", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "change", "iam", "ListRolePolicies", "AccessDenied", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "change", "iam", "GetRolePolicy", "AccessDenied", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "change", "iam", "ListAttachedRolePolicies", "AccessDenied", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "change", "iam", "GetPolicy", "AccessDenied", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "change", "iam", "GetPolicyVersion", "AccessDenied", 403),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "scheduled", "iam", "GetAccountAuthorizationDetails", "AccessDenied", 403),
    ("LAMBDA_VPC_IPV6_DUAL_STACK", "scheduled", "lambda", "ListFunctions", "AccessDeniedException", 403),
    ("LAMBDA_VPC_PRIVATE_SUBNET_NAT", "scheduled", "resourcegroupstaggingapi", "GetResources",
     "AccessDeniedException", 400),
    ("LAMBDA_VPC_IPV6_DUAL_STACK", "scheduled", "sts", "AssumeRole", "AccessDenied", 403),
]


def test_handler_refused_any_read_puts_nothing_and_names_it(networked, config_calls):
    for rule_dir, trigger, service, operation, error_code, status in HANDLER_READS:
        rule = get_rule(rule_dir)
        refusal = AwsError(service, operation, error_code, status).install(boto3.DEFAULT_SESSION)
        event = change_event(configuration_item(networked), rule.config_rule_name) if trigger == "change" \
            else scheduled_event(rule.config_rule_name)
        response = failed_invocation(load_rule_module(rule_dir).lambda_handler, event)
        refusal.uninstall(boto3.DEFAULT_SESSION)
        assert response["customerErrorCode"] == error_code, (operation, response)
        assert response["customerErrorMessage"].startswith(f"missing permission {_action(service, operation)}: ")
        # not retried (rdklib asks STS's regional endpoint, then the global one)
        assert refusal.attempts == (2 if operation == "AssumeRole" else 1) and config_calls.put == [], operation


@pytest.mark.parametrize("operation", ["PutEvaluations", "GetComplianceDetailsByConfigRule"])
def test_refused_config_calls_of_rdklib_fail_the_invocation_naming_them(handler, config_calls, function, operation):
    config_calls.errors[operation] = ("AccessDeniedException", "not authorized")
    response = failed_invocation(handler, scheduled_event(RULE_NAME))
    assert response["customerErrorCode"] == "AccessDeniedException"
    assert response["customerErrorMessage"] == f"missing permission config:{operation}: not authorized"


# ------------------------------------------------------------------------------------------ deleted under us


def test_a_function_deleted_between_listing_and_reading(function, estate, config_calls, capsys):
    """The listing is the snapshot: a function deleted after it is evaluated as listed (no read of it
    follows, so nothing can fail), and its deletion's change notification, stamped later, makes it
    NOT_APPLICABLE in AWS Config."""
    estate.function("doomed", [estate.subnet(estate.vpc("10.9.0.0/16"), "10.9.1.0/24")])

    def delete_after_listing(**_):
        estate.lam.delete_function(FunctionName="doomed")

    boto3.DEFAULT_SESSION.events.register("after-call.lambda.ListFunctions", delete_after_listing)
    load_rule_module(RULE_DIR).lambda_handler(scheduled_event(RULE_NAME), None)
    assert set(config_calls.by_resource()) == {"fn", "doomed"}
    # and the deletion's change notification:
    config_calls.put.clear()
    deleted = configuration_item({"FunctionName": "doomed", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:"
                                  "function:doomed", "Role": "arn:aws:iam::123456789012:role/r"}, "ResourceDeleted")
    load_rule_module(RULE_DIR).lambda_handler(change_event(deleted, RULE_NAME), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NOT_APPLICABLE"]


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


def _outcome(handler, event):
    """The handler's answer, or the error response of the invocation failure it raised: a defined outcome."""
    try:
        return handler(event, None)
    except InvocationFailed as failed:
        assert failed.progress.put == 0  # one batch: failing, it put nothing
        return failed.response


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["configuration", "vpcConfig", "subnetIds", "role", "configurationItemStatus", "tags",
                        "resourceType", "ipv6AllowedForDualStack"]), json_values)
def test_handler_never_crashes_on_a_mutated_item(handler, config_calls, function, key, value):
    item = configuration_item(function)
    target = item["configuration"]["vpcConfig"] if key in ("subnetIds", "ipv6AllowedForDualStack") else (
        item["configuration"] if key in ("vpcConfig", "role") else item)
    target[key] = value
    response = _outcome(handler, change_event(item, RULE_NAME))
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["ExecutionRoleName", "ExecutionRoleRegion", "AssumeRoleMode",
                                        "RequireInternetAccess", "AllowedEgressTargets"]) | st.text(max_size=8),
                       json_values, max_size=3))
def test_handler_never_crashes_on_any_rule_parameters(handler, config_calls, function, parameters):
    response = handler(change_event(configuration_item(function), RULE_NAME, parameters), None)
    assert isinstance(response, list | dict)
    if isinstance(response, dict):
        assert response["customerErrorCode"] == "InvalidParameterValueException"
        assert config_calls.put == []
    config_calls.put.clear()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(configuration=json_values.map(json.dumps) | st.text(max_size=20),
       status=st.sampled_from(["OK", "ResourceDiscovered", "ResourceNotRecorded", "ResourceDeleted",
                               "ResourceDeletedNotRecorded"]))
def test_handler_never_crashes_on_an_oversized_item_history(handler, config_calls, function, configuration, status):
    item = configuration_item(function)
    config_calls.history["fn"] = _history(item, configuration=configuration, configurationItemStatus=status)
    response = _outcome(handler, oversized_event(item, RULE_NAME))
    assert isinstance(response, list | dict)
    if isinstance(response, list):
        assert {e["ComplianceType"] for e in response} <= {"COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"}
    config_calls.put.clear()
