"""Failures fail (rdk/handler.py, rdk/budget.py): an invocation that could not complete its evaluations raises
after one JSON line saying what was and was not put; a run out of time puts what it evaluated, never cleans up
after a partial read, and fails. Through the handler, on moto."""

from __future__ import annotations

import json
import logging

import pytest

from aws_support import (
    LambdaContext,
    change_event,
    configuration_item,
    earlier_evaluations,
    failed_invocation,
    scheduled_event,
)
from conftest import load_rule_module
from lambda_vpc_rules.rdk import handler as handler_module
from lambda_vpc_rules.rdk.handler import InvocationFailed, PutEvaluationsFailed
from lambda_vpc_rules.rdk.logs import JsonLines

RULE_DIR, RULE = "LAMBDA_VPC_PRIVATE_SUBNET_NAT", "lambda-vpc-private-subnet-nat"


@pytest.fixture
def handler(config_calls):
    return load_rule_module(RULE_DIR).lambda_handler


@pytest.fixture
def function(estate):
    vpc = estate.vpc()
    return estate.function("fn", [estate.subnet(vpc, "10.0.1.0/24")])


def _failure_line(caplog) -> dict:
    [record] = [r for r in caplog.records if r.getMessage() == "invocation failed"]
    return json.loads(JsonLines().format(record))


def test_put_evaluations_refused_on_the_second_batch_fails_naming_the_first(handler, config_calls, function,
                                                                             caplog):
    # 150 functions AWS Config holds verdicts for are gone, and fn is listed: 151 evaluations, two batches
    gone = [f"gone-{n:03d}" for n in range(150)]
    config_calls.previous_results = earlier_evaluations(RULE, gone)
    refused = {"ComplianceResourceType": "AWS::Lambda::Function", "ComplianceResourceId": "gone-120",
               "ComplianceType": "NOT_APPLICABLE", "OrderingTimestamp": "2026-11-25T00:00:00Z"}
    config_calls.refusals = [[], [refused], [refused]]
    with caplog.at_level(logging.INFO, logger="lambda_vpc_rules"), \
            pytest.raises(PutEvaluationsFailed, match="in batch 2: gone-120") as failed:
        handler(scheduled_event(RULE), LambdaContext())
    assert [len(request["Evaluations"]) for request in config_calls.put] == [100, 51, 1]
    line = _failure_line(caplog)
    assert line["level"] == "ERROR" and line["outcome"] == "failed" and line["error"] == "FailedEvaluations"
    assert (line["evaluated"], line["put"], line["not_put"], line["batches"]) == (151, 100, 51, 2)
    assert line["batches_put"] == ["batch 1: 100 evaluations (gone-000 .. gone-099)"]
    assert line["cleanup"] == "150 function(s) gone marked NOT_APPLICABLE"
    assert "100 put in 1 of 2 batch(es), 51 not put" in str(failed.value)
    # what was put is logged evaluation by evaluation; nothing of batch 2
    logged = [r.fields["resource"] for r in caplog.records if r.getMessage() == "evaluation"]
    assert logged == gone[:100]


def test_an_aws_error_fails_the_invocation_with_its_error_response(handler, config_calls, function, caplog):
    config_calls.errors["PutEvaluations"] = ("AccessDeniedException", "not authorized")
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"):
        response = failed_invocation(handler, change_event(configuration_item(function), RULE))
    assert response["customerErrorCode"] == "AccessDeniedException"
    line = _failure_line(caplog)
    assert (line["evaluated"], line["put"], line["batches_put"]) == (1, 0, [])
    assert line["detail"] == "missing permission config:PutEvaluations: not authorized"


def test_no_time_left_reads_nothing_puts_nothing_and_fails(handler, config_calls, function, caplog):
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"), pytest.raises(InvocationFailed) as failed:
        handler(scheduled_event(RULE), LambdaContext(remaining_ms=30_000))
    assert failed.value.response["customerErrorCode"] == "OutOfTime"
    assert config_calls.put == [] and config_calls.queries == []
    line = _failure_line(caplog)
    assert line["evaluated"] is None and line["summary"] == "nothing evaluated, nothing put"
    assert "30.0 s left" in line["detail"] and "60 s kept to put evaluations" in line["detail"]


def test_out_of_time_after_evaluating_puts_the_verdicts_skips_the_clean_up_and_fails(
        handler, config_calls, function, caplog, monkeypatch):
    config_calls.previous_results = earlier_evaluations(RULE, ["gone-fn"])
    context = LambdaContext()
    evaluate = handler_module.evaluate_account

    def evaluating_takes_the_time(*args, **kwargs):
        results = evaluate(*args, **kwargs)
        context.remaining_ms = 45_000  # the listing and the facts took all but 45 s
        return results

    monkeypatch.setattr(handler_module, "evaluate_account", evaluating_takes_the_time)
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"), pytest.raises(InvocationFailed) as failed:
        handler(scheduled_event(RULE), context)
    assert failed.value.response["customerErrorCode"] == "OutOfTime"
    assert "GetComplianceDetailsByConfigRule" in failed.value.response["customerErrorMessage"]
    # the function listed is put; the one AWS Config held is not marked gone: the clean-up did not run
    assert {e["ComplianceResourceId"]: e["ComplianceType"] for e in config_calls.evaluations} == {
        "fn": "NON_COMPLIANT"}
    line = _failure_line(caplog)
    assert (line["evaluated"], line["put"], line["not_put"]) == (1, 1, 0)
    assert line["cleanup"].startswith("skipped: out of time reading AWS Config's verdicts")


def test_a_bad_margin_setting_fails_the_invocation(handler, config_calls, function, monkeypatch):
    monkeypatch.setenv("LAMBDA_VPC_RULES_PUT_MARGIN_SECONDS", "soon")
    response = failed_invocation(handler, change_event(configuration_item(function), RULE), LambdaContext())
    assert response["customerErrorCode"] == "InvalidSetting" and config_calls.put == []


def test_bad_parameters_and_malformed_events_stay_error_responses_logged_as_errors(handler, config_calls, function,
                                                                                    caplog):
    """Deterministic and found before any AWS call: rdklib's error response, and an ERROR line the pack's
    metric filter counts (docs/control-health.md)."""
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"):
        bad_parameter = handler(change_event(configuration_item(function), RULE, {"AllowedEgressTargets": "pigeon"}),
                                LambdaContext())
        malformed = handler({"not": "an event"}, LambdaContext())
    assert bad_parameter["customerErrorCode"] == "InvalidParameterValueException"
    assert malformed["customerErrorCode"] == "InvalidEvent"
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR"] and config_calls.put == []


def test_out_of_time_while_reading_the_account_puts_nothing_cleans_nothing_up_and_fails(handler, config_calls,
                                                                                        function, caplog):
    import boto3

    config_calls.previous_results = earlier_evaluations(RULE, ["gone-fn"])
    context = LambdaContext()

    def listing_took_the_time(**_):
        context.remaining_ms = 50_000

    boto3.DEFAULT_SESSION.events.register("after-call.lambda.ListFunctions", listing_took_the_time)
    with caplog.at_level(logging.ERROR, logger="lambda_vpc_rules"), pytest.raises(InvocationFailed) as failed:
        handler(scheduled_event(RULE), context)
    assert failed.value.response["customerErrorCode"] == "OutOfTime"
    assert config_calls.put == []  # gone-fn is not marked NOT_APPLICABLE: the account was not read whole
    line = _failure_line(caplog)
    assert line["evaluated"] is None and line["cleanup"] == "not run (the listing was not read whole)"
