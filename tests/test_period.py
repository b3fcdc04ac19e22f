"""Evidence over an audit period (issue 28): the timeline core on its own, then a simulated 90-day period
in moto in which the deployed multi-AZ rule's scheduled run writes a snapshot a day (time moved by the test),
a function is non-compliant for three days in the middle, another is created and deleted inside the period,
and one day has no run at all; then `evidence --from --to` over it. AWS Config's compliance history, which
moto does not record, is read from answers checked against botocore's model."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from aws_support import REGION, scheduled_event
from conftest import ACCOUNT, load_rule_module
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.aws.history import observations_from_items, read_history, windows
from lambda_vpc_rules.core.timeline import (
    DELETED,
    SOURCE_CONFIG,
    Key,
    Observation,
    Period,
    Snapshot,
    build_period,
)
from lambda_vpc_rules.outputs.evidence import verify_bundle
from lambda_vpc_rules.outputs.period import oscal_control_id
from lambda_vpc_rules.tooling.cli import main

RULE, RULE_DIR = "lambda-vpc-multi-az", "LAMBDA_VPC_MULTI_AZ"
START = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
PERIOD = Period(START, START + dt.timedelta(days=90))


def day(n: int, hour: int = 6) -> dt.datetime:
    return START + dt.timedelta(days=n, hours=hour)


def snapshot(n: int, verdicts: dict[str, str]) -> Snapshot:
    return Snapshot(ACCOUNT, REGION, RULE, day(n), {name: (state, f"{state} on day {n}")
                                                   for name, state in verdicts.items()})


# ------------------------------------------------------------------------------------------------ the core


def test_three_days_non_compliant_is_one_interval_of_three_days_ended_fixed():
    snapshots = [snapshot(n, {"app": "NON_COMPLIANT" if 40 <= n < 43 else "COMPLIANT"}) for n in range(90)]
    result = build_period(PERIOD, snapshots, [], [(ACCOUNT, REGION, RULE)])
    [interval] = result.non_compliant_intervals()
    assert (interval.start, interval.end, interval.ended_by) == (day(40), day(43), "fixed")
    assert interval.duration == dt.timedelta(days=3)
    [timeline] = result.population
    # 06:00 on day 40 to 06:00 on day 43 touches four calendar days: a day non-compliant at any moment counts
    assert (timeline.days.compliant, timeline.days.non_compliant, timeline.days.gap) == (86, 4, 0)
    assert result.run_gaps == []
    assert result.time_to_remediate() == {"fixed": 1, "mean_hours": 72.0, "median_hours": 72.0, "max_hours": 72.0}


def test_a_day_without_snapshot_or_config_record_is_a_gap_never_compliant():
    snapshots = [snapshot(n, {"app": "COMPLIANT"}) for n in range(90) if n != 60]
    result = build_period(PERIOD, snapshots, [], [(ACCOUNT, REGION, RULE)])
    assert [(g.rule, g.day) for g in result.run_gaps] == [(RULE, day(60).date())]
    [timeline] = result.population
    assert timeline.gap_days == (day(60).date(),)
    assert (timeline.days.compliant, timeline.days.gap) == (89, 1)
    assert result.by_rule()[RULE].compliant_share == pytest.approx(89 / 90)


def test_a_config_transition_on_a_day_without_snapshot_is_evidence_for_that_function():
    snapshots = [snapshot(n, {"app": "COMPLIANT"}) for n in range(90) if n != 60]
    config = [Observation(Key(ACCOUNT, REGION, RULE, "app"), day(60, 12), "NON_COMPLIANT", SOURCE_CONFIG)]
    result = build_period(PERIOD, snapshots, config, [(ACCOUNT, REGION, RULE)])
    assert result.run_gaps == []  # the rule ran that day: AWS Config recorded its transition
    [interval] = result.non_compliant_intervals()
    assert (interval.start, interval.end, interval.ended_by, interval.sources) == (
        day(60, 12), day(61), "fixed", ("config",))
    assert interval.annotation is None  # Config's history carries none


def test_a_function_created_and_deleted_inside_the_period_is_in_the_population():
    snapshots = [snapshot(n, {"app": "COMPLIANT", **({"batch": "COMPLIANT"} if 20 <= n < 50 else {})})
                 for n in range(90)]
    result = build_period(PERIOD, snapshots, [], [(ACCOUNT, REGION, RULE)])
    batch = next(t for t in result.population if t.key.resource_id == "batch")
    states = [(i.state, i.start, i.end) for i in batch.intervals]
    assert states == [("UNKNOWN", PERIOD.start, day(20)), ("COMPLIANT", day(20), day(50)),
                      (DELETED, day(50), PERIOD.end)]
    assert batch.days.compliant == 31 and batch.days.gap == 0  # days 20 to 50: those it existed on, in part


def test_the_state_before_the_period_carries_into_it_and_an_open_interval_stays_open():
    snapshots = [snapshot(-1, {"app": "NON_COMPLIANT"})] + [snapshot(n, {"app": "NON_COMPLIANT"}) for n in range(90)]
    result = build_period(PERIOD, snapshots, [], [(ACCOUNT, REGION, RULE)])
    [interval] = result.non_compliant_intervals()
    assert (interval.start, interval.end, interval.ended_by) == (PERIOD.start, PERIOD.end, "open")
    assert result.time_to_remediate()["fixed"] == 0


def test_an_exception_named_in_the_annotation_is_carried_on_the_interval():
    snapshots = [Snapshot(ACCOUNT, REGION, RULE, day(n), {"app": (
        "NON_COMPLIANT", "one zone; excepted by EX-12 until 2027-03-01 (ops, https://t/1)")}) for n in range(3)]
    result = build_period(Period(START, START + dt.timedelta(days=3)), snapshots, [], [(ACCOUNT, REGION, RULE)])
    assert result.non_compliant_intervals()[0].exception == "EX-12"


def test_a_period_must_end_after_it_starts_and_times_need_a_zone():
    with pytest.raises(ValueError, match="ends"):
        Period(START, START)
    with pytest.raises(ValueError, match="zone"):
        Period(dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1))


def test_oscal_control_ids():
    assert [oscal_control_id(c) for c in ("SC-7", "CP-6(2)", "SI-13(5)")] == ["sc-7", "cp-6.2", "si-13.5"]


# ----------------------------------------------------------------------------- AWS Config's history (model-checked)


def _compliance_item(name: str, at: dt.datetime, states: dict[str, str], status: str = "OK") -> dict:
    return {"version": "1.3", "accountId": ACCOUNT, "configurationItemCaptureTime": at,
            "configurationItemStatus": status, "configurationStateId": str(int(at.timestamp())),
            "resourceType": "AWS::Config::ResourceCompliance", "resourceId": f"AWS::Lambda::Function/{name}",
            "awsRegion": REGION,
            "configuration": json.dumps({"complianceType": "NON_COMPLIANT" if "NON_COMPLIANT" in states.values()
                                         else "COMPLIANT", "targetResourceId": name,
                                         "targetResourceType": "AWS::Lambda::Function",
                                         "configRuleList": [{"configRuleName": rule, "complianceType": state,
                                                             "configRuleArn": "arn:aws:config:::config-rule/x",
                                                             "configRuleId": "config-rule-x"}
                                                            for rule, state in states.items()]})}


def test_config_history_is_read_in_seven_day_windows_and_read_as_transitions():
    start, end = START, START + dt.timedelta(days=15)
    assert len(windows(start, end)) == 3
    config = boto3.client("config", region_name=REGION)
    pack_rule = f"{RULE}-conformance-pack-abc123"
    with Stubber(config) as stub:
        stub.add_response("list_discovered_resources", {"resourceIdentifiers": [
            {"resourceType": "AWS::Config::ResourceCompliance", "resourceId": "AWS::Lambda::Function/app"},
            {"resourceType": "AWS::Config::ResourceCompliance", "resourceId": "AWS::EC2::Instance/i-1"}]},
            {"resourceType": "AWS::Config::ResourceCompliance", "includeDeletedResources": True, "limit": 100})
        answers = [[_compliance_item("app", day(2), {pack_rule: "NON_COMPLIANT", "other-rule": "COMPLIANT"})],
                   [_compliance_item("app", day(9), {pack_rule: "COMPLIANT"})],
                   [_compliance_item("app", day(12), {}, status="ResourceDeleted")]]
        for (earlier, later), items in zip(windows(start, end), answers, strict=True):
            stub.add_response("get_resource_config_history", {"configurationItems": items}, {
                "resourceType": "AWS::Config::ResourceCompliance", "resourceId": "AWS::Lambda::Function/app",
                "earlierTime": earlier, "laterTime": later, "chronologicalOrder": "Forward", "limit": 100})
        read = read_history(Clients(lambda service: config), ACCOUNT, start, end, [RULE])
        stub.assert_no_pending_responses()
    assert read.calls == 4 and read.functions == 1  # the instance's item was never read
    assert [(o.key.rule, o.state, o.at) for o in read.observations] == [
        (RULE, "NON_COMPLIANT", day(2)), (RULE, "COMPLIANT", day(9)), (RULE, DELETED, day(12))]


def test_a_rule_dropped_from_an_item_is_not_applicable():
    """AWS Config deletes NOT_APPLICABLE results: the rule leaves the item's list."""
    items = [_compliance_item("app", day(1), {RULE: "COMPLIANT"}), _compliance_item("app", day(2), {})]
    assert [o.state for o in observations_from_items(items, ACCOUNT, REGION, [RULE])] == [
        "COMPLIANT", "NOT_APPLICABLE"]


# ------------------------------------------------------------------- 90 days in moto, through the handler


@pytest.fixture(scope="module")
def ninety_days(tmp_path_factory):
    """A 90-day period: the multi-AZ rule's scheduled run each day but day 60, writing snapshots to S3;
    `app` in one zone on days 40-42, `batch` created on day 20 and deleted on day 50."""
    from moto import mock_aws

    from aws_support import ConfigCalls, Estate
    from lambda_vpc_rules.rdk import handler as handler_module
    from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

    patch = pytest.MonkeyPatch()
    # rdklib builds its clients anew at each invocation (~0.1 s each); a warm Lambda could keep them. Built once
    # here, so that 89 runs take seconds: the same clients, the same calls.
    from rdklib.clientfactory import ClientFactory

    built: dict = {}
    real_build = ClientFactory.build_client
    patch.setattr(ClientFactory, "build_client", lambda self, service: built[service] if service in built
                  else built.setdefault(service, real_build(self, service)))
    handler_module._own_clients.cache_clear()
    environment = pytest.MonkeyPatch()  # for the module's lifetime: its module-scoped fixtures use it too
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                       "AWS_DEFAULT_REGION": REGION}.items():
        environment.setenv(key, value)
    patch.setenv("LAMBDA_VPC_RULES_SNAPSHOTS", "s3://evidence/snapshots/")
    with mock_aws(), moto_as_aws_answers():
        session = boto3.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket="evidence")
        estate = Estate(session)
        ConfigCalls.on_default_session()
        vpc = estate.vpc()
        zone_a, zone_b = estate.subnet(vpc, "10.0.1.0/24", "a"), estate.subnet(vpc, "10.0.2.0/24", "b")
        estate.function("app", [zone_a, zone_b])
        handler = load_rule_module(RULE_DIR).lambda_handler
        for n in range(90):
            if n == 40:
                estate.lam.update_function_configuration(
                    FunctionName="app", VpcConfig={"SubnetIds": [zone_a], "SecurityGroupIds": []})
            if n == 43:
                estate.lam.update_function_configuration(
                    FunctionName="app", VpcConfig={"SubnetIds": [zone_a, zone_b], "SecurityGroupIds": []})
            if n == 20:
                estate.function("batch", [zone_a, zone_b])
            if n == 50:
                estate.lam.delete_function(FunctionName="batch")
            if n == 60:
                continue  # no run that day
            patch.setattr(handler_module, "_now", lambda n=n: day(n))
            handler(scheduled_event(RULE), None)
        # the period is written: nothing of the runs' set-up may reach the module's other tests
        patch.undo()
        handler_module._own_clients.cache_clear()
        yield session, tmp_path_factory.mktemp("period")
    environment.undo()


def test_the_handler_writes_one_sealed_snapshot_per_scheduled_run(ninety_days):
    session, _ = ninety_days
    s3 = session.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="evidence", Prefix="snapshots/")["Contents"]]
    assert len(keys) == 89 and keys[0] == f"snapshots/{ACCOUNT}/{REGION}/{RULE}/20260601T060000Z.json.gz"
    envelope = json.loads(gzip.decompress(s3.get_object(Bucket="evidence", Key=keys[40])["Body"].read()))
    assert envelope["signature"] is None and len(envelope["sha256"]) == 64
    assert envelope["snapshot"]["verdicts"][0][:2] == ["app", "NON_COMPLIANT"]


@pytest.fixture(scope="module")
def period_bundle(ninety_days):
    _, out = ninety_days
    bundle = out / "period"
    code = main(["evidence", "--region", REGION, "--out", str(bundle), "--from", "2026-06-01", "--to", "2026-08-30",
                 "--snapshots", "s3://evidence/snapshots"])
    return code, bundle


def test_evidence_over_the_period(period_bundle):
    code, bundle = period_bundle
    assert code == 2  # day 60 has no evidence: the period's coverage is incomplete (the bundle is written)
    timeline = json.loads((bundle / "timeline.json").read_text())
    app = next(f for f in timeline["functions"] if f["resource_id"] == "app")
    failing = [i for i in app["intervals"] if i["state"] == "NON_COMPLIANT"]
    assert [(i["start"], i["end"], i["duration_hours"], i["ended_by"]) for i in failing] == [
        ("2026-07-11T06:00:00Z", "2026-07-14T06:00:00Z", 72.0, "fixed")]
    assert "1 Availability Zone" in failing[0]["annotation"] or "zone" in failing[0]["annotation"].lower()
    assert app["not_evaluated_days"] == ["2026-07-31"]
    assert timeline["run_gaps"] == [{"account_id": ACCOUNT, "region": REGION, "rule": RULE, "day": "2026-07-31"}]
    population = list(csv.DictReader(io.StringIO((bundle / "population.csv").read_text())))
    assert sorted(row["resource_id"] for row in population) == ["app", "batch"]
    batch = next(row for row in population if row["resource_id"] == "batch")
    assert (batch["first_seen"], batch["compliant_days"]) == ("2026-06-21T06:00:00Z", "31")
    rows = list(csv.DictReader(io.StringIO((bundle / "non-compliant.csv").read_text())))
    assert [(r["resource_id"], r["duration_hours"]) for r in rows] == [("app", "72.0")]
    assert verify_bundle(bundle) == []
    (bundle / "population.csv").write_text((bundle / "population.csv").read_text().replace(",31,", ",30,"))
    assert any("population.csv: changed" in problem for problem in verify_bundle(bundle))


def test_a_period_bundle_states_the_deployment_as_read_when_it_was_made(ninety_days, period_bundle):
    """`--deployment` in a period bundle too (#22): code signing and the hook, read when the bundle is made (a
    stack's parameters have no history here, which the report says); `null` without it (the bundle above)."""
    from test_evidence_signing import FUNCTIONS_STACK

    _, out = ninety_days
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="signed-deployment", TemplateBody=FUNCTIONS_STACK, Parameters=[{
            "ParameterKey": "SigningProfileVersionArns",
            "ParameterValue": f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/pack/abc"}])
    bundle = out / "period-deployment"
    assert main(["evidence", "--region", REGION, "--out", str(bundle), "--from", "2026-06-01", "--to", "2026-08-30",
                 "--snapshots", "s3://evidence/snapshots", "--deployment", "signed-deployment", "--quiet"]) == 2
    deployment = json.loads((bundle / "manifest.json").read_text())["deployment"]
    assert deployment["code_signing"].startswith("code signing enforced (Lambda runs only code signed by arn:")
    assert deployment["hook"].startswith("CloudFormation hook not deployed")
    report = (bundle / "report.html").read_text()
    assert "when this bundle was made (not over the period)" in report and "code signing enforced" in report
    assert verify_bundle(bundle) == []
    assert json.loads((period_bundle[1] / "manifest.json").read_text())["deployment"] is None


def test_the_oscal_document_validates_against_oscal_assessment_results(period_bundle):
    from trestle.oscal.assessment_results import Model

    _, bundle = period_bundle
    document = json.loads((bundle / "oscal-assessment-results.json").read_text())
    model = Model.model_validate(document)
    result = model.assessment_results.results[0]
    assert model.assessment_results.metadata.oscal_version.root.root == "1.2.1"
    assert len(result.observations) == 2
    assert any(f.target.status.state.value == "not-satisfied" for f in result.findings)


def test_a_rewritten_snapshot_is_rejected_and_its_day_is_a_gap(ninety_days, capsys):
    session, out = ninety_days
    s3 = session.client("s3")
    key = f"snapshots/{ACCOUNT}/{REGION}/{RULE}/20260711T060000Z.json.gz"  # day 40: app NON_COMPLIANT
    original = s3.get_object(Bucket="evidence", Key=key)["Body"].read()
    envelope = json.loads(gzip.decompress(original))
    envelope["snapshot"]["verdicts"][0][1] = "COMPLIANT"  # hide the failure, keep the old digest
    s3.put_object(Bucket="evidence", Key=key, Body=gzip.compress(json.dumps(envelope).encode()))
    try:
        bundle = out / "tampered"
        assert main(["evidence", "--region", REGION, "--out", str(bundle), "--from", "2026-07-10", "--to",
                     "2026-07-13", "--snapshots", "s3://evidence/snapshots/"]) == 2
        timeline = json.loads((bundle / "timeline.json").read_text())
        assert any("does not match its SHA-256" in r for r in timeline["sources"]["snapshots"]["rejected"])
        assert {g["day"] for g in timeline["run_gaps"]} == {"2026-07-11"}
    finally:
        s3.put_object(Bucket="evidence", Key=key, Body=original)


def test_period_arguments_are_checked(capsys):
    assert main(["evidence", "--region", REGION, "--out", "x", "--to", "2026-01-01"]) == 2
    assert "--from" in capsys.readouterr().err
    assert main(["evidence", "--region", REGION, "--out", "x", "--from", "2026-13-01", "--snapshots", "s3://b"]) == 2
    assert "expected a date" in capsys.readouterr().err
    assert main(["evidence", "--region", REGION, "--out", "x", "--from", "2026-01-01"]) == 2
    assert "needs a source" in capsys.readouterr().err


def test_a_signed_snapshot_verifies_with_its_key_and_not_with_another(aws):
    from lambda_vpc_rules.aws.snapshots import Location, read_snapshots, snapshot_document, write_snapshot

    aws.client("s3").create_bucket(Bucket="signed-evidence")
    kms = aws.client("kms")
    key, other = (kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
                  for _ in range(2))
    clients = Clients(session_clients(aws))
    location = Location.parse("s3://signed-evidence/snap")
    document = snapshot_document(ACCOUNT, REGION, RULE, RULE, day(1), [{
        "ComplianceResourceType": "AWS::Lambda::Function", "ComplianceResourceId": "app",
        "ComplianceType": "COMPLIANT", "Annotation": "2 zones"}])
    write_snapshot(clients, location, document, key)
    good = read_snapshots(clients, location, START, START + dt.timedelta(days=2), verify_with=key)
    assert (good.signed, good.rejected, len(good.snapshots)) == (1, [], 1)
    bad = read_snapshots(clients, location, START, START + dt.timedelta(days=2), verify_with=other)
    assert bad.snapshots == [] and "signature does not verify" in bad.rejected[0]


def test_a_snapshot_that_cannot_be_written_fails_the_invocation_after_the_evaluations_are_put(
        aws, estate, config_calls, monkeypatch):
    from lambda_vpc_rules.rdk import handler as handler_module

    monkeypatch.setenv("LAMBDA_VPC_RULES_SNAPSHOTS", "s3://no-such-bucket/snapshots/")
    handler_module._own_clients.cache_clear()
    vpc = estate.vpc()
    # names of its own: the 90-day estate's moto may still be up in this module
    estate.function("unrecorded", [estate.subnet(vpc, "10.0.1.0/24", "a")], role=estate.role("unrecorded-role"))
    with pytest.raises(handler_module.InvocationFailed, match=r"\d+ evaluations were put, but the snapshot"):
        load_rule_module(RULE_DIR).lambda_handler(scheduled_event(RULE), None)
    handler_module._own_clients.cache_clear()
    assert "unrecorded" in [e["ComplianceResourceId"] for e in config_calls.evaluations]


def test_a_period_bundle_is_signed_as_a_snapshot_bundle_is(ninety_days, capsys):
    session, out = ninety_days
    key = session.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    bundle = out / "signed-period"
    assert main(["evidence", "--region", REGION, "--out", str(bundle), "--from", "2026-07-01", "--to", "2026-07-08",
                 "--snapshots", "s3://evidence/snapshots/", "--kms-key-id", key]) == 0
    assert "verify-evidence" in capsys.readouterr().out  # the digest and the command, as for every bundle
    assert main(["verify-evidence", str(bundle)]) == 0
    assert "signed" in capsys.readouterr().out
    (bundle / "population.csv").write_text("account_id\n")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if f["path"] != "population.csv"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))  # rows and manifest rewritten together
    assert main(["verify-evidence", str(bundle)]) == 1
