"""`make demo`'s job: the built-in estate, evaluated, printed and written as JSON."""

import json

from lambda_vpc_rules.cli import main


def test_demo_prints_a_table_and_writes_json(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "RULE" in table and "VERDICT" in table
    report = json.loads((tmp_path / "demo-scan.json").read_text())
    verdicts = {(e["rule"], e["resource_id"]): e["compliance"] for e in report["evaluations"]}
    tenancy = "lambda-vpc-default-tenancy"
    assert verdicts[(tenancy, "orders-api")] == "COMPLIANT"
    assert verdicts[(tenancy, "billing-sync")] == "NON_COMPLIANT"
    assert verdicts[(tenancy, "retired-subnet-job")] == "NON_COMPLIANT"
    assert verdicts[(tenancy, "image-resizer")] == "NOT_APPLICABLE"
    for _rule, function in verdicts:
        assert function in table
