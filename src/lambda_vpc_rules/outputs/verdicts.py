"""What every rendering of a scan shares: the order of the verdicts, the counts, the single account and region
a report may be about, the coverage in lines (`report` for the machine formats, `terminal` for people)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..core.coverage import Coverage
from ..core.model import Compliance, EvaluationResult, ScanReport

ORDER = {Compliance.NON_COMPLIANT: 0, Compliance.COMPLIANT: 1, Compliance.NOT_APPLICABLE: 2}


def ordered(results: Sequence[EvaluationResult], only_failing: bool = False) -> list[EvaluationResult]:
    """NON_COMPLIANT first, then COMPLIANT, NOT_APPLICABLE; by account, region, rule and function within.
    `only_failing`: the NON_COMPLIANT verdicts no exception in force covers."""
    chosen = [r for r in results if not only_failing or r.failing]
    return sorted(chosen, key=lambda r: (ORDER[r.compliance], r.account_id, r.region, r.rule, r.resource_id))


def summary(results: Sequence[EvaluationResult], with_exceptions: bool = False) -> dict[str, int]:
    counts = Counter(r.compliance for r in results)
    document = {"evaluations": len(results), **{c.value: counts.get(c, 0) for c in Compliance}}
    if with_exceptions:
        document["EXCEPTED"] = sum(1 for r in results if r.excepted)
    return document


def single_scope(report: ScanReport) -> tuple[str | None, str | None]:
    coverage = report.coverage
    if coverage is None:
        return report.account_id or None, report.region or None
    accounts, regions = coverage.account_ids, coverage.regions_seen
    return (accounts[0] if len(accounts) == 1 else None), (regions[0] if len(regions) == 1 else None)


def coverage_lines(coverage: Coverage | None) -> list[str]:
    if coverage is None:
        return []
    lines = [f"COVERAGE: {coverage.statement()}", f"  accounts: {coverage.accounts}", f"  regions: {coverage.regions}"]
    lines += [f"  NOT COVERED {gap.where}: {gap.reason}" for gap in coverage.gaps]
    lines += [f"  left out {x.account_id}: {x.reason}" for x in coverage.left_out]
    lines += [f"  note: {note}" for note in coverage.notes]
    return lines
