"""Render a scan: a table for people, JSON and CSV with the fields AWS Config shows, ASFF for Security Hub.

Every format carries each verdict's account, region and recorded time, and the run's coverage: which
accounts and regions were expected, which were read, and which could not be (with the reason), so that an
account missing from the verdicts is never mistaken for a clean one.

- json: `{"account_id", "region"` (null when the report spans several), `"generated_at", "coverage",
  "summary", "evaluations": [{"account_id", "region", "rule", "resource_type", "resource_id", "resource_arn",
  "compliance", "annotation", "recorded_at"}]}`.
- csv: one table; column `record` is `evaluation` for a verdict, `coverage` for an account-region read or
  not read (its `annotation` says which, and why), `left-out` for an account not expected (excluded, not
  ACTIVE).
- table: NON_COMPLIANT first, each marked `!`; fitted to `width` (the terminal's) with annotations wrapped
  at word boundaries, a word longer than its column cut short with `...` (json and csv keep the full
  text); the coverage last, where it is read.
- asff: the verdicts' findings, and one finding per account-region not covered (`outputs.securityhub`).
- jsonl: one JSON object a line, streamed as verdicts are made in a scan of many accounts
  (`outputs.jsonl`).

`only_failing` lists only NON_COMPLIANT verdicts (the summary still counts all of them).
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections import Counter
from collections.abc import Sequence

from ..core.coverage import Coverage
from ..core.model import Compliance, EvaluationResult, ScanReport
from .jsonl import row, to_jsonl
from .securityhub import coverage_findings, to_findings

FIELDS = ("rule", "resource_type", "resource_id", "resource_arn", "compliance", "annotation")
ROW_FIELDS = ("account_id", "region", *FIELDS, "recorded_at")
CSV_FIELDS = ("record", *ROW_FIELDS)
ORDER = {Compliance.NON_COMPLIANT: 0, Compliance.COMPLIANT: 1, Compliance.NOT_APPLICABLE: 2}
MIN_ANNOTATION = 30  # narrower than this, annotations go on lines of their own
CUT = "..."


def ordered(results: Sequence[EvaluationResult], only_failing: bool = False) -> list[EvaluationResult]:
    """NON_COMPLIANT first, then COMPLIANT, NOT_APPLICABLE; by account, region, rule and function within."""
    chosen = [r for r in results if not only_failing or r.compliance is Compliance.NON_COMPLIANT]
    return sorted(chosen, key=lambda r: (ORDER[r.compliance], r.account_id, r.region, r.rule, r.resource_id))


def summary(results: Sequence[EvaluationResult]) -> dict[str, int]:
    counts = Counter(r.compliance for r in results)
    return {"evaluations": len(results), **{c.value: counts.get(c, 0) for c in Compliance}}


def _single(report: ScanReport) -> tuple[str | None, str | None]:
    coverage = report.coverage
    if coverage is None:
        return report.account_id or None, report.region or None
    accounts, regions = coverage.account_ids, coverage.regions_seen
    return (accounts[0] if len(accounts) == 1 else None), (regions[0] if len(regions) == 1 else None)


def to_json(report: ScanReport, only_failing: bool = False, **_: object) -> str:
    account_id, region = _single(report)
    document = {
        "account_id": account_id,
        "region": region,
        "generated_at": report.generated_at,
        "coverage": report.coverage.as_dict() if report.coverage else None,
        "summary": summary(report.evaluations),
        "evaluations": [row(r) for r in ordered(report.evaluations, only_failing)],
    }
    return json.dumps(document, indent=2) + "\n"


def coverage_rows(coverage: Coverage | None) -> list[dict[str, str]]:
    if coverage is None:
        return []
    rows = [{"record": "coverage", "account_id": c.account_id, "region": c.region, "recorded_at": c.read_at,
             "annotation": f"covered: {c.items} read"} for c in coverage.covered]
    rows += [{"record": "coverage", "account_id": g.account_id, "region": g.region,
              "annotation": f"NOT covered: {g.reason}"} for g in coverage.gaps]
    rows += [{"record": "left-out", "account_id": x.account_id, "annotation": f"left out: {x.reason}"}
             for x in coverage.left_out]
    return rows


def to_csv(report: ScanReport, only_failing: bool = False, **_: object) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n", restval="")
    writer.writeheader()
    for result in ordered(report.evaluations, only_failing):
        writer.writerow({"record": "evaluation", **row(result)})
    writer.writerows(coverage_rows(report.coverage))
    return buffer.getvalue()


def _wrap(text: str, width: int) -> tuple[list[str], bool]:
    """`text` in lines of at most `width`, broken at spaces; a word longer than a line is cut (True)."""
    lines = textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False) or [""]
    cut = [line if len(line) <= width else line[: width - len(CUT)] + CUT for line in lines]
    return cut, cut != lines


def coverage_lines(coverage: Coverage | None) -> list[str]:
    if coverage is None:
        return []
    lines = [f"COVERAGE: {coverage.statement()}", f"  accounts: {coverage.accounts}", f"  regions: {coverage.regions}"]
    lines += [f"  NOT COVERED {gap.where}: {gap.reason}" for gap in coverage.gaps]
    lines += [f"  left out {x.account_id}: {x.reason}" for x in coverage.left_out]
    lines += [f"  note: {note}" for note in coverage.notes]
    return lines


def to_table(report: ScanReport, only_failing: bool = False, width: int | None = None, **_: object) -> str:
    """`width`: the terminal's columns (None: no limit, annotations in full)."""
    account_id, region = _single(report)
    many = account_id is None or region is None
    headers = ("", *(("ACCOUNT", "REGION") if many else ()), "RULE", "FUNCTION", "VERDICT", "ANNOTATION")
    results = ordered(report.evaluations, only_failing)
    rows = [("!" if r.compliance is Compliance.NON_COMPLIANT else "",
             *((r.account_id, r.region) if many else ()), r.rule, r.resource_id, r.compliance.value, r.annotation)
            for r in results]
    fixed = len(headers) - 1
    widths = [max([len(headers[i])] + [len(cells[i]) for cells in rows]) for i in range(fixed)]
    indent = sum(widths) + 2 * fixed
    room = None if width is None else width - indent
    below = room is not None and room < MIN_ANNOTATION  # too narrow: annotations on lines of their own
    if below:
        room = max(MIN_ANNOTATION, width - 4)
    title = (f"Account {account_id}, region {region}" if not many
             else f"{len(report.coverage.account_ids) if report.coverage else 0} accounts")
    lines = [f"{title}, {report.generated_at}"]
    if report.coverage:
        lines.append(f"Coverage: {report.coverage.statement()}")
    if width is not None:
        lines = [part for line in lines for part in textwrap.wrap(line, width, subsequent_indent="    ",
                                                                  break_long_words=False, break_on_hyphens=False)]
    lines.append("")
    cut_any = False
    for cells in [headers, *rows]:
        lead = "  ".join(cell.ljust(w) for cell, w in zip(cells[:fixed], widths, strict=True))
        annotation = cells[fixed]
        if room is None:
            lines.append(f"{lead}  {annotation}".rstrip())
            continue
        wrapped, cut = _wrap(annotation, room)
        cut_any |= cut
        if below:
            lines.append(lead.rstrip())
            lines += [f"    {part}" for part in wrapped if part]
        else:
            lines.append(f"{lead}  {wrapped[0]}".rstrip())
            lines += [" " * (indent) + part for part in wrapped[1:]]
    counts = summary(report.evaluations)
    footer = ["", f"{counts['evaluations']} evaluations: "
              + ", ".join(f"{counts[c.value]} {c.value}" for c in Compliance)
              + (f" (only the {counts[Compliance.NON_COMPLIANT.value]} NON_COMPLIANT listed)" if only_failing else "")]
    if cut_any:
        footer.append(f"Annotations ending in {CUT} were cut to fit; --format json or csv has them in full.")
    if report.coverage:
        footer += ["", *coverage_lines(report.coverage)]
    if width is not None:  # prose wraps at word boundaries too (an ID longer than a line stays whole)
        footer = [part for line in footer for part in (textwrap.wrap(
            line, width, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False) or [""])]
    return "\n".join(lines + footer) + "\n"


def to_asff(report: ScanReport, only_failing: bool = False, **_: object) -> str:
    findings = to_findings(ordered(report.evaluations, only_failing), report.generated_at)
    if report.coverage:
        findings += coverage_findings(report.coverage, report.generated_at)
    return json.dumps(findings, indent=2) + "\n"


RENDERERS = {"table": to_table, "json": to_json, "csv": to_csv, "asff": to_asff, "jsonl": to_jsonl}
