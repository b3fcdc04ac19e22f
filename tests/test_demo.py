"""`make demo`'s job: the built-in estate, evaluated, printed and written as JSON."""

import json

from lambda_vpc_rules.tooling.cli import main

TENANCY, NAT, IPV6 = "lambda-vpc-default-tenancy", "lambda-vpc-private-subnet-nat", "lambda-vpc-ipv6-dual-stack"
ENI, MULTI_AZ = "lambda-vpc-eni-permissions", "lambda-vpc-multi-az"

# Each demo function tells one story; these are the verdicts it must show.
EXPECTED = {
    (TENANCY, "orders-api"): "COMPLIANT",
    (TENANCY, "billing-sync"): "NON_COMPLIANT",
    (TENANCY, "retired-subnet-job"): "NON_COMPLIANT",
    (TENANCY, "image-resizer"): "NOT_APPLICABLE",
    (NAT, "orders-api"): "COMPLIANT",
    (NAT, "public-webhook"): "NON_COMPLIANT",
    (NAT, "ledger-writer"): "COMPLIANT",
    (NAT, "report-mailer"): "NON_COMPLIANT",
    (NAT, "legacy-poller"): "NON_COMPLIANT",
    (IPV6, "dual-stack-api"): "COMPLIANT",
    (IPV6, "ipv6-mismatch"): "NON_COMPLIANT",
    (IPV6, "ipv6-unused"): "NON_COMPLIANT",
    (IPV6, "orders-api"): "COMPLIANT",
    (ENI, "orders-api"): "COMPLIANT",
    (ENI, "audit-exporter"): "NON_COMPLIANT",
    (ENI, "payments-worker"): "NON_COMPLIANT",
    (ENI, "metrics-agent"): "NON_COMPLIANT",
    (ENI, "stock-reader"): "COMPLIANT",
    (ENI, "ledger-api"): "COMPLIANT",
    (ENI, "catalog-api"): "COMPLIANT",
    (ENI, "image-resizer"): "NOT_APPLICABLE",
    (NAT, "audit-exporter"): "COMPLIANT",
    (MULTI_AZ, "orders-api"): "COMPLIANT",
    (MULTI_AZ, "dual-stack-api"): "COMPLIANT",
    (MULTI_AZ, "inventory-sync"): "NON_COMPLIANT",
    (MULTI_AZ, "billing-sync"): "NON_COMPLIANT",
    (MULTI_AZ, "retired-subnet-job"): "NON_COMPLIANT",
    (MULTI_AZ, "image-resizer"): "NOT_APPLICABLE",
    # inventory-sync fails only for its one zone
    (TENANCY, "inventory-sync"): "COMPLIANT",
    (NAT, "inventory-sync"): "COMPLIANT",
    (IPV6, "inventory-sync"): "COMPLIANT",
    (ENI, "inventory-sync"): "COMPLIANT",
}


def test_demo_prints_a_table_and_writes_json(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert "RULE" in table and "VERDICT" in table and "SEVERITY" in table
    # every stage said on stderr (not a terminal here), then the files written and how to verify the bundle
    progress = captured.err.splitlines()
    for stage in ("Building the demo estate", "Listing Lambda functions", "Evaluating lambda-vpc-multi-az (5/5)",
                  "Security Hub findings (ASFF)", "Writing the evidence bundle"):
        assert any(stage in line for line in progress), stage
    for written in ("demo-estate.json", "demo-scan.json", "demo-findings.asff.json", "evidence/"):
        assert any(line.strip().startswith(str(tmp_path / written)) for line in progress), written
    assert progress[-1].startswith("verify later with: lambda-vpc-rules verify-evidence ")
    verify = progress[-1].removeprefix("verify later with: lambda-vpc-rules ").split()
    assert main(verify) == 0 and verify[-2] == "--manifest-sha256"
    report = json.loads((tmp_path / "demo-scan.json").read_text())
    verdicts = {(e["rule"], e["resource_id"]): e["compliance"] for e in report["evaluations"]}
    for key, compliance in EXPECTED.items():
        assert verdicts[key] == compliance, key
    stories = json.loads((tmp_path / "demo-estate.json").read_text())
    assert {function for _, function in verdicts} == set(stories)
    for function in stories:
        assert function in table
    findings = json.loads((tmp_path / "demo-findings.asff.json").read_text())
    assert len(findings) == len(report["evaluations"])
    assert main(["verify-evidence", str(tmp_path / "evidence")]) == 0
    manifest = json.loads((tmp_path / "evidence" / "manifest.json").read_text())
    assert [entry["rule"] for entry in manifest["rule_parameters"]] == [ENI, TENANCY, NAT, IPV6, MULTI_AZ]
    bundled = json.loads((tmp_path / "evidence" / "evaluations.json").read_text())["evaluations"]
    assert [(e["rule"], e["resource_id"], e["compliance"]) for e in bundled] == [
        (e["rule"], e["resource_id"], e["compliance"]) for e in report["evaluations"]]
    assert "audit-exporter" in (tmp_path / "evidence" / "report.html").read_text()


def test_demo_with_the_function_code_guard(tmp_path, capsys):
    """RequireFunctionCodeGuard: only the role with AWS's lambda:SourceFunctionArn guard keeps its function's
    code from the ENI write actions; the least-privilege and region-locked roles do not."""
    assert main(["demo", "--out", str(tmp_path), "--rule", ENI, "--param", "RequireFunctionCodeGuard=true"]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "demo-scan.json").read_text())
    verdicts = {e["resource_id"]: (e["compliance"], e["annotation"]) for e in report["evaluations"]}
    assert verdicts["ledger-api"][0] == "COMPLIANT"
    for unguarded in ("orders-api", "stock-reader", "catalog-api"):
        compliance, annotation = verdicts[unguarded]
        assert compliance == "NON_COMPLIANT" and "lambda:SourceFunctionArn guard" in annotation, unguarded
