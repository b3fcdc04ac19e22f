"""Many accounts and regions in one run, against moto's Organizations and cross-account AssumeRole: the
accounts an organization lists (ACTIVE ones), a role assumed in each, each account's enabled regions,
bounded concurrency; every format carries account and region; what cannot be read is a coverage gap (exit
2) beside the verdicts of the rest; calls per account-region stay at the single-account page floor."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import boto3
import pytest
from moto import mock_aws

from aws_support import REGION, AwsError, CallRecorder, ConfigCalls, Estate
from conftest import FAKE_ENVIRONMENT
from lambda_vpc_rules.aws.organization import ALL, Fleet, Selection, scan_many, views_of_fleet
from lambda_vpc_rules.core.coverage import EVERY_REGION
from lambda_vpc_rules.core.rules import get_rule
from lambda_vpc_rules.outputs.report import RENDERERS
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

ROLE = "lambda-vpc-rules-audit"
TENANCY = "lambda-vpc-default-tenancy"
REGIONS = ("us-east-1", "eu-west-1")


class InRegion:
    """A session's clients in one region (for the Estate helpers), without a session per region."""

    def __init__(self, session: boto3.Session, region: str):
        self.session, self.region = session, region

    def client(self, service: str):
        return self.session.client(service, region_name=self.region)


def assumed(account_id: str) -> boto3.Session:
    """A session in a member account, as its role gives one (moto maps the keys to the account)."""
    answer = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="test-setup")["Credentials"]
    return boto3.Session(aws_access_key_id=answer["AccessKeyId"], aws_secret_access_key=answer["SecretAccessKey"],
                         aws_session_token=answer["SessionToken"], region_name=REGION)


def estate_in(session: boto3.Session, region: str, dedicated: bool, role: str) -> None:
    """One VPC function (NON_COMPLIANT under the tenancy rule when its VPC is dedicated) and one outside."""
    estate = Estate(InRegion(session, region))
    vpc = estate.vpc(tenancy="dedicated" if dedicated else "default")
    subnet = estate.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{region}a")
    estate.function(f"fn-{region}", [subnet["Subnet"]["SubnetId"]], role=role)
    estate.function(f"plain-{region}", role=role)


@pytest.fixture(scope="module")
def organization():
    """The management account (moto's default) and four members; a fifth member closed (SUSPENDED). Built
    once for the module: the scans only read it."""
    with pytest.MonkeyPatch.context() as patch, mock_aws(), moto_as_aws_answers():
        for key, value in FAKE_ENVIRONMENT.items():
            patch.setenv(key, value)
        yield _build_organization()


def _build_organization() -> dict:
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    members = [org.create_account(AccountName=f"member-{i}", Email=f"m{i}@example.com")["CreateAccountStatus"][
        "AccountId"] for i in range(5)]
    org.close_account(AccountId=members[4])
    accounts = ["123456789012", *members[:4]]
    for index, account in enumerate(accounts):
        session = assumed(account)
        role = Estate(InRegion(session, REGION)).role()
        for region in REGIONS:
            estate_in(session, region, dedicated=(index == 1 and region == "eu-west-1"), role=role)
    return {"accounts": sorted(accounts), "members": members[:4], "closed": members[4], "bad": accounts[1]}


def run_cli(capsys, monkeypatch, *args, errors=()):
    real = boto3.Session

    def session(**kwargs):  # the CLI's caller session, with the AWS errors a test injects
        made = real(**kwargs)
        for error in errors:
            error.install(made)
        return made

    monkeypatch.setattr("lambda_vpc_rules.tooling.cli.boto3.Session", session)
    code = main(["scan", "--region", REGION, "--rule", TENANCY, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


ORG = ("--accounts", "all", "--role-name", ROLE, "--regions", ",".join(REGIONS))


def test_every_active_account_and_region_in_one_report(organization, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, *ORG, "--format", "json", "--concurrency", "3")
    report = json.loads(out)
    assert code == 1  # coverage complete, one NON_COMPLIANT function
    assert report["account_id"] is None and report["region"] is None  # several of each
    coverage = report["coverage"]
    assert coverage["complete"] is True and coverage["not_covered"] == []
    assert [(c["account_id"], c["region"]) for c in coverage["covered"]] == [
        (a, r) for a in organization["accounts"] for r in sorted(REGIONS)]
    assert coverage["left_out"] == [{"account_id": organization["closed"],
                                     "reason": "not ACTIVE in the organization (SUSPENDED)"}]
    assert {(e["account_id"], e["region"], e["resource_id"]) for e in report["evaluations"]} == {
        (a, r, f"{kind}-{r}") for a in organization["accounts"] for r in REGIONS for kind in ("fn", "plain")}
    first = report["evaluations"][0]  # NON_COMPLIANT first
    assert (first["account_id"], first["region"], first["compliance"]) == (organization["bad"], "eu-west-1",
                                                                           "NON_COMPLIANT")
    assert all(e["resource_arn"].startswith(f"arn:aws:lambda:{e['region']}:{e['account_id']}:")
               for e in report["evaluations"])


def test_an_account_whose_role_cannot_be_assumed_is_a_gap_and_the_rest_is_still_written(
        organization, capsys, monkeypatch):
    denied = organization["members"][2]
    refuse = AwsError("sts", "AssumeRole", "AccessDenied", status=403, match=denied.encode(),
                      message=f"User is not authorized to perform: sts:AssumeRole on arn:aws:iam::{denied}:role/x")
    code, out, err = run_cli(capsys, monkeypatch, *ORG, "--format", "json", errors=[refuse])
    report = json.loads(out)
    assert code == 2
    assert "coverage incomplete" in err
    gaps = report["coverage"]["not_covered"]
    assert [(g["account_id"], g["region"]) for g in gaps] == [(denied, EVERY_REGION)]
    assert gaps[0]["reason"].startswith("access denied: sts:AssumeRole was refused (AccessDenied)")
    assert len(report["coverage"]["covered"]) == 4 * len(REGIONS)
    assert denied not in {e["account_id"] for e in report["evaluations"]}
    assert {e["account_id"] for e in report["evaluations"]} == set(organization["accounts"]) - {denied}

    # every format lists it
    caller = boto3.Session(region_name=REGION)
    refuse.install(caller)
    many = scan_many(Fleet(caller, Selection(REGIONS, ALL, ROLE)), [get_rule(TENANCY)])
    for fmt, expect in [("csv", f"coverage,{denied},*,"), ("table", f"NOT COVERED {denied} (every region)"),
                        ("asff", f"AWS::::Account:{denied}")]:
        assert expect in RENDERERS[fmt](many), fmt
    rows = list(csv.DictReader(io.StringIO(RENDERERS["csv"](many))))
    gap_rows = [r for r in rows if r["record"] == "coverage" and r["annotation"].startswith("NOT covered")]
    assert [(r["account_id"], r["region"]) for r in gap_rows] == [(denied, "*")]
    gap = next(f for f in json.loads(RENDERERS["asff"](many)) if f["GeneratorId"] == "lambda-vpc-rules/coverage")
    assert gap["Compliance"]["Status"] == "NOT_AVAILABLE" and gap["RecordState"] == "ACTIVE"
    assert gap["AwsAccountId"] == "123456789012"  # reported where the run was made from


def test_a_region_not_enabled_and_a_refused_read_are_gaps(organization, capsys, monkeypatch):
    member = organization["members"][0]
    # moto lists ap-east-1 as not-opted-in, like an opt-in region in AWS
    refuse = AwsError("lambda", "ListFunctions", "AccessDeniedException", status=403, match=None)
    selection = Selection(("us-east-1", "ap-east-1"), (member, "123456789012"), ROLE)

    def prepare(session):
        if session.client("sts").get_caller_identity()["Account"] == member:
            refuse.install(session)

    fleet = Fleet(boto3.Session(region_name=REGION), selection, prepare_session=prepare)
    report = scan_many(fleet, concurrency=2)
    gaps = {(g.account_id, g.region): g.reason for g in report.coverage.gaps}
    assert gaps[(member, "ap-east-1")] == "region not enabled in this account (OptInStatus not-opted-in)"
    assert gaps[("123456789012", "ap-east-1")].startswith("region not enabled")
    assert gaps[(member, "us-east-1")].startswith("access denied: lambda:ListFunctions was refused")
    assert [(c.account_id, c.region) for c in report.coverage.covered] == [("123456789012", "us-east-1")]
    assert {e.account_id for e in report.evaluations} == {"123456789012"}


def test_regions_all_reads_each_accounts_enabled_regions_and_excluded_accounts_are_listed(
        organization, capsys, monkeypatch):
    kept = organization["members"][1]
    excluded = [m for m in organization["members"] if m != kept]  # the NON_COMPLIANT function's account too
    code, out, _ = run_cli(capsys, monkeypatch, "--accounts", "all", "--role-name", ROLE, "--regions", "all",
                           "--excluded-accounts", ",".join(excluded), "--format", "json", "--concurrency", "8")
    coverage = json.loads(out)["coverage"]
    enabled = sorted(r["RegionName"] for r in boto3.client("ec2", region_name=REGION).describe_regions(
        AllRegions=True)["Regions"] if r["OptInStatus"] in ("opt-in-not-required", "opted-in"))
    assert "ap-east-1" not in enabled and "us-east-1" in enabled
    assert sorted({c["region"] for c in coverage["covered"]}) == enabled
    assert {c["account_id"] for c in coverage["covered"]} == {"123456789012", kept}
    assert {x["account_id"]: x["reason"] for x in coverage["left_out"]} == {
        **{a: "excluded" for a in excluded}, organization["closed"]: "not ACTIVE in the organization (SUSPENDED)"}
    assert code == 0  # the NON_COMPLIANT function's account is excluded


def test_concurrency_changes_nothing_but_time_and_calls_stay_at_the_page_floor(organization):
    """The same verdicts at 1 and 4 workers; each account-region costs what a one-account scan costs (its
    page floor) without IAM, which is global and read once per account; plus AssumeRole and DescribeRegions
    once per account."""
    reports, recorders = [], []
    for concurrency in (1, 4):
        recorder = CallRecorder()
        caller = boto3.Session(region_name=REGION)
        recorder.install(caller)
        fleet = Fleet(caller, Selection(REGIONS, ALL, ROLE), prepare_session=recorder.install)
        reports.append(scan_many(fleet, concurrency=concurrency))
        recorders.append(recorder)
    def verdicts(report):
        return [(e.account_id, e.region, e.rule, e.resource_id, e.compliance, e.annotation)
                for e in report.evaluations]

    assert verdicts(reports[0]) == verdicts(reports[1])
    assert len(reports[0].coverage.covered) == 5 * len(REGIONS) and reports[0].coverage.complete
    calls = recorders[1].by_operation()
    targets = 5 * len(REGIONS)
    # a one-account scan of the same estate
    single = CallRecorder()
    own = boto3.Session(region_name=REGION)
    single.install(own)
    from lambda_vpc_rules.aws.account import scan_session

    scan_session(own)
    per_target = {op: n for op, n in single.by_operation().items() if op != "sts:GetCallerIdentity"}
    for operation, count in per_target.items():
        assert calls[operation] == count * (5 if operation.startswith("iam:") else targets), operation
    assert calls["iam:GetAccountAuthorizationDetails"] == 5
    assert calls["sts:AssumeRole"] == 5 and calls["ec2:DescribeRegions"] == 5
    assert calls["organizations:ListAccounts"] == 1 and calls["sts:GetCallerIdentity"] == 1


def test_a_retry_is_reported_while_it_waits(organization, monkeypatch):
    member = organization["members"][0]
    throttle = AwsError("ec2", "DescribeVpcs", "RequestLimitExceeded", status=503, times=1)
    messages: list[str] = []
    monkeypatch.setenv("LAMBDA_VPC_RULES_MAX_ATTEMPTS", "3")
    fleet = Fleet(boto3.Session(region_name=REGION), Selection(("us-east-1",), (member,), ROLE),
                  prepare_session=throttle.install)
    report = scan_many(fleet, concurrency=1, progress=messages.append)
    assert report.coverage.complete and throttle.attempts == 2
    assert f"{member} us-east-1: DescribeVpcs answered RequestLimitExceeded; waiting to retry (attempt 2 of 3)" \
        in messages
    assert messages[-1].startswith(f"[1/1] {member} us-east-1: 2 read in ")


def test_arguments_that_cannot_select_accounts_are_usage_errors(capsys):
    assert main(["scan", "--region", REGION, "--accounts", "all"]) == 2
    assert "--accounts needs --role-name" in capsys.readouterr().err
    assert main(["scan", "--region", REGION, "--role-name", ROLE]) == 2
    assert "--role-name applies to --accounts" in capsys.readouterr().err
    assert main(["scan", "--regions", "us-east-1", "--accounts", "12345"]) == 2
    assert "not a 12-digit account ID" in capsys.readouterr().err
    assert main(["scan", "--regions", "us-east-1", "--concurrency", "0"]) == 2
    assert main(["scan", "--regions", "us_east", "--format", "json"]) == 2
    assert "not region names" in capsys.readouterr().err
    assert main(["scan", "--regions", "us-east-1", "--security-hub"]) == 2
    assert "--security-hub imports findings in the account and region scanned" in capsys.readouterr().err


def test_evidence_from_aws_config_in_many_accounts(organization, tmp_path):
    """Config evidence per account-region: where a rule is deployed its evaluations are rows (functions only:
    drift's NOT_APPLICABLE on a subnet is counted, not a row); where none is, a gap."""
    deployed_in = organization["members"][:2]
    for account in deployed_in:
        session = assumed(account)
        host = Estate(InRegion(session, REGION)).function(TENANCY)  # the pack's function hosts the rule
        session.client("config").put_config_rule(ConfigRule={
            "ConfigRuleName": TENANCY, "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": host["FunctionArn"],
                                                  "SourceDetails": [{"EventSource": "aws.config",
                                                                     "MessageType": "ScheduledNotification"}]}})
    calls = ConfigCalls(previous_results=[
        _result("fn-us-east-1", "COMPLIANT", "AWS::Lambda::Function"),
        _result("subnet-0abc", "NOT_APPLICABLE", "AWS::EC2::Subnet")])
    calls.statuses[TENANCY] = {"FirstEvaluationStarted": True, "LastSuccessfulEvaluationTime": "2026-11-25T01:00:00Z"}
    selection = Selection(("us-east-1",), (*deployed_in, organization["members"][2]), ROLE)
    fleet = Fleet(boto3.Session(region_name=REGION), selection, prepare_session=calls.install)
    views, coverage = views_of_fleet(fleet, [TENANCY])
    assert [(g.account_id, g.reason.split(" (")[0]) for g in coverage.gaps] == [
        (organization["members"][2], f"none of the pack's rules is deployed as an AWS Config rule in "
                                     f"{organization['members'][2]} us-east-1")]
    assert sorted(c.account_id for c in coverage.covered) == sorted(deployed_in)

    from lambda_vpc_rules.outputs.evidence import Evidence, write_bundle

    evidence = Evidence.from_config("2026-11-25T02:00:00+00:00", "config", {"Account": "123456789012"}, views,
                                    coverage, many=True)
    assert [(e.account_id, e.resource_id, e.recorded_at) for e in evidence.rows] == [
        (a, "fn-us-east-1", RECENT) for a in sorted(deployed_in)]
    assert evidence.other_evaluations == {"AWS::EC2::Subnet": 2}
    assert [(s.account_id, s.last_successful_evaluation) for s in evidence.rule_statuses] == [
        (a, "2026-11-25T01:00:00+00:00") for a in sorted(deployed_in)]
    write_bundle(tmp_path, evidence)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["evaluations"]["other_resource_types_not_rows"] == {"AWS::EC2::Subnet": 2}
    assert manifest["coverage"]["not_covered"][0]["account_id"] == organization["members"][2]
    assert manifest["rule_parameters"][0]["where"] == [f"{a} us-east-1" for a in sorted(deployed_in)]


def _result(resource: str, compliance: str, resource_type: str) -> dict:
    return {"EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                "ConfigRuleName": TENANCY, "ResourceType": resource_type, "ResourceId": resource}},
            "ComplianceType": compliance, "ResultRecordedTime": RECENT, "ConfigRuleInvokedTime": RECENT}


# an hour ago: within any frequency the pack allows (coverage needs a recent evaluation)
RECENT = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0).isoformat()


def test_the_organization_scan_of_config_counts_only_recent_evaluation_by_the_packs_rule(organization):
    """Runs last in this module (it adds functions and rules): one member runs a rule of the pack's name on
    another function, another the pack's own rule whose newest evaluation is 33 days old; both are gaps."""
    foreign, stale = organization["members"][3], organization["members"][0]
    session = assumed(foreign)
    foreign_arn = Estate(InRegion(session, REGION)).function("always-compliant")["FunctionArn"]
    session.client("config").put_config_rule(ConfigRule={
        "ConfigRuleName": TENANCY, "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": foreign_arn,
                                              "SourceDetails": [{"EventSource": "aws.config",
                                                                 "MessageType": "ScheduledNotification"}]}})
    session = assumed(stale)
    if not session.client("config").describe_config_rules()["ConfigRules"]:  # the test above deployed it there
        host = Estate(InRegion(session, REGION)).function(TENANCY)
        session.client("config").put_config_rule(ConfigRule={
            "ConfigRuleName": TENANCY, "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": host["FunctionArn"],
                                                  "SourceDetails": [{"EventSource": "aws.config",
                                                                     "MessageType": "ScheduledNotification"}]}})
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=33)).replace(microsecond=0).isoformat()
    calls = ConfigCalls(previous_results=[{**_result("fn-us-east-1", "COMPLIANT", "AWS::Lambda::Function"),
                                           "ResultRecordedTime": old}])
    fleet = Fleet(boto3.Session(region_name=REGION), Selection(("us-east-1",), (foreign, stale), ROLE),
                  prepare_session=calls.install)
    views, coverage = views_of_fleet(fleet, [TENANCY])
    reasons = {g.account_id: g.reason for g in coverage.gaps}
    assert coverage.covered == () and set(reasons) == {foreign, stale}
    assert reasons[foreign].startswith(
        f"{TENANCY}: rule source is not the pack's function (CUSTOM_LAMBDA {foreign_arn}")
    assert reasons[stale] == (f"{TENANCY}: last evaluated {old[:10]} {old[11:16]} UTC, expected every 24 h "
                              "(+2 h slack)")
    assert [v.evaluations for v in views if v.account_id == foreign] == [[]]  # not the pack's verdicts: no rows
