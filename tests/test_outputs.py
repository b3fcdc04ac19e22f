"""Where verdicts go: rule metadata (one schema), Security Hub findings (ASFF checked against botocore's
model, imported into moto's Security Hub and read back), the evidence bundle and its verification, the
HTML report rendered in headless Chromium, and the README's generated rule table."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess

import boto3
import jsonschema
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from aws_support import REGION, Estate, build_network
from conftest import ROOT
from lambda_vpc_rules.aws.config import ConfigReader
from lambda_vpc_rules.core.model import Compliance, EvaluationResult
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.core.rules.metadata import raw_metadata, schema
from lambda_vpc_rules.outputs.evidence import verify_bundle
from lambda_vpc_rules.outputs.securityhub import PublishError, import_findings, to_findings
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.packaging import readme_with_rule_table

NAT = "lambda-vpc-private-subnet-nat"
TENANCY = "lambda-vpc-default-tenancy"

# ------------------------------------------------------------------------------------------ metadata


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_metadata_file_fits_the_schema(rule):
    document = raw_metadata(rule.module)
    jsonschema.validate(document, schema())
    assert document["rule"] == rule.config_rule_name


def test_schema_refuses_an_unknown_severity_or_a_missing_remediation():
    document = raw_metadata(RULES[0].module)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "severity": "SEVERE"}, schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in document.items() if k != "remediation"}, schema())


def test_readme_rule_table_is_generated():
    readme = (ROOT / "README.md").read_text()
    assert readme == readme_with_rule_table(readme), "run `make generate`"


# ------------------------------------------------------------------------------------------ Security Hub


@pytest.fixture
def network_functions(estate):
    ids = build_network(estate)
    estate.function("behind-nat", [ids["private-a"]])
    estate.function("in-public", [ids["public"]])
    estate.function("no-vpc")
    return ids


def scan(capsys, *args):
    code = main(["scan", "--region", REGION, *args])
    return code, capsys.readouterr()


def test_asff_findings_fit_botocore_model(network_functions, capsys):
    code, out = scan(capsys, "--format", "asff", "--rule", NAT)
    findings = json.loads(out.out)
    model = boto3.client("securityhub", region_name=REGION).meta.service_model.operation_model("BatchImportFindings")
    report = ParamValidator().validate({"Findings": findings}, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    by_function = {f["Resources"][0]["Id"].rsplit(":", 1)[-1]: f for f in findings}
    assert by_function["behind-nat"]["Compliance"]["Status"] == "PASSED"
    assert by_function["behind-nat"]["Severity"]["Label"] == "INFORMATIONAL"
    assert by_function["in-public"]["Compliance"]["Status"] == "FAILED"
    assert by_function["in-public"]["Severity"]["Label"] == "MEDIUM"
    # how a provider updates severity and types of an existing finding
    assert by_function["in-public"]["FindingProviderFields"] == {"Severity": {"Label": "MEDIUM"},
                                                                 "Types": by_function["in-public"]["Types"]}
    assert by_function["behind-nat"]["FindingProviderFields"]["Severity"] == {"Label": "INFORMATIONAL"}
    assert by_function["in-public"]["Workflow"] == {"Status": "NEW"}
    assert by_function["behind-nat"]["Workflow"] == {"Status": "RESOLVED"}
    assert by_function["no-vpc"]["RecordState"] == "ARCHIVED"
    assert by_function["in-public"]["Resources"][0]["Type"] == "AwsLambdaFunction"
    assert by_function["in-public"]["Resources"][0]["Id"].startswith("arn:aws:lambda:us-east-1:123456789012:function:")
    assert "SC-7" in " ".join(by_function["in-public"]["Compliance"]["RelatedRequirements"])


def test_security_hub_import_updates_instead_of_duplicating(network_functions, estate, capsys):
    code, _ = scan(capsys, "--format", "json", "--rule", NAT, "--security-hub")
    assert code == 1
    hub = boto3.client("securityhub", region_name=REGION)
    first = hub.get_findings()["Findings"]
    assert len(first) == 3
    # fix the public function's subnet, scan again: same finding IDs, now PASSED
    private = {"SubnetIds": [network_functions["private-b"]], "SecurityGroupIds": []}
    estate.lam.update_function_configuration(FunctionName="in-public", VpcConfig=private)
    scan(capsys, "--format", "json", "--rule", NAT, "--security-hub")
    second = {f["Id"]: f for f in hub.get_findings()["Findings"]}
    assert set(second) == {f["Id"] for f in first}
    statuses = sorted(f["Compliance"]["Status"] for f in second.values())
    assert statuses == ["NOT_AVAILABLE", "PASSED", "PASSED"]
    fixed = next(f for f in second.values() if f["Resources"][0]["Id"].endswith(":function:in-public"))
    assert fixed["FindingProviderFields"]["Severity"]["Label"] == "INFORMATIONAL"


def test_skip_config_rules_leaves_out_what_aws_config_already_sends(network_functions, estate, capsys):
    host = estate.function("lambda-vpc-default-tenancy-host")
    boto3.client("config", region_name=REGION).put_config_rule(ConfigRule={
        "ConfigRuleName": TENANCY,
        "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": host["FunctionArn"],
                   "SourceDetails": [{"EventSource": "aws.config",
                                      "MessageType": "ConfigurationItemChangeNotification"}]},
    })
    scan(capsys, "--format", "json", "--rule", NAT, "--rule", TENANCY, "--security-hub", "--skip-config-rules")
    generators = {f["GeneratorId"] for f in boto3.client("securityhub", region_name=REGION).get_findings()["Findings"]}
    assert generators == {f"lambda-vpc-rules/{NAT}"}


def _findings(count: int) -> list[dict]:
    results = [EvaluationResult(NAT, f"fn-{i}", Compliance.NON_COMPLIANT, "public subnet", account_id="123456789012",
                                region=REGION) for i in range(count)]
    return to_findings(results, "2026-11-25T00:00:00+00:00")


def test_import_batches_by_100_and_retries_refused_findings_once():
    findings = _findings(150)
    client = boto3.client("securityhub", region_name=REGION)
    with Stubber(client) as stub:
        refused = [{"Id": findings[3]["Id"], "ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]
        stub.add_response("batch_import_findings", {"FailedCount": 1, "SuccessCount": 99, "FailedFindings": refused},
                          {"Findings": findings[:100]})
        stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []},
                          {"Findings": [findings[3]]})
        stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 50, "FailedFindings": []},
                          {"Findings": findings[100:]})
        assert import_findings(client, findings) == 150
        stub.assert_no_pending_responses()


def test_findings_refused_twice_are_an_error_naming_them():
    findings = _findings(2)
    client = boto3.client("securityhub", region_name=REGION)
    refused = [{"Id": findings[1]["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "bad"}]
    with Stubber(client) as stub:
        for sent in (findings, [findings[1]]):
            stub.add_response("batch_import_findings", {"FailedCount": 1, "SuccessCount": len(sent) - 1,
                                                        "FailedFindings": refused}, {"Findings": sent})
        with pytest.raises(PublishError, match="InvalidInput"):
            import_findings(client, findings)


def test_findings_build_no_botocore_session_per_finding(monkeypatch):
    """300 findings once took minutes: a botocore session (its endpoint data) was built twice per finding."""
    import botocore.session

    from lambda_vpc_rules.outputs import securityhub

    getattr(securityhub.partition_of, "cache_clear", lambda: None)()  # a cold cache: the worst case
    built = []
    real = botocore.session.Session.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "__init__", counting)
    assert len(_findings(300)) == 300
    assert len(built) <= 1


def test_finding_ids_are_stable_and_distinct():
    assert [f["Id"] for f in _findings(3)] == [f["Id"] for f in _findings(3)]
    assert len({f["Id"] for f in _findings(3)}) == 3


# ------------------------------------------------------------------------------------------ evidence


def test_evidence_bundle_from_a_scan_verifies_and_catches_tampering(network_functions, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == ["evaluations.json", "evaluations.csv", "report.html"]
    assert manifest["accounts"] == ["123456789012"] and manifest["regions"] == [REGION]
    assert manifest["caller_identity"]["Account"] == "123456789012"
    assert set(manifest["rule_versions"]) == {rule.config_rule_name for rule in RULES}
    rows = json.loads((bundle / "evaluations.json").read_text())["evaluations"]
    assert len(rows) == 3 * len(RULES)
    assert (bundle / "evaluations.csv").read_text().count("\n") == len(rows) + 1
    assert main(["verify-evidence", str(bundle)]) == 0

    csv_file = bundle / "evaluations.csv"
    csv_file.write_text(csv_file.read_text().replace("NON_COMPLIANT", "COMPLIANT"))
    (bundle / "extra.txt").write_text("slipped in")
    (bundle / "report.html").unlink()
    assert main(["verify-evidence", str(bundle)]) == 1
    problems = verify_bundle(bundle)
    assert any(p.startswith("evaluations.csv: changed") for p in problems)
    assert "report.html: missing" in problems and "extra.txt: not in the manifest" in problems


def _demo_bundle(tmp_path):
    from lambda_vpc_rules.outputs.evidence import Evidence, write_bundle

    rows = [EvaluationResult(NAT, "fn-a", Compliance.NON_COMPLIANT, "public subnet", account_id="123456789012",
                             region=REGION)]
    bundle = tmp_path / "bundle"
    write_bundle(bundle, Evidence("2026-11-25T00:00:00+00:00", "scan", {"Account": "123456789012"}, rows, []))
    return bundle


def test_verify_reports_a_malformed_or_escaping_manifest_without_crashing(tmp_path, capsys):
    bundle = _demo_bundle(tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the bundle")
    manifest["files"][0] = {"path": "../outside.txt", "sha256": "0" * 64, "bytes": 22}
    manifest["files"][1] = {"path": "evaluations.csv", "sha256": "not-a-digest", "bytes": 1}
    del manifest["files"][2]["bytes"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert main(["verify-evidence", str(bundle)]) == 1
    problems = verify_bundle(bundle)
    assert problems[:3] == [
        "manifest.json: files[0]: path '../outside.txt' is not the name of a file in the bundle",
        "manifest.json: files[1]: evaluations.csv: sha256 is not 64 lowercase hex digits",
        'manifest.json: files[2]: not {"path", "sha256", "bytes"}',
    ]
    assert "evaluations.json: not listed in manifest.json" in problems
    (bundle / "manifest.json").write_text(json.dumps({"files": "everything"}))
    assert verify_bundle(bundle) == ['manifest.json: no "files" list']
    assert "Traceback" not in capsys.readouterr().err


def test_an_entry_dropped_from_the_manifest_is_caught(tmp_path):
    bundle = _demo_bundle(tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = [entry for entry in manifest["files"] if entry["path"] != "report.html"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert verify_bundle(bundle) == ["report.html: not listed in manifest.json"]


def test_the_manifest_digest_printed_at_collection_catches_a_rewritten_manifest(network_functions, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION]) == 0
    digest = capsys.readouterr().out.split("sha256 ")[1].split()[0]
    assert main(["verify-evidence", str(bundle), "--manifest-sha256", digest]) == 0
    # rewrite a file and its manifest entry: consistent in itself, caught only by the recorded digest
    csv_file = bundle / "evaluations.csv"
    csv_file.write_text(csv_file.read_text().replace("NON_COMPLIANT", "COMPLIANT"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    from lambda_vpc_rules.outputs.evidence import file_entry

    manifest["files"][1] = file_entry(csv_file, "evaluations.csv")
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    assert main(["verify-evidence", str(bundle)]) == 0
    assert main(["verify-evidence", str(bundle), "--manifest-sha256", digest]) == 1
    assert "manifest.json: changed" in capsys.readouterr().err


def test_evidence_refuses_a_directory_holding_other_files(network_functions, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["evidence", "--out", str(tmp_path), "--region", REGION]) == 2
    assert "holds files that are not part of a bundle (notes.txt)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION]) == 0
    assert main(["evidence", "--out", str(bundle), "--region", REGION]) == 0  # an earlier bundle is replaced
    assert main(["verify-evidence", str(bundle)]) == 0


def test_verify_without_a_manifest_says_so(tmp_path):
    assert verify_bundle(tmp_path) == [f"manifest.json unreadable: [Errno 2] No such file or directory: "
                                       f"'{tmp_path / 'manifest.json'}'"]


def test_evidence_from_aws_config(aws, config_calls, estate):
    """The rule as a conformance pack deployed it: AWS Config suffixes the name."""
    host = estate.function("host")
    aws.client("config").put_config_rule(ConfigRule={
        "ConfigRuleName": f"{NAT}-conformance-pack-a1b2c3d4",
        "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": host["FunctionArn"],
                   "SourceDetails": [{"EventSource": "aws.config",
                                      "MessageType": "ConfigurationItemChangeNotification"}]},
    })
    config_calls.previous_results = [_config_result("fn-a", "NON_COMPLIANT", "public subnet"),
                                      _config_result("fn-b", "COMPLIANT", "")]
    session = boto3.DEFAULT_SESSION
    reader = ConfigReader(session.client)
    deployed = reader.deployed_rules([rule.config_rule_name for rule in RULES])
    rows = reader.evaluations(deployed, "123456789012")
    assert [(e.account_id, e.region, e.rule, e.resource_id, e.compliance.value) for e in rows] == [
        ("123456789012", REGION, NAT, "fn-a", "NON_COMPLIANT"), ("123456789012", REGION, NAT, "fn-b", "COMPLIANT")]


def test_evidence_records_the_parameters_of_a_scan(network_functions, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--rule", NAT,
                 "--param", "RequireInternetAccess=false"]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["rule_parameters"] == [{"rule": NAT, "config_rule": None, "parameters": {
        "RequireInternetAccess": "false", "AllowedEgressTargets": "nat-gateway"}}]
    assert "AllowedEgressTargets=nat-gateway, RequireInternetAccess=false" in (bundle / "report.html").read_text()
    assert main(["evidence", "--out", str(tmp_path / "b2"), "--region", REGION, "--source", "config",
                 "--param", "RequireInternetAccess=false"]) == 2
    assert "--param applies to --source scan" in capsys.readouterr().err


def test_evidence_from_aws_config_records_the_deployed_rules_parameters(aws, config_calls, estate, tmp_path,
                                                                       monkeypatch):
    host = estate.function(NAT)  # the pack's function hosts the rule
    name = f"{NAT}-conformance-pack-a1b2c3d4"
    aws.client("config").put_config_rule(ConfigRule={
        "ConfigRuleName": name, "InputParameters": json.dumps({"RequireInternetAccess": "false"}),
        "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": host["FunctionArn"],
                   "SourceDetails": [{"EventSource": "aws.config",
                                      "MessageType": "ConfigurationItemChangeNotification"},
                                     {"EventSource": "aws.config", "MessageType": "ScheduledNotification",
                                      "MaximumExecutionFrequency": "TwentyFour_Hours"}]},
    })
    config_calls.previous_results = [_config_result("fn-a", "NON_COMPLIANT", "public subnet")]

    real_session = boto3.Session

    def session(**kwargs):  # the CLI's session, with the Config answers moto lacks
        real = real_session(**kwargs)
        config_calls.install(real)
        return real

    monkeypatch.setattr("lambda_vpc_rules.tooling.cli.boto3.Session", session)
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--source", "config"]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["source"] == "config"
    assert manifest["rule_parameters"] == [{"rule": NAT, "config_rule": name,
                                            "parameters": {"RequireInternetAccess": "false"}}]
    rows = json.loads((bundle / "evaluations.json").read_text())["evaluations"]
    assert [(r["rule"], r["resource_id"], r["compliance"]) for r in rows] == [(NAT, "fn-a", "NON_COMPLIANT")]
    assert f"(AWS Config rule {name})" in (bundle / "report.html").read_text()


RECENT = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0).isoformat()


def _config_result(resource: str, compliance: str, annotation: str, recorded: str = RECENT) -> dict:
    result = {
        "EvaluationResultIdentifier": {"EvaluationResultQualifier": {
            "ConfigRuleName": NAT, "ResourceType": "AWS::Lambda::Function", "ResourceId": resource}},
        "ComplianceType": compliance,
        "ResultRecordedTime": recorded,
        "ConfigRuleInvokedTime": recorded,
    }
    return {**result, "Annotation": annotation} if annotation else result


def test_evidence_from_an_aggregator_covers_each_account_and_region():
    client = boto3.client("config", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response("describe_aggregate_compliance_by_config_rules", {"AggregateComplianceByConfigRules": [
            {"ConfigRuleName": f"{NAT}-conformance-pack-x1", "AccountId": account, "AwsRegion": region,
             "Compliance": {"ComplianceType": c}}
            for account, region, c in [("111111111111", "us-east-1", "NON_COMPLIANT"),
                                       ("222222222222", "eu-west-1", "COMPLIANT")]
        ] + [{"ConfigRuleName": "someone-elses-rule", "AccountId": "111111111111", "AwsRegion": "us-east-1"}]},
            {"ConfigurationAggregatorName": "org"})
        for account, region, compliance in [("111111111111", "us-east-1", "NON_COMPLIANT"),
                                             ("222222222222", "eu-west-1", "COMPLIANT")]:
            stub.add_response("get_aggregate_compliance_details_by_config_rule", {"AggregateEvaluationResults": [{
                "EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                    "ConfigRuleName": NAT, "ResourceType": "AWS::Lambda::Function", "ResourceId": f"fn-{account}"}},
                "ComplianceType": compliance, "AccountId": account, "AwsRegion": region}]},
                {"ConfigurationAggregatorName": "org", "ConfigRuleName": f"{NAT}-conformance-pack-x1",
                 "AccountId": account, "AwsRegion": region, "Limit": 100})
        rows = ConfigReader(lambda service: client).aggregate_evaluations("org", [NAT])
        stub.assert_no_pending_responses()
    assert [(e.account_id, e.region, e.rule, e.resource_id, e.compliance.value) for e in rows] == [
        ("111111111111", "us-east-1", NAT, "fn-111111111111", "NON_COMPLIANT"),
        ("222222222222", "eu-west-1", NAT, "fn-222222222222", "COMPLIANT")]


def test_an_aggregator_bundle_says_its_parameters_are_not_known(tmp_path):
    from lambda_vpc_rules.outputs.evidence import Evidence, write_bundle

    rows = [EvaluationResult(NAT, "fn-a", Compliance.COMPLIANT, "", account_id="111111111111", region="us-east-1")]
    write_bundle(tmp_path, Evidence("2026-11-25T00:00:00+00:00", "aggregator:org", {}, rows, None))
    assert json.loads((tmp_path / "manifest.json").read_text())["rule_parameters"] is None
    assert "not known (a Config aggregator does not report them)" in (tmp_path / "report.html").read_text()


# ------------------------------------------------------------------------------------------ the report in a browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it as root)")
def test_report_renders_in_headless_chromium(network_functions, estate, tmp_path):
    estate.function("waived", [network_functions["isolated"]], tags={"lambda-vpc-rules:internet-access": "none"})
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION]) == 0
    url = (bundle / "report.html").as_uri()
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    for rule in RULES:
        assert rule.config_rule_name in dom
    assert f"{4 * len(RULES)} evaluations:" in dom  # four functions
    assert dom.count('<rect class="NON_COMPLIANT"') >= 1 and "<svg" in dom
    assert "1 account, 1 account-region expected; 1 covered; coverage complete." in dom
    assert '<details id="compliant">' in dom and "Reviewer sign-off" in dom
    assert "NIST SP 800-53 Rev. 5" in dom and '<td class="id">SC-7</td>' in dom  # controls from the metadata
    assert "Service control policies (SCPs)" in dom
    assert '<td class="id">waived</td><td class="id">lambda-vpc-rules:internet-access=none</td>' in dom
    manifest = json.loads((bundle / "manifest.json").read_text())
    for entry in manifest["files"][:2]:  # the data files' digests, as the manifest has them
        assert f'<td class="id">{entry["path"]}</td><td class="id">{entry["sha256"]}</td>' in dom
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,900",
                    f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    # printed: page numbers and a running header (@page margin boxes), every compliant function, IDs whole
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler's pdftotext is not installed (.ci/run installs it as root)")
    pdf = tmp_path / "report.pdf"
    subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", url], capture_output=True, timeout=120)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    pages = text.count("\f") or 1
    assert "Page 1 of " in text and f"Page {pages} of {pages}" in text
    assert text.count("lambda-vpc-rules evidence report") >= pages  # the running header on every page
    compliant = text[text.index("compliant evaluations"):text.index("Waivers in force")]
    passing = [r for r in json.loads((bundle / "evaluations.json").read_text())["evaluations"]
               if r["compliance"] == "COMPLIANT"]
    assert compliant.count("123456789012") == len(passing)  # every row printed, though collapsed on screen
    assert "us-east-\n" not in text and "us-east-1" in compliant


# ------------------------------------------------------------------------------------------ the table


def _report(results, coverage=None):
    from lambda_vpc_rules.core.model import ScanReport

    return ScanReport("123456789012", REGION, "2026-11-25T00:00:00+00:00", results, {}, coverage)


LONG = ("Role payments-worker-role cannot manage ENIs: ec2:DeleteNetworkInterface (denied: by inline:guard); "
        "ec2:UnassignPrivateIpAddresses (denied: by inline:guard)")


def test_table_fits_the_terminal_failures_first_and_marked():
    from lambda_vpc_rules.outputs.report import to_table

    results = [EvaluationResult(TENANCY, "fn-ok", Compliance.COMPLIANT, "VPC vpc-1 has default instance tenancy."),
               EvaluationResult(NAT, "fn-bad", Compliance.NON_COMPLIANT, LONG),
               EvaluationResult(NAT, "fn-none", Compliance.NOT_APPLICABLE, "Function is not attached to a VPC.")]
    text = to_table(_report(results), width=100)
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)
    rows = [line for line in lines if "fn-" in line]
    assert rows[0].startswith("! ") and "fn-bad" in rows[0] and "NON_COMPLIANT" in rows[0]
    assert [("fn-ok" in r, "fn-none" in r) for r in rows[1:]] == [(True, False), (False, True)]
    # wrapped at word boundaries: every word of the annotation is whole on some line
    body = " ".join(line.strip() for line in lines)
    assert all(word in body for word in LONG.split())
    assert "Annotations ending in" not in text  # nothing had to be cut

    narrow = to_table(_report(results), width=60)  # too narrow beside the columns: annotations below
    assert all(len(line) <= 60 for line in narrow.splitlines() if "fn-" not in line)
    assert "    Role payments-worker-role cannot manage ENIs:" in narrow

    only = to_table(_report(results), width=100, only_failing=True)
    assert "fn-ok" not in only and "fn-bad" in only
    assert "3 evaluations: 1 COMPLIANT, 1 NON_COMPLIANT, 1 NOT_APPLICABLE (only the 1 NON_COMPLIANT listed)" in only


def test_a_word_longer_than_the_column_is_folded_not_cut_and_json_has_it_whole():
    from lambda_vpc_rules.outputs.report import to_json, to_table

    arn = "arn:aws:ec2:us-east-1:123456789012:network-interface/" + "x" * 80
    results = [EvaluationResult(NAT, "fn-bad", Compliance.NON_COMPLIANT, f"needs {arn}")]
    text = to_table(_report(results), width=100)
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)
    column = lines[3].index("needs")  # the annotation column: the ARN continues on the next lines there
    folded = "".join(line[column:] for line in lines[3:] if len(line) > column and not line[:column].strip())
    assert "..." not in text and arn in "needs " + folded.removeprefix("needs ").replace("needs", "")
    assert json.loads(to_json(_report(results)))["evaluations"][0]["annotation"] == f"needs {arn}"


def test_only_failing_applies_to_every_format(network_functions, capsys):
    code, out = scan(capsys, "--format", "json", "--rule", NAT, "--only-failing")
    report = json.loads(out.out)
    assert code == 1
    assert {e["compliance"] for e in report["evaluations"]} == {"NON_COMPLIANT"}
    assert report["summary"]["COMPLIANT"] >= 1  # still counted


# ------------------------------------------------------------------------------------------ nothing to evidence


def test_evidence_of_nothing_is_an_error_not_an_empty_report(aws, config_calls, tmp_path, capsys, monkeypatch):
    real_session = boto3.Session

    def session(**kwargs):
        made = real_session(**kwargs)
        config_calls.install(made)
        return made

    monkeypatch.setattr("lambda_vpc_rules.tooling.cli.boto3.Session", session)
    bundle = tmp_path / "bundle"
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--source", "config"]) == 2
    err = capsys.readouterr().err
    assert "none of the pack's rules is deployed as an AWS Config rule in 123456789012 us-east-1" in err
    assert not bundle.exists()
    # a rule deployed, but no evaluation yet
    host = Estate(aws).function(NAT)  # the pack's function hosts the rule
    aws.client("config").put_config_rule(ConfigRule={
        "ConfigRuleName": NAT, "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": host["FunctionArn"],
                                          "SourceDetails": [{"EventSource": "aws.config",
                                                             "MessageType": "ScheduledNotification"}]}})
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--source", "config"]) == 2
    assert "nothing to evidence: no evaluation of a Lambda function was collected" in capsys.readouterr().err
    assert not bundle.exists()
    # drift's NOT_APPLICABLE on a subnet is no evidence about a function either
    config_calls.previous_results = [{**_config_result("subnet-1", "NOT_APPLICABLE", ""),
                                      "EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                                          "ConfigRuleName": NAT, "ResourceType": "AWS::EC2::Subnet",
                                          "ResourceId": "subnet-1"}}}]
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--source", "config"]) == 2
    config_calls.previous_results.append(_config_result("fn-a", "COMPLIANT", ""))
    config_calls.statuses[NAT] = {"LastErrorCode": "AccessDenied", "LastErrorMessage": "no role",
                                  "LastFailedEvaluationTime": "2026-11-25T03:00:00Z"}
    assert main(["evidence", "--out", str(bundle), "--region", REGION, "--source", "config"]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["evaluations"]["rows"] == 1
    assert manifest["evaluations"]["other_resource_types_not_rows"] == {"AWS::EC2::Subnet": 1}
    assert manifest["rule_evaluation_status"][0]["last_error"] == "AccessDenied: no role"
    rows = json.loads((bundle / "evaluations.json").read_text())["evaluations"]
    assert [(r["resource_id"], r["recorded_at"]) for r in rows] == [("fn-a", RECENT)]
    assert "AccessDenied: no role" in (bundle / "report.html").read_text()


def test_evidence_of_several_regions_with_one_unreadable_is_written_and_exits_2(network_functions, tmp_path,
                                                                                capsys):
    bundle = tmp_path / "bundle"
    # ap-east-1 is an opt-in region moto lists as not opted in
    assert main(["evidence", "--out", str(bundle), "--regions", "us-east-1,ap-east-1", "--rule", NAT]) == 2
    assert "coverage incomplete" in capsys.readouterr().err
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["coverage"]["not_covered"] == [{"account_id": "123456789012", "region": "ap-east-1",
                                                    "reason": "region not enabled in this account "
                                                              "(OptInStatus not-opted-in)"}]
    assert "Coverage INCOMPLETE: 1 not covered." in (bundle / "report.html").read_text()
    assert main(["verify-evidence", str(bundle)]) == 0


# ------------------------------------------------------------------------------------------ CSV injection

FORMULAS = ["=HYPERLINK(\"https://x.test\",\"click\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("annotation", FORMULAS, ids=["equals", "plus", "minus", "at", "tab", "carriage-return"])
def test_cells_a_spreadsheet_reads_as_formulas_are_neutralised_in_scan_and_evidence_csv(annotation, tmp_path):
    """OWASP "CSV Injection": no cell begins with =, +, -, @, tab or CR; a leading ' makes it text."""
    import csv
    import io

    from lambda_vpc_rules.outputs.evidence import Evidence, evaluations_csv
    from lambda_vpc_rules.outputs.report import to_csv

    rows = [EvaluationResult(NAT, "fn-a", Compliance.NON_COMPLIANT, annotation, account_id="123456789012",
                             region=REGION),
            EvaluationResult(NAT, "fn-b", Compliance.COMPLIANT, "plain - text", account_id="123456789012",
                             region=REGION)]
    scan_csv = to_csv(_report(rows))
    evidence_csv = evaluations_csv(Evidence("2026-11-25T00:00:00+00:00", "scan", {"Account": "123456789012"}, rows,
                                            []))
    for text in (scan_csv, evidence_csv):
        cells = {r["resource_id"]: r["annotation"] for r in csv.DictReader(io.StringIO(text))
                 if r.get("record", "evaluation") == "evaluation"}
        assert cells == {"fn-a": "'" + annotation, "fn-b": "plain - text"}
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                       for r in csv.reader(io.StringIO(text)) for cell in r)
