"""Render a scan: a table for people, JSON and CSV with the fields AWS Config shows, ASFF for Security Hub.

Every format carries each verdict's account, region and recorded time, and the run's coverage: which
accounts and regions were expected, which were read, and which could not be (with the reason), so that an
account missing from the verdicts is never mistaken for a clean one.

- json: `{"account_id", "region"` (null when the report spans several), `"generated_at", "coverage",
  "summary", "evaluations": [{"account_id", "region", "rule", "resource_type", "resource_id", "resource_arn",
  "compliance", "annotation", "recorded_at"}]}`.
- csv: one table; column `record` is `evaluation` for a verdict, `coverage` for an account-region read or
  not read (its `annotation` says which, and why), `left-out` for an account not expected (excluded, not
  ACTIVE). A cell a spreadsheet would read as a formula is neutralised (`csv_safe`).
- table: `outputs.terminal` (rich): NON_COMPLIANT first, each marked `!`, with the rule's severity; fitted
  to `width` (the terminal's), annotations wrapped at word boundaries (nothing cut); the counts per rule and
  per severity, and the coverage last, where it is read.
- asff: the verdicts' findings, and one finding per account-region not covered (`outputs.securityhub`).
- jsonl: one JSON object a line, streamed as verdicts are made in a scan of many accounts
  (`outputs.jsonl`).

`only_failing` lists only NON_COMPLIANT verdicts (the summary still counts all of them).

With an exceptions register (`scan --exceptions`, core.exceptions): an excepted verdict stays NON_COMPLIANT
and its annotation names the exception; it is shown apart and does not fail the run. json and csv carry every
verdict with two more fields, `exception` and `exception_state` (`excepted` | `expired` | empty), a summary
count `EXCEPTED` (of the NON_COMPLIANT), and json the register's use (`exceptions`: version, sha256, every
exception with its state, what it covered, stale). The table lists excepted verdicts apart: counted under the
table, listed in their own section with `show_excepted`. `only_failing` leaves excepted verdicts out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping

from ..core.coverage import Coverage
from ..core.model import ScanReport
from .jsonl import row, to_jsonl
from .securityhub import coverage_findings, to_findings
from .verdicts import ordered, summary
from .verdicts import single_scope as _single

FIELDS = ("rule", "resource_type", "resource_id", "resource_arn", "compliance", "annotation")
ROW_FIELDS = ("account_id", "region", *FIELDS, "recorded_at")
EXCEPTION_FIELDS = ("exception", "exception_state")
CSV_FIELDS = ("record", *ROW_FIELDS)




def to_json(report: ScanReport, only_failing: bool = False, **_: object) -> str:
    account_id, region = _single(report)
    with_exceptions = report.exceptions is not None
    document = {
        "account_id": account_id,
        "region": region,
        "generated_at": report.generated_at,
        "coverage": report.coverage.as_dict() if report.coverage else None,
        "summary": summary(report.evaluations, with_exceptions),
        "evaluations": [row(r, with_exceptions) for r in ordered(report.evaluations, only_failing)],
    }
    if with_exceptions:
        document["exceptions"] = report.exceptions.as_dict()
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


# OWASP, "CSV Injection": no cell may begin with =, +, -, @, tab (0x09) or carriage return (0x0D); prepend a
# single quote, which a spreadsheet shows as text, not evaluates (ASVS 1.2.10 adds the null character). RFC 4180
# quoting, which the csv module does, keeps a cell one cell but does not stop the evaluation.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_safe(value: object) -> object:
    """A CSV cell a spreadsheet reads as text: one that would start a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_rows(rows: Iterable[Mapping[str, object]]) -> Iterator[dict[str, object]]:
    """Every cell of `rows` through `csv_safe` (scan CSV and evidence CSV alike)."""
    for item in rows:
        yield {key: csv_safe(value) for key, value in item.items()}


def to_csv(report: ScanReport, only_failing: bool = False, **_: object) -> str:
    buffer = io.StringIO()
    with_exceptions = report.exceptions is not None
    # RFC 4180 line ends (and so a cell holding a CR is quoted)
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS + (EXCEPTION_FIELDS if with_exceptions else ()),
                            lineterminator="\r\n", restval="")
    writer.writeheader()
    writer.writerows(safe_rows({"record": "evaluation", **row(result, with_exceptions)}
                               for result in ordered(report.evaluations, only_failing)))
    writer.writerows(safe_rows(coverage_rows(report.coverage)))
    return buffer.getvalue()


def to_table(report: ScanReport, only_failing: bool = False, width: int | None = None, colour: bool = False,
             show_excepted: bool = False, **_: object) -> str:
    """For people: `outputs.terminal` (rich), imported only when a table is asked for."""
    from .terminal import render_table

    return render_table(report, only_failing=only_failing, width=width, colour=colour, show_excepted=show_excepted)


def to_asff(report: ScanReport, only_failing: bool = False, **_: object) -> str:
    findings = to_findings(ordered(report.evaluations, only_failing), report.generated_at)
    if report.coverage:
        findings += coverage_findings(report.coverage, report.generated_at)
    return json.dumps(findings, indent=2) + "\n"


RENDERERS = {"table": to_table, "json": to_json, "csv": to_csv, "asff": to_asff, "jsonl": to_jsonl}
