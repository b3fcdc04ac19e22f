"""The exceptions register through every edge, in moto: `scan` (shown apart, exit code, --only-failing,
--show-excepted), `exceptions validate` and `publish`, the change-triggered and scheduled handlers (reading the
published register from S3), Security Hub (SUPPRESSED with a Note; back to NEW after expiry, through
BatchUpdateFindings) and evidence. Time is moved explicitly: the handlers' by the event's
notificationCreationTime, scan's by its `at`, the CLI's by dates relative to today."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from aws_support import REGION, change_event, configuration_item, scheduled_event
from conftest import load_rule_module
from lambda_vpc_rules.aws.account import scan
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.core.exceptions import parse_register
from lambda_vpc_rules.core.model import Compliance, EvaluationResult
from lambda_vpc_rules.core.rules import RULES, get_rule
from lambda_vpc_rules.outputs.securityhub import apply_exceptions, finding_id, to_findings
from lambda_vpc_rules.tooling.cli import main

TENANCY = "lambda-vpc-default-tenancy"
TODAY = dt.datetime.now(dt.UTC).date()
BUCKET, KEY = "org-exceptions", "lambda-vpc-rules/register.json"
LOCATION = f"s3://{BUCKET}/{KEY}"


def register_document(expires: dt.date, approved: dt.date | None = None, **entry) -> dict:
    return {"version": "2026-12-01.1", "max_duration_days": 365, "exceptions": [{
        "id": "EX-12", "rules": [TENANCY], "scope": {"resources": ["legacy-*"]},
        "reason": "Dedicated hosts required by the vendor licence until the move",
        "owner": "payments-platform", "approver": "ciso@example.com",
        "ticket": "https://jira.example.com/browse/SEC-42",
        "approved": (approved or expires - dt.timedelta(days=200)).isoformat(), "expires": expires.isoformat(),
        **entry}]}


IN_FORCE = register_document(TODAY + dt.timedelta(days=20))
EXPIRED = register_document(TODAY - dt.timedelta(days=1))


def write(tmp_path, document, name="register.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document) if name.endswith(".yaml") else json.dumps(document))
    return str(path)


@pytest.fixture
def functions(estate):
    default_vpc = estate.vpc("10.0.0.0/16")
    dedicated_vpc = estate.vpc("10.1.0.0/16", tenancy="dedicated")
    dedicated = estate.subnet(dedicated_vpc, "10.1.1.0/24")
    return {
        "good": estate.function("good", [estate.subnet(default_vpc, "10.0.1.0/24")]),
        "legacy-billing": estate.function("legacy-billing", [dedicated]),
        "new-app": estate.function("new-app", [dedicated]),
    }


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def scan_json(capsys, tmp_path, document, *extra):
    code, out, err = run(capsys, "scan", "--region", REGION, "--format", "json", "--rule", TENANCY,
                         "--exceptions", write(tmp_path, document), *extra)
    return code, (json.loads(out) if out else None), err


# scan --------------------------------------------------------------------------------------------------------

def test_scan_shows_an_excepted_function_apart_still_non_compliant(functions, capsys, tmp_path):
    code, report, err = scan_json(capsys, tmp_path, IN_FORCE)
    assert code == 1  # new-app fails; legacy-billing is excepted
    rows = {r["resource_id"]: r for r in report["evaluations"]}
    legacy = rows["legacy-billing"]
    assert legacy["compliance"] == "NON_COMPLIANT"
    assert legacy["annotation"].startswith(f"excepted by EX-12 until {IN_FORCE['exceptions'][0]['expires']} "
                                           "(payments-platform, https://jira.example.com/browse/SEC-42): ")
    assert (legacy["exception"], legacy["exception_state"]) == ("EX-12", "excepted")
    assert (rows["new-app"]["exception"], rows["new-app"]["exception_state"]) == ("", "")
    assert report["summary"] == {"evaluations": 3, "COMPLIANT": 1, "NON_COMPLIANT": 2, "NOT_APPLICABLE": 0,
                                 "EXCEPTED": 1}
    [entry] = report["exceptions"]["exceptions"]
    assert entry["state"] == "expiring" and entry["covered"] == [
        {"account_id": "123456789012", "region": REGION, "rule": TENANCY, "resource_id": "legacy-billing"}]
    assert report["exceptions"]["sha256"] == parse_register(IN_FORCE, [TENANCY]).sha256
    assert "expiring EX-12" in err  # within the default 30 days

    code, report, _ = scan_json(capsys, tmp_path, IN_FORCE, "--only-failing")
    assert [r["resource_id"] for r in report["evaluations"]] == ["new-app"]


def test_only_excepted_failures_exit_0_and_the_table_lists_them_apart_on_request(functions, estate, capsys, tmp_path):
    estate.lam.delete_function(FunctionName="new-app")
    path = write(tmp_path, IN_FORCE)
    code, out, _ = run(capsys, "scan", "--region", REGION, "--format", "table", "--rule", TENANCY,
                       "--exceptions", path)
    assert code == 0
    assert "legacy-billing" not in out.split("\n\n")[1]  # not in the verdict table
    assert "1 of the NON_COMPLIANT are excepted by the exceptions register" in out and "--show-excepted" in out
    code, out, _ = run(capsys, "scan", "--region", REGION, "--format", "table", "--rule", TENANCY,
                       "--exceptions", path, "--show-excepted")
    assert code == 0
    apart = out.split("EXCEPTED (NON_COMPLIANT, covered by an exception in force; not failing the run):")[1]
    rows = [line for line in apart.splitlines() if "legacy-billing" in line]  # (the section has its header row)
    assert rows and rows[0].startswith("~") and "excepted by EX-12" in apart


def test_after_expiry_the_same_function_fails_again_and_every_output_says_expired(functions, aws, capsys, tmp_path):
    code, report, err = scan_json(capsys, tmp_path, EXPIRED)
    assert code == 1
    legacy = next(r for r in report["evaluations"] if r["resource_id"] == "legacy-billing")
    assert legacy["annotation"].startswith(f"exception EX-12 expired {EXPIRED['exceptions'][0]['expires']} ")
    assert legacy["exception_state"] == "expired"
    assert report["summary"]["EXCEPTED"] == 0
    assert report["exceptions"]["exceptions"][0]["state"] == "expired"
    assert "EXPIRED EX-12" in err and "1 failing verdict(s) no longer excepted" in err
    code, report, _ = scan_json(capsys, tmp_path, EXPIRED, "--only-failing")
    assert {r["resource_id"] for r in report["evaluations"]} == {"legacy-billing", "new-app"}
    # the same register, time moved: in force on its last day, expired the day after
    register = parse_register(IN_FORCE, [TENANCY])
    clients = Clients(session_clients(aws))
    expires = register.entries[0].expires
    for day, state in ((expires, "excepted"), (expires + dt.timedelta(days=1), "expired")):
        at = dt.datetime.combine(day, dt.time(12), dt.UTC)
        result = next(r for r in scan(clients, [get_rule(TENANCY)], {}, exceptions=register, at=at).evaluations
                      if r.resource_id == "legacy-billing")
        assert (result.compliance, result.exception_state) == (Compliance.NON_COMPLIANT, state)


@pytest.mark.parametrize(("change", "named"), [
    ({"expires": None}, "exceptions[0] (EX-12): missing required field(s) expires"),
    ({"approved": (TODAY - dt.timedelta(days=400)).isoformat()}, "exceptions[0] (EX-12): expires "),
    ({"ticket": "SEC-42"}, "exceptions[0] (EX-12): ticket must be an http(s) URL"),
])
def test_a_bad_register_is_exit_2_naming_the_entry(capsys, tmp_path, change, named):
    document = json.loads(json.dumps(IN_FORCE))
    document["exceptions"][0].update(change)
    document["exceptions"][0] = {k: v for k, v in document["exceptions"][0].items() if v is not None}
    code, out, err = run(capsys, "scan", "--region", REGION, "--format", "json", "--rule", TENANCY,
                         "--exceptions", write(tmp_path, document))
    assert (code, out) == (2, "") and named in err
    code, _, err = run(capsys, "exceptions", "validate", write(tmp_path, document))
    assert code == 2 and named in err


def test_a_register_that_is_not_yaml_is_exit_2(capsys, tmp_path):
    path = tmp_path / "register.yaml"
    path.write_text("version: [unclosed\n")
    code, _, err = run(capsys, "exceptions", "validate", str(path))
    assert code == 2 and "not YAML" in err
    code, _, err = run(capsys, "exceptions", "validate", str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot be read" in err


def test_validate_a_good_register(capsys, tmp_path):
    code, out, _ = run(capsys, "exceptions", "validate", write(tmp_path, IN_FORCE))
    assert code == 0 and "valid, version 2026-12-01.1" in out and "expiring EX-12" in out
    code, out, _ = run(capsys, "exceptions", "validate", write(tmp_path, EXPIRED, "register.json"))
    assert code == 0 and "EXPIRED EX-12" in out


# the handlers ------------------------------------------------------------------------------------------------

@pytest.fixture
def published(aws, capsys, tmp_path):
    """The register as `exceptions publish` writes it, to a versioned bucket."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    code, out, _ = run(capsys, "exceptions", "publish", write(tmp_path, IN_FORCE), "--to", LOCATION,
                       "--region", REGION)
    assert code == 0 and "S3 version" in out and f"ExceptionsRegister={LOCATION}" in out
    return s3


def _at(event: dict, day: dt.date) -> dict:
    invoking = json.loads(event["invokingEvent"])
    invoking["notificationCreationTime"] = f"{day.isoformat()}T12:00:00.000Z"
    return {**event, "invokingEvent": json.dumps(invoking)}


@pytest.mark.parametrize("kind", ["change", "scheduled"])
def test_handlers_keep_the_excepted_function_non_compliant_naming_the_exception_until_expiry(
        functions, published, config_calls, kind):
    handler = load_rule_module(get_rule(TENANCY).rdk_name).lambda_handler
    parameters = {"ExceptionsRegister": LOCATION}
    event = (change_event(configuration_item(functions["legacy-billing"]), TENANCY, parameters) if kind == "change"
             else scheduled_event(TENANCY, parameters))
    expires = dt.date.fromisoformat(IN_FORCE["exceptions"][0]["expires"])
    for day, prefix in ((expires, f"excepted by EX-12 until {expires}"), (expires + dt.timedelta(days=1),
                                                                          f"exception EX-12 expired {expires}")):
        config_calls.put.clear()
        handler(_at(event, day), None)
        legacy = config_calls.by_resource()["legacy-billing"]
        assert legacy["ComplianceType"] == "NON_COMPLIANT"
        assert legacy["Annotation"].startswith(prefix) and len(legacy["Annotation"]) <= 256
        if kind == "scheduled":
            assert not config_calls.by_resource()["new-app"]["Annotation"].startswith(("excepted", "exception"))


@pytest.mark.parametrize(("body", "words"), [
    (b"version: 1\n", "not JSON"),
    (json.dumps(register_document(TODAY, TODAY - dt.timedelta(days=500))).encode(), "EX-12): expires"),
    (json.dumps({k: v for k, v in register_document(TODAY).items() if k != "version"}).encode(), "version: required"),
])
def test_a_malformed_register_is_an_error_response_not_a_verdict(functions, aws, config_calls, body, words):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    handler = load_rule_module(get_rule(TENANCY).rdk_name).lambda_handler
    for event in (change_event(configuration_item(functions["legacy-billing"]), TENANCY,
                               {"ExceptionsRegister": LOCATION}),
                  scheduled_event(TENANCY, {"ExceptionsRegister": LOCATION})):
        response = handler(event, None)
        assert isinstance(response, dict) and response["customerErrorCode"] == "RegisterError"
        assert words in response["customerErrorMessage"] and LOCATION in response["customerErrorMessage"]
    assert config_calls.put == []  # no verdict put


def test_a_missing_register_object_is_an_error_response(functions, aws, config_calls):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    handler = load_rule_module(get_rule(TENANCY).rdk_name).lambda_handler
    response = handler(scheduled_event(TENANCY, {"ExceptionsRegister": LOCATION}), None)
    # a setting that names nothing, to mend like a bad parameter (retrying cannot help): an error response
    assert response["customerErrorCode"] == "RegisterError" and config_calls.put == []
    assert "no such object (NoSuchKey)" in response["customerErrorMessage"]
    response = handler(scheduled_event(TENANCY, {"ExceptionsRegister": "https://example.com/r.json"}), None)
    assert response["customerErrorCode"] == "RegisterError" and config_calls.put == []


# Security Hub -------------------------------------------------------------------------------------------------

class BatchUpdates:
    """BatchUpdateFindings, which moto 5.2 lacks: each request checked against botocore's model, recorded, and
    applied to moto's stored finding as Security Hub documents it (Workflow and Note set)."""

    def __init__(self, session):
        self.requests: list[dict] = []
        session.events.register("before-call.securityhub.BatchUpdateFindings", self._update)

    def _update(self, model, params, **_):
        request = json.loads(params["body"]) if isinstance(params.get("body"), (str, bytes)) else params["body"]
        assert not ParamValidator().validate(request, model.input_shape).has_errors()
        self.requests.append(request)
        from moto.securityhub.models import securityhub_backends

        backend = securityhub_backends["123456789012"][REGION]
        processed = []
        for identifier in request["FindingIdentifiers"]:
            finding = next(f for f in backend.findings if f.id == identifier["Id"])
            finding.data["Workflow"] = request["Workflow"]
            finding.data["Note"] = {**request["Note"], "UpdatedAt": "2026-12-05T00:00:00.000Z"}
            processed.append(identifier)
        answer = {"ProcessedFindings": processed, "UnprocessedFindings": []}
        assert not ParamValidator().validate(answer, model.output_shape).has_errors()
        return AWSResponse("https://securityhub.test", 200, {}, None), answer


def test_security_hub_finding_of_an_excepted_function_is_suppressed_with_a_note(functions, aws, capsys, tmp_path):
    aws.client("securityhub").enable_security_hub()
    boto3.setup_default_session(region_name=REGION)
    updates = BatchUpdates(boto3.DEFAULT_SESSION)
    code, _, err = run(capsys, "scan", "--region", REGION, "--format", "json", "--rule", TENANCY,
                       "--exceptions", write(tmp_path, IN_FORCE), "--security-hub")
    assert code == 1 and "sent 3 findings" in err
    findings = {f["Resources"][0]["Id"].rsplit(":", 1)[-1]: f
                for f in aws.client("securityhub").get_findings()["Findings"]}
    legacy = findings["legacy-billing"]
    assert legacy["Compliance"]["Status"] == "FAILED" and legacy["Workflow"]["Status"] == "SUPPRESSED"
    assert legacy["Note"]["Text"].startswith("excepted by EX-12 until")
    assert legacy["ProductFields"]["lambda-vpc-rules/Exception"] == "EX-12"
    assert findings["new-app"]["Workflow"]["Status"] == "NEW" and "Note" not in findings["new-app"]
    assert updates.requests == []  # created SUPPRESSED with its Note: nothing to update


def _result(state: str | None, annotation: str) -> EvaluationResult:
    return EvaluationResult(TENANCY, "legacy-billing", Compliance.NON_COMPLIANT, annotation,
                            account_id="123456789012", region=REGION, exception_id="EX-12", exception_state=state)


@pytest.mark.parametrize(("state", "now", "expected"), [
    ("excepted", "NEW", "SUPPRESSED"),  # an existing finding: BatchImportFindings would ignore Workflow
    ("expired", "SUPPRESSED", "NEW"),  # the exception expired: back to NEW, saying so
    ("expired", "NOTIFIED", None),  # the team moved it on since: left alone
    ("excepted", "SUPPRESSED", None),  # already suppressed with the same note
])
def test_existing_findings_workflow_follows_the_register(state, now, expected):
    annotation = ("excepted by EX-12 until 2027-03-01 (payments-platform, https://t.example/1): dedicated"
                  if state == "excepted" else "exception EX-12 expired 2027-03-01 (payments-platform, ...): x")
    result = _result(state, annotation)
    [finding] = to_findings([result], "2026-12-05T00:00:00+00:00")
    client = boto3.client("securityhub", region_name=REGION)
    existing = {**finding, "Workflow": {"Status": now}}
    if state == "excepted" and now == "SUPPRESSED":
        existing["Note"] = {"Text": annotation, "UpdatedBy": "lambda-vpc-rules", "UpdatedAt": finding["UpdatedAt"]}
    with Stubber(client) as stub:
        stub.add_response("get_findings", {"Findings": [existing]}, {"Filters": {"Id": [
            {"Value": finding_id(TENANCY, "123456789012", REGION, "legacy-billing"), "Comparison": "EQUALS"}]}})
        if expected:
            stub.add_response("batch_update_findings", {
                "ProcessedFindings": [{"Id": finding["Id"], "ProductArn": finding["ProductArn"]}],
                "UnprocessedFindings": []}, {
                "FindingIdentifiers": [{"Id": finding["Id"], "ProductArn": finding["ProductArn"]}],
                "Workflow": {"Status": expected}, "Note": {"Text": annotation, "UpdatedBy": "lambda-vpc-rules"}})
        assert apply_exceptions(client, [result], {finding["Id"]: finding["ProductArn"]}) == (1 if expected else 0)
        stub.assert_no_pending_responses()


def test_rules_without_exceptions_need_no_security_hub_reads():
    plain = EvaluationResult(TENANCY, "f", Compliance.NON_COMPLIANT, "x", account_id="123456789012", region=REGION)
    client = boto3.client("securityhub", region_name=REGION)
    with Stubber(client):  # any call would fail: none is expected
        assert apply_exceptions(client, [plain], {}) == 0
    assert len(RULES) == 5


# evidence ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("document", "state"), [(IN_FORCE, "expiring"), (EXPIRED, "expired")])
def test_evidence_carries_the_register_what_it_covered_and_what_expired(functions, capsys, tmp_path, document,
                                                                        state):
    from lambda_vpc_rules.outputs.evidence import verify_bundle

    register_path = write(tmp_path, document)
    bundle = tmp_path / "bundle"
    code, _, err = run(capsys, "evidence", "--out", str(bundle), "--region", REGION, "--rule", TENANCY,
                       "--exceptions", register_path)
    assert code == 0, err
    manifest = json.loads((bundle / "manifest.json").read_text())
    files = {f["path"] for f in manifest["files"]}
    assert "exceptions-register.yaml" in files and verify_bundle(bundle) == []
    rows = json.loads((bundle / "evaluations.json").read_text())["evaluations"]
    assert next(r for r in rows if r["resource_id"] == "legacy-billing")["exception"] == "EX-12"
    assert (bundle / "exceptions-register.yaml").read_bytes() == Path(register_path).read_bytes()
    register = manifest["exceptions_register"]
    assert register["version"] == "2026-12-01.1" and register["sha256"] == parse_register(document, [TENANCY]).sha256
    [entry] = register["exceptions"]
    assert entry["state"] == state and [c["resource_id"] for c in entry["covered"]] == ["legacy-billing"]
    report = (bundle / "report.html").read_text()
    assert "Exceptions register" in report and "EX-12" in report and register["sha256"] in report
    if state == "expired":
        assert "Exception EX-12 expired" in report and "fail again" in report
    else:
        assert "excepted by EX-12 until" in report
    # tampering with the register in the bundle is caught
    (bundle / "exceptions-register.yaml").write_text("version: forged\n")
    assert any("exceptions-register.yaml: changed" in p for p in verify_bundle(bundle))


def test_evidence_from_aws_config_reads_the_exception_from_the_annotation(tmp_path):
    from lambda_vpc_rules.outputs.evidence import Evidence
    from lambda_vpc_rules.tooling.exceptions_cli import with_register

    rows = [EvaluationResult(TENANCY, "legacy-billing", Compliance.NON_COMPLIANT,
                             f"excepted by EX-12 until {IN_FORCE['exceptions'][0]['expires']} (payments-platform, "
                             "https://jira.example.com/browse/SEC-42): dedicated", account_id="123456789012",
                             region=REGION),
            EvaluationResult(TENANCY, "new-app", Compliance.NON_COMPLIANT, "dedicated", account_id="123456789012",
                             region=REGION)]
    evidence = Evidence(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "config", {}, rows, [])

    class Args:
        exceptions = write(tmp_path, IN_FORCE, "register.json")
        expiring_within = 30

    evidence = with_register(evidence, Args)
    assert [r.exception_state for r in evidence.rows] == ["excepted", None]
    assert [c.resource_id for c in evidence.exceptions.uses[0].covered] == ["legacy-billing"]
    assert evidence.register_file[0] == "exceptions-register.json"


def test_status_lists_expired_and_expiring_exceptions(aws, capsys, tmp_path):
    document = json.loads(json.dumps(EXPIRED))
    soon = dict(document["exceptions"][0], id="EX-13", expires=(TODAY + dt.timedelta(days=5)).isoformat())
    later = dict(document["exceptions"][0], id="EX-14", expires=(TODAY + dt.timedelta(days=90)).isoformat())
    document["exceptions"] += [soon, later]
    code, out, _ = run(capsys, "status", "--region", REGION, "--format", "json", "--exceptions",
                       write(tmp_path, document), "--expiring-within", "10")
    assert "EXPIRED EX-12" in out and "expiring EX-13" in out and "EX-14" not in out.split("expiring within")[1]
    assert "1 expired, 1 expiring within 10 days" in out and "stale" not in out
    document["exceptions"][1].pop("owner")
    code, _, err = run(capsys, "status", "--region", REGION, "--exceptions", write(tmp_path, document))
    assert code == 2 and "exceptions[1] (EX-13): missing required field(s) owner" in err


def test_the_register_is_read_once_per_invocation(functions, published, config_calls):
    from aws_support import CallRecorder

    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    handler = load_rule_module(get_rule(TENANCY).rdk_name).lambda_handler
    handler(scheduled_event(TENANCY, {"ExceptionsRegister": LOCATION}), None)
    assert recorder.calls.count("s3:GetObject") == 1
    assert config_calls.by_resource()["legacy-billing"]["Annotation"].startswith("excepted by EX-12")


def test_ous_are_resolved_by_publish_and_by_scan(aws, functions, capsys, tmp_path):
    organizations = aws.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="legacy")["OrganizationalUnit"]["Id"]
    child = organizations.create_organizational_unit(ParentId=ou, Name="deeper")["OrganizationalUnit"]["Id"]
    status = organizations.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]
    member = organizations.describe_create_account_status(CreateAccountRequestId=status["Id"])[
        "CreateAccountStatus"]["AccountId"]
    organizations.move_account(AccountId=member, SourceParentId=root, DestinationParentId=child)
    organizations.move_account(AccountId="123456789012", SourceParentId=root, DestinationParentId=ou)
    document = json.loads(json.dumps(IN_FORCE))
    document["exceptions"][0]["scope"] = {"ous": [ou], "resources": ["legacy-*"]}
    aws.client("s3").create_bucket(Bucket=BUCKET)
    code, _, err = run(capsys, "exceptions", "publish", write(tmp_path, document), "--to", LOCATION,
                       "--region", REGION)
    assert code == 0, err
    published_json = json.loads(aws.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read())
    assert published_json["ou_accounts"] == {ou: sorted(["123456789012", member])}  # at any depth
    code, report, _ = scan_json(capsys, tmp_path, document)
    assert next(r for r in report["evaluations"] if r["resource_id"] == "legacy-billing")["exception"] == "EX-12"


def test_expiring_within_sets_the_window(functions, capsys, tmp_path):
    _, report, err = scan_json(capsys, tmp_path, IN_FORCE, "--expiring-within", "5")
    assert report["exceptions"]["exceptions"][0]["state"] == "in force" and "expiring EX-12" not in err


def test_with_require_exception_for_tags_no_tag_is_listed_as_a_waiver_in_force(aws, estate):
    estate.function("tagged", tags={"lambda-vpc-rules:internet-access": "none"})
    clients = Clients(session_clients(aws))
    nat = [get_rule("lambda-vpc-private-subnet-nat")]
    document = {"version": "1", "exceptions": []}
    assert [w.resource_id for w in scan(clients, nat, {}, exceptions=parse_register(document, [TENANCY])).waivers
            ] == ["tagged"]
    document["require_exception_for_tags"] = True
    assert scan(clients, nat, {}, exceptions=parse_register(document, [TENANCY])).waivers == []
