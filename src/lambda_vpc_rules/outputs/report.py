"""Render a scan: a table for people, JSON and CSV with the fields AWS Config shows, ASFF for Security Hub."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

from ..core.model import Compliance, ScanReport
from .securityhub import to_findings

FIELDS = ("rule", "resource_type", "resource_id", "resource_arn", "compliance", "annotation")


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
    findings = to_findings(report.evaluations, report.generated_at)
    return json.dumps(findings, indent=2) + "\n"


RENDERERS = {"table": to_table, "json": to_json, "csv": to_csv, "asff": to_asff}
