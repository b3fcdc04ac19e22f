"""Coverage means recent evaluation by the pack's own rule (core.coverage.rule_gap): a rule of the pack's name
whose source is another function, and one whose newest evaluation is older than its frequency allows, are each a
coverage gap - in `evidence --source config` (exit 2, the bundle lists the reason) and in `status`."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest

from aws_support import REGION, Estate
from lambda_vpc_rules.core.coverage import RuleSource, freshness_gap, rule_gap
from lambda_vpc_rules.tooling.cli import main

NAT = "lambda-vpc-private-subnet-nat"
ACCOUNT = "123456789012"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(hours_ago: float) -> str:
    return (NOW - dt.timedelta(hours=hours_ago)).isoformat()


def _result(resource: str, recorded: str) -> dict:
    return {"EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                "ConfigRuleName": NAT, "ResourceType": "AWS::Lambda::Function", "ResourceId": resource}},
            "ComplianceType": "COMPLIANT", "ResultRecordedTime": recorded, "ConfigRuleInvokedTime": recorded}


def _rule(aws, host_arn: str, frequency: str = "TwentyFour_Hours") -> None:
    aws.client("config").put_config_rule(ConfigRule={
        "ConfigRuleName": NAT, "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": host_arn, "SourceDetails": [
            {"EventSource": "aws.config", "MessageType": "ScheduledNotification",
             "MaximumExecutionFrequency": frequency}]}})


@pytest.fixture
def cli_config(config_calls, monkeypatch):
    """The CLI's sessions answer the Config calls moto lacks (tests/aws_support.py, ConfigCalls)."""
    real_session = boto3.Session

    def session(**kwargs):
        made = real_session(**kwargs)
        config_calls.install(made)
        return made

    monkeypatch.setattr("lambda_vpc_rules.tooling.cli.boto3.Session", session)
    return config_calls


CASES = {
    "the pack's own rule, fresh": ("pack", 3, 0, None),
    "a foreign function's rule": ("foreign", 3, 2, "rule source is not the pack's function"),
    "the pack's rule, stale": ("pack", 24 * 33, 2, "expected every 24 h (+2 h slack)"),
}


@pytest.mark.parametrize(("host", "hours_ago", "code", "reason"), CASES.values(), ids=CASES.keys())
def test_evidence_counts_only_recent_evaluation_by_the_packs_rule(aws, cli_config, tmp_path, capsys, host, hours_ago,
                                                                  code, reason):
    function = Estate(aws).function(NAT if host == "pack" else "always-compliant")
    _rule(aws, function["FunctionArn"])
    cli_config.previous_results = [_result("fn-a", _iso(hours_ago))]
    bundle = tmp_path / "bundle"
    argv = ["evidence", "--out", str(bundle), "--region", REGION, "--source", "config"]
    if host == "foreign":  # its verdicts are no rows: nothing of the pack's to evidence, and it says why
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "nothing to evidence" in err and reason in err
        return
    assert main(argv) == code
    coverage = json.loads((bundle / "manifest.json").read_text())["coverage"]
    if reason is None:
        assert coverage["complete"] and coverage["not_covered"] == []
        return
    [gap] = coverage["not_covered"]
    assert (gap["account_id"], gap["region"]) == (ACCOUNT, REGION) and reason in gap["reason"]
    assert f"last evaluated {(NOW - dt.timedelta(hours=hours_ago)).strftime('%Y-%m-%d')}" in gap["reason"]
    assert "coverage incomplete" in capsys.readouterr().err
    assert "NOT covered" in (bundle / "report.html").read_text() or reason in (bundle / "report.html").read_text()


def test_the_one_test_of_coverage():
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{NAT}"
    ours = RuleSource(NAT, "CUSTOM_LAMBDA", arn, "Six_Hours")
    now = "2026-11-10T12:00:00+00:00"
    assert rule_gap(ours, ACCOUNT, REGION, NAT, "2026-11-10T05:00:00+00:00", now) is None  # 7 h <= 6 + 2
    assert rule_gap(ours, ACCOUNT, REGION, NAT, "2026-11-10T03:00:00+00:00", now) == (
        f"{NAT}: last evaluated 2026-11-10 03:00 UTC, expected every 6 h (+2 h slack)")
    assert rule_gap(ours, ACCOUNT, REGION, NAT, None, now) == f"{NAT}: no evaluation recorded, expected every 6 h " \
                                                               "(+2 h slack)"
    for source in (RuleSource(NAT, "AWS", "LAMBDA_FUNCTION_SETTINGS_CHECK", "Six_Hours"),
                   RuleSource(NAT, "CUSTOM_LAMBDA", arn.replace(ACCOUNT, "999999999999"), "Six_Hours"),
                   RuleSource(NAT, "CUSTOM_LAMBDA", arn.replace(REGION, "eu-west-1"), "Six_Hours"),
                   RuleSource(NAT, "CUSTOM_LAMBDA", arn + ":1", "Six_Hours"),
                   RuleSource(NAT, "CUSTOM_POLICY", "", "Six_Hours")):
        assert "rule source is not the pack's function" in rule_gap(source, ACCOUNT, REGION, NAT,
                                                                     "2026-11-10T11:00:00+00:00", now)
    assert "no periodic trigger" in rule_gap(RuleSource(NAT, "CUSTOM_LAMBDA", arn, None), ACCOUNT, REGION, NAT,
                                             "2026-11-10T11:00:00+00:00", now)
    assert freshness_gap(NAT, "TwentyFour_Hours", "2026-11-02T00:00:00Z", now).startswith(
        f"{NAT}: last evaluated 2026-11-02 00:00 UTC, expected every 24 h")


@pytest.mark.parametrize(("host", "hours_ago", "gap"), [("pack", 3, None),
                                                        ("foreign", 3, "rule source is not the pack's function"),
                                                        ("pack", 24 * 33, "expected every 24 h (+2 h slack)")],
                         ids=["covered", "foreign-source", "stale"])
def test_status_shows_each_rules_last_run_and_failure_and_its_coverage(aws, config_calls, host, hours_ago, gap):
    from lambda_vpc_rules.tooling.deploy.status import Placement, judge, rule_health

    function = Estate(aws).function(NAT if host == "pack" else "always-compliant")
    _rule(aws, function["FunctionArn"])
    config_calls.previous_results = [_result("fn-a", _iso(hours_ago)), _result("fn-b", _iso(hours_ago + 5))]
    failed_at = (NOW - dt.timedelta(hours=30)).replace(minute=0, second=0)
    aws.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": NAT}], "Timestamp": failed_at,
         "Value": 1.0, "Unit": "Count"}])
    row = judge(rule_health(Placement(ACCOUNT, REGION, functions="CREATE_COMPLETE", pack="CREATE_COMPLETE"),
                            lambda service: boto3.DEFAULT_SESSION.client(service, region_name=REGION), NOW),
                role_expected=False)
    [rule] = row.rules
    assert rule["config_rule"] == NAT and rule["last_failure"] == failed_at.isoformat()
    if host == "foreign":  # its evaluations are not the pack's: no successful run of the pack's rule
        assert rule["last_successful_run"] is None
    else:
        assert rule["last_successful_run"] == _iso(hours_ago)
    if gap is None:
        assert (row.coverage, row.failed) == ("1/1 covered", [])
    else:
        assert row.coverage == "0/1 covered"
        [failure] = row.failures()
        assert failure.startswith(f"{ACCOUNT} {REGION}: coverage: {NAT}: ") and gap in failure
