"""`--format jsonl`: JSON Lines, written as the verdicts are made, so that a scan over any number of accounts
keeps none of them in memory.

One object a line, each with `record`:
- `evaluation`: a verdict, with the fields of the json format's evaluations (account, region, rule,
  resource, compliance, annotation, recorded time), in the order the account-regions finish (not sorted);
- `coverage`, last but one: the run's coverage, as the json format's `coverage`;
- `summary`, last: when the report was generated, the verdicts counted (all of them, `--only-failing` or
  not) and the parameters each rule ran with.
A file without its `summary` line is a run that did not finish.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable
from typing import IO

from ..core.model import Compliance, EvaluationResult, ScanReport


def row(result: EvaluationResult, with_exceptions: bool = False) -> dict[str, str]:
    """A verdict as the json, csv and jsonl formats write it (with the exception fields when a register was
    given)."""
    document = {"account_id": result.account_id, "region": result.region, **result.as_dict(),
                "recorded_at": result.recorded_at}
    if with_exceptions:
        document |= {"exception": result.exception_id or "", "exception_state": result.exception_state or ""}
    return document


class JsonlWriter:
    """Writes verdicts as they come (`write`, usable as `scan_many`'s sink), then `finish` with the report."""

    def __init__(self, handle: IO[str], only_failing: bool = False):
        self.handle, self.only_failing = handle, only_failing
        self.counts: Counter = Counter()
        self.failing = 0  # NON_COMPLIANT that no exception in force covers: what fails the run

    def write(self, results: Iterable[EvaluationResult]) -> None:
        lines = []
        for result in results:
            self.counts[result.compliance] += 1
            self.failing += result.failing
            if not self.only_failing or result.failing:
                lines.append(json.dumps({"record": "evaluation", **row(result, bool(result.exception_state))},
                                        separators=(",", ":")))
        if lines:
            self.handle.write("\n".join(lines) + "\n")
            self.handle.flush()

    @property
    def non_compliant(self) -> bool:
        return bool(self.failing)

    def finish(self, report: ScanReport) -> None:
        """The report's own verdicts (none when they were streamed), its coverage and the summary."""
        self.write(report.evaluations)
        if report.coverage is not None:
            self.handle.write(json.dumps({"record": "coverage", **report.coverage.as_dict()}) + "\n")
        summary = {"evaluations": sum(self.counts.values()), **{c.value: self.counts[c] for c in Compliance}}
        self.handle.write(json.dumps({"record": "summary", "generated_at": report.generated_at, **summary,
                                      "rule_parameters": report.rule_parameters}) + "\n")
        self.handle.flush()


def to_jsonl(report: ScanReport, only_failing: bool = False, **_: object) -> str:
    """A whole report as JSON Lines (verdicts in the report's order)."""
    buffer = io.StringIO()
    JsonlWriter(buffer, only_failing).finish(report)
    return buffer.getvalue()
