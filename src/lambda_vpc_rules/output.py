"""Render a scan: a table for people, JSON and CSV with the fields AWS Config shows."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field

from .model import Compliance, EvaluationResult

FIELDS = ("rule", "resource_type", "resource_id", "resource_arn", "compliance", "annotation")


@dataclass(frozen=True)
class ScanReport:
    account_id: str
    region: str
    generated_at: str  # ISO 8601, UTC
    evaluations: list[EvaluationResult] = field(default_factory=list)
    # rule -> the parameter strings it ran with (defaults included): for the evidence manifest
    rule_parameters: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def has_non_compliant(self) -> bool:
        return any(result.compliance is Compliance.NON_COMPLIANT for result in self.evaluations)

    def as_dict(self) -> dict:
        return {
            "account_id": self.account_id,
            "region": self.region,
            "generated_at": self.generated_at,
            "evaluations": [result.as_dict() for result in self.evaluations],
        }


def to_json(report: ScanReport) -> str:
    return json.dumps(report.as_dict(), indent=2) + "\n"


def to_csv(report: ScanReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for result in report.evaluations:
        writer.writerow(result.as_dict())
    return buffer.getvalue()


def to_table(report: ScanReport) -> str:
    headers = ("RULE", "FUNCTION", "VERDICT", "ANNOTATION")
    rows = [(r.rule, r.resource_id, r.compliance.value, r.annotation) for r in report.evaluations]
    widths = [max([len(headers[i])] + [len(row[i]) for row in rows]) for i in range(3)]
    lines = [f"Account {report.account_id}, region {report.region}, {report.generated_at}", ""]
    for row in [headers, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
    counts = Counter(r.compliance.value for r in report.evaluations)
    summary = ", ".join(f"{counts.get(c.value, 0)} {c.value}" for c in Compliance)
    lines += ["", f"{len(report.evaluations)} evaluations: {summary}"]
    return "\n".join(lines) + "\n"


def to_asff(report: ScanReport) -> str:
    from .securityhub import to_findings

    findings = to_findings(report.evaluations, report.account_id, report.region, report.generated_at)
    return json.dumps(findings, indent=2) + "\n"


RENDERERS = {"table": to_table, "json": to_json, "csv": to_csv, "asff": to_asff}
