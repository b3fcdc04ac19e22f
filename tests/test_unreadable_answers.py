"""An answer the pack cannot read is an error, never a verdict: a complete HTTP 200 whose body is not the
API's answer (a proxy's HTML page, a body cut short, a body without the result), on the first page or a
later one, through `scan` and through the handlers - and a scheduled run that could not read the account
cleans nothing up. Also: every failure of the CLI exits 2 with one line, never 1, never a traceback."""

from __future__ import annotations

import json
import logging
import sys

import boto3
import pytest

from aws_support import (
    ACCOUNT,
    REGION,
    GarbledAnswer,
    build_network,
    change_event,
    configuration_item,
    failed_invocation,
    scheduled_event,
)
from conftest import load_rule_module
from lambda_vpc_rules.core.rules import get_rule
from lambda_vpc_rules.tooling.cli import main
from test_failures import on_every_new_session


@pytest.fixture
def networked(estate):
    """Functions behind a NAT gateway (every network read happens), with a role holding an inline policy (every
    IAM read happens); one of them NON_COMPLIANT, so an intact scan exits 1."""
    ids = build_network(estate)
    role = estate.role("app-role")
    estate.iam.put_role_policy(RoleName="app-role", PolicyName="inline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
    estate.function("public-fn", [ids["public"]], role=role)
    return estate.function("app", [ids["private-a"]], role=role)


def _scan(capsys, *extra: str) -> tuple[int, str, str]:
    """--quiet: no progress on stderr, so what is left there is the error alone."""
    code = main(["scan", "--region", REGION, "--format", "json", "--quiet", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


# (service, operation, kind of body, page): every protocol the pack reads (rest-json, json, ec2, query), on the
# first page and on a later one.
SCAN_ANSWERS = [
    ("lambda", "ListFunctions", "html", 1),
    ("lambda", "ListFunctions", "truncated", 2),
    ("lambda", "ListFunctions", "empty", 1),
    ("lambda", "ListFunctions", "empty", 2),
    ("resourcegroupstaggingapi", "GetResources", "html", 1),
    ("resourcegroupstaggingapi", "GetResources", "empty", 2),
    ("ec2", "DescribeSubnets", "truncated", 1),
    ("ec2", "DescribeSubnets", "html", 2),
    ("ec2", "DescribeRouteTables", "empty", 1),
    ("ec2", "DescribeNatGateways", "empty", 2),
    ("ec2", "DescribeVpcs", "html", 1),
    ("iam", "GetAccountAuthorizationDetails", "truncated", 2),
    ("iam", "GetAccountAuthorizationDetails", "empty", 1),
    ("sts", "GetCallerIdentity", "html", 1),
]


def test_an_intact_scan_finds_the_non_compliant_function(networked, capsys):
    code, out, _ = _scan(capsys)
    assert code == 1 and json.loads(out)["evaluations"]


@pytest.mark.parametrize(("service", "operation", "kind", "page"), SCAN_ANSWERS,
                         ids=[f"{op}-{kind}-page{page}" for _, op, kind, page in SCAN_ANSWERS])
def test_scan_given_an_answer_that_is_not_aws_exits_2_naming_it(networked, capsys, service, operation, kind, page):
    with on_every_new_session(GarbledAnswer(service, operation, kind, page)) as garbled:
        code, out, err = _scan(capsys)
    assert garbled.calls >= page  # the garbled page was asked for
    assert (code, out) == (2, "")
    [line] = err.strip().splitlines()
    assert operation in line and "not an AWS answer" in line


def test_evidence_given_an_answer_that_is_not_aws_exits_2_and_writes_nothing(networked, capsys, tmp_path):
    with on_every_new_session(GarbledAnswer("lambda", "ListFunctions", "html")):
        code = main(["evidence", "--out", str(tmp_path / "bundle"), "--region", REGION])
    assert code == 2 and not (tmp_path / "bundle").exists()
    assert "ListFunctions" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ handlers

def _handler(rule_dir: str):
    return load_rule_module(rule_dir).lambda_handler


CHANGE_ANSWERS = [
    ("LAMBDA_VPC_PRIVATE_SUBNET_NAT", "ec2", "DescribeSubnets", "html"),
    ("LAMBDA_VPC_PRIVATE_SUBNET_NAT", "ec2", "DescribeRouteTables", "empty"),
    ("LAMBDA_VPC_DEFAULT_TENANCY", "ec2", "DescribeVpcs", "truncated"),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "iam", "GetRole", "truncated"),
    ("LAMBDA_VPC_ENI_PERMISSIONS", "iam", "ListRolePolicies", "empty"),
]


@pytest.mark.parametrize(("rule_dir", "service", "operation", "kind"), CHANGE_ANSWERS,
                         ids=[f"{op}-{kind}" for _, _, op, kind in CHANGE_ANSWERS])
def test_change_triggered_run_given_an_unreadable_answer_puts_nothing(networked, config_calls, caplog, rule_dir,
                                                                      service, operation, kind):
    rule = get_rule(rule_dir)
    GarbledAnswer(service, operation, kind).install(boto3.DEFAULT_SESSION)
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"):
        response = failed_invocation(_handler(rule_dir),
                                     change_event(configuration_item(networked), rule.config_rule_name))
    assert response["customerErrorCode"] == "UnreadableAnswer"
    assert operation in response["customerErrorMessage"]
    assert config_calls.put == []
    [record] = [r for r in caplog.records if r.getMessage() == "invocation failed"]
    assert record.fields["error"] == "UnreadableAnswer" and record.fields["outcome"] == "failed"


def _held(rule: str, resources: list[tuple[str, str, str]]) -> list[dict]:
    """What AWS Config holds for the rule from an earlier run: (resource type, id, compliance)."""
    return [{"EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                "ConfigRuleName": rule, "ResourceType": rtype, "ResourceId": rid},
             "OrderingTimestamp": "2026-11-01T00:00:00Z"},
             "ComplianceType": compliance, "ResultRecordedTime": "2026-11-01T00:00:00Z",
             "ConfigRuleInvokedTime": "2026-11-01T00:00:00Z"} for rtype, rid, compliance in resources]


NAT_RULE = "lambda-vpc-private-subnet-nat"
EARLIER = [("AWS::Lambda::Function", "app", "COMPLIANT"), ("AWS::Lambda::Function", "public-fn", "NON_COMPLIANT")]


@pytest.mark.parametrize(("operation", "service", "kind", "page"), [
    ("ListFunctions", "lambda", "html", 1),
    ("ListFunctions", "lambda", "truncated", 2),
    ("ListFunctions", "lambda", "empty", 2),
    ("GetResources", "resourcegroupstaggingapi", "html", 1),
    ("DescribeRouteTables", "ec2", "truncated", 1),
])
def test_scheduled_run_that_cannot_read_the_account_puts_and_cleans_nothing(networked, config_calls, operation,
                                                                            service, kind, page):
    """Before: an unreadable listing read as "no functions", and rdklib's clean-up put NOT_APPLICABLE over every
    finding AWS Config held - real NON_COMPLIANT findings erased."""
    config_calls.previous_results = _held(NAT_RULE, EARLIER)
    GarbledAnswer(service, operation, kind, page).install(boto3.DEFAULT_SESSION)
    response = failed_invocation(_handler("LAMBDA_VPC_PRIVATE_SUBNET_NAT"), scheduled_event(NAT_RULE))
    assert response["customerErrorCode"] == "UnreadableAnswer" and operation in response["customerErrorMessage"]
    assert config_calls.put == []


def test_scheduled_run_whose_earlier_evaluations_are_unreadable_puts_nothing(networked, config_calls):
    """AWS Config's own answer for the clean-up, as botocore parses a body that is not JSON: `{"message": body}`."""
    config_calls.unchecked["GetComplianceDetailsByConfigRule"] = {"message": "<html>blocked</html>"}
    response = failed_invocation(_handler("LAMBDA_VPC_PRIVATE_SUBNET_NAT"), scheduled_event(NAT_RULE))
    assert response["customerErrorCode"] == "UnreadableAnswer"
    assert "GetComplianceDetailsByConfigRule answered without EvaluationResults" in response["customerErrorMessage"]
    assert config_calls.put == []


def test_clean_up_marks_only_functions_the_whole_listing_shows_gone(networked, config_calls):
    config_calls.previous_results = _held(NAT_RULE, [*EARLIER, ("AWS::Lambda::Function", "deleted-fn", "COMPLIANT"),
                                                     ("AWS::EC2::Subnet", "subnet-0123456789abcdef0", "COMPLIANT")])
    _handler("LAMBDA_VPC_PRIVATE_SUBNET_NAT")(scheduled_event(NAT_RULE), None)
    verdicts = {(e["ComplianceResourceType"], e["ComplianceResourceId"]): e["ComplianceType"]
                for e in config_calls.evaluations}
    assert verdicts == {("AWS::Lambda::Function", "deleted-fn"): "NOT_APPLICABLE",
                        ("AWS::Lambda::Function", "app"): "COMPLIANT",
                        ("AWS::Lambda::Function", "public-fn"): "NON_COMPLIANT"}


def test_an_unexpected_exception_in_a_handler_is_an_error_response_with_a_log_line(networked, config_calls, caplog,
                                                                                   monkeypatch):
    module = load_rule_module("LAMBDA_VPC_PRIVATE_SUBNET_NAT")

    def broken(*_):
        raise RuntimeError("a bug")

    monkeypatch.setattr(module.EVALUATOR, "rule", get_rule(NAT_RULE).__class__(
        **{**get_rule(NAT_RULE).__dict__, "check": broken}))
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"):
        response = failed_invocation(module.lambda_handler, change_event(configuration_item(networked), NAT_RULE))
    assert response["internalErrorDetails"] == "RuntimeError: a bug"
    assert config_calls.put == []
    assert [r.fields["outcome"] for r in caplog.records if r.getMessage() == "invocation failed"] == ["failed"]


def test_an_unusable_retry_setting_is_an_error_response(networked, config_calls, monkeypatch):
    monkeypatch.setenv("LAMBDA_VPC_RULES_MAX_ATTEMPTS", "abc")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    response = failed_invocation(_handler("LAMBDA_VPC_PRIVATE_SUBNET_NAT"),
                                 change_event(configuration_item(networked), NAT_RULE))
    assert response["customerErrorCode"] == "InvalidSetting"
    assert "LAMBDA_VPC_RULES_MAX_ATTEMPTS" in response["customerErrorMessage"] and config_calls.put == []


# ------------------------------------------------------------------------------------------ exit codes


def _one_line_error(capsys, argv: list[str]) -> str:
    code = main([*argv, "--quiet"] if argv[0] in ("scan", "evidence", "demo") else argv)
    out = capsys.readouterr()
    assert (code, out.out) == (2, "")
    [line] = out.err.strip().splitlines()
    return line


def test_an_endpoint_that_is_not_a_url_exits_2(capsys):
    line = _one_line_error(capsys, ["scan", "--region", REGION, "--endpoint-url", "not-a-url"])
    assert "not an http(s) URL" in line


def test_an_unusable_max_attempts_exits_2_naming_it(networked, capsys, monkeypatch):
    monkeypatch.setenv("LAMBDA_VPC_RULES_MAX_ATTEMPTS", "abc")
    assert "LAMBDA_VPC_RULES_MAX_ATTEMPTS='abc'" in _one_line_error(capsys, ["scan", "--region", REGION])


def test_the_demo_without_moto_exits_2_saying_how_to_install_it(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "moto", None)  # what an install without the [demo] extra has
    line = _one_line_error(capsys, ["demo", "--out", str(tmp_path)])
    assert "lambda-vpc-rules[demo]" in line


def test_verify_evidence_of_no_directory_exits_2(capsys, tmp_path):
    assert "no such bundle directory" in _one_line_error(capsys, ["verify-evidence", str(tmp_path / "nothing")])


def test_an_unexpected_exception_exits_2_in_one_line_and_debug_adds_the_traceback(networked, capsys, monkeypatch):
    import lambda_vpc_rules.tooling.cli as cli

    def broken(*_, **__):
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(cli, "scan", broken)
    assert _one_line_error(capsys, ["scan", "--region", REGION]).endswith(
        "unexpected error: RuntimeError: a bug (--debug prints the traceback)")
    assert main(["scan", "--region", REGION, "--debug"]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_account_is_the_callers(networked, capsys):
    code, out, _ = _scan(capsys)
    assert json.loads(out)["account_id"] == ACCOUNT
