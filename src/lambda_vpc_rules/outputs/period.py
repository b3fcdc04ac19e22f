"""An evidence bundle for an audit period (`evidence --from --to`): what an auditor samples from, and how
each function fared over the period.

Files: `timeline.json` (every interval of every function and rule, the run gaps, the sources and what they
proved), `population.csv` (every function that existed in the period, per rule: days compliant,
non-compliant, not evaluated), `non-compliant.csv` (every non-compliant interval: start, end, duration, how it
ended, exception), `exceptions.csv` (the intervals an exception covered), `oscal-assessment-results.json`
(OSCAL 1.2.1 assessment results: one result for the period, the rules' NIST SP 800-53 controls as reviewed
controls, one observation per function and rule, one finding per control), `report.html`, and
`manifest.json` hashing them all (the same manifest as a snapshot bundle, `kind: period`; verify-evidence
checks either).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.rules import RULES, metadata_for, rule_version
from ..core.timeline import DayTally, Interval, PeriodResult, iso
from .evidence import MANIFEST, PERIOD_FILES, EvidenceError, deployment_html, file_entry
from .report import csv_safe

OSCAL_VERSION = "1.2.1"
NAMESPACE = uuid.UUID("6f1c2a4e-9b1d-4f57-a0e1-2a3c4d5e6f70")  # the pack's: UUIDs stable for the same content


@dataclass(frozen=True)
class PeriodSources:
    """What was read for the period, and what it proved."""

    snapshots_location: str | None
    snapshots_signed: int = 0
    snapshots_unsigned: int = 0
    snapshots_rejected: Sequence[str] = ()
    signature_key: str | None = None  # the KMS key the signatures were verified with; None: not verified
    config_history: bool = False
    config_functions: int = 0
    calls: int = 0
    notes: Sequence[str] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"snapshots": {"location": self.snapshots_location, "signed": self.snapshots_signed,
                              "unsigned": self.snapshots_unsigned, "rejected": list(self.snapshots_rejected),
                              "signatures_verified_with": self.signature_key},
                "config_history": {"read": self.config_history, "functions": self.config_functions},
                "aws_calls": self.calls, "notes": list(self.notes)}


def _csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, as the other CSVs
    writer.writerow(headers)
    writer.writerows([[csv_safe(value) for value in row] for row in rows])  # never a formula (OWASP)
    return buffer.getvalue()


def _hours(interval: Interval) -> float:
    return round(interval.duration.total_seconds() / 3600, 2)


def timeline_json(result: PeriodResult, sources: PeriodSources) -> str:
    tallies = {rule: {"compliant_days": t.compliant, "non_compliant_days": t.non_compliant,
                      "not_evaluated_days": t.gap, "not_applicable_days": t.not_applicable,
                      "compliant_share": t.compliant_share} for rule, t in result.by_rule().items()}
    document = {
        "period": {"from": iso(result.period.start), "to": iso(result.period.end)},
        "sources": sources.as_dict(),
        "by_rule": tallies,
        "time_to_remediate": result.time_to_remediate(),
        "run_gaps": [{"account_id": g.account_id, "region": g.region, "rule": g.rule, "day": g.day.isoformat()}
                     for g in result.run_gaps],
        "functions": [{"account_id": t.key.account_id, "region": t.key.region, "rule": t.key.rule,
                       "resource_id": t.key.resource_id, "in_population": t.existed,
                       "not_evaluated_days": [d.isoformat() for d in t.gap_days],
                       "intervals": [i.as_dict() for i in t.intervals]} for t in result.timelines],
    }
    return json.dumps(document, indent=2) + "\n"


def population_csv(result: PeriodResult) -> str:
    rows = []
    for t in result.population:
        living = [i for i in t.intervals if i.state in ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE")]
        rows.append([t.key.account_id, t.key.region, t.key.rule, t.key.resource_id, iso(living[0].start),
                     iso(living[-1].end), t.intervals[-1].state, t.days.compliant, t.days.non_compliant, t.days.gap,
                     t.days.not_applicable, len(t.non_compliant)])
    return _csv(("account_id", "region", "rule", "resource_id", "first_seen", "last_seen", "state_at_end",
                 "compliant_days", "non_compliant_days", "not_evaluated_days", "not_applicable_days",
                 "non_compliant_intervals"), rows)


def _interval_row(i: Interval) -> list[Any]:
    return [i.key.account_id, i.key.region, i.key.rule, i.key.resource_id, iso(i.start), iso(i.end), _hours(i),
            i.ended_by, i.exception or "", i.annotation or "(AWS Config's history holds no annotation)",
            "+".join(i.sources)]


INTERVAL_HEADERS = ("account_id", "region", "rule", "resource_id", "start", "end", "duration_hours", "ended_by",
                    "exception", "annotation", "sources")


def non_compliant_csv(result: PeriodResult) -> str:
    return _csv(INTERVAL_HEADERS, [_interval_row(i) for i in result.non_compliant_intervals()])


def exceptions_csv(result: PeriodResult) -> str:
    return _csv(INTERVAL_HEADERS, [_interval_row(i) for i in result.non_compliant_intervals() if i.exception])


def oscal_control_id(control: str) -> str:
    """NIST SP 800-53 `CP-6(2)` as OSCAL's control-id `cp-6.2`."""
    return re.sub(r"\((\d+)\)", r".\1", control.strip()).lower()


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def oscal_assessment_results(result: PeriodResult, generated_at: str, sources: PeriodSources) -> dict[str, Any]:
    """OSCAL 1.2.1 assessment results for the period (one result; the rules' NIST controls reviewed)."""
    controls_by_rule = {rule.config_rule_name: sorted({oscal_control_id(c["id"]) for c in
                                                       metadata_for(rule.config_rule_name).related_controls
                                                       if "800-53" in c["framework"]})
                        for rule in RULES}
    every_control = sorted({c for controls in controls_by_rule.values() for c in controls})
    start, end = iso(result.period.start), iso(result.period.end)
    observations, by_control = [], defaultdict(list)
    for t in result.population:
        failing = t.non_compliant
        description = (f"{t.key.rule} on {t.key.resource_id} ({t.key.account_id} {t.key.region}): "
                       f"{t.days.compliant} compliant, {t.days.non_compliant} non-compliant and {t.days.gap} "
                       f"not evaluated function-days; {len(failing)} non-compliant interval(s)"
                       + "".join(f"; {iso(i.start)} to {iso(i.end)} ({i.ended_by})" for i in failing[:5]))
        observation_uuid = _uuid("observation", start, end, *t.key.__dict__.values())
        observations.append({
            "uuid": observation_uuid, "title": f"{t.key.rule}: {t.key.resource_id}", "description": description,
            "methods": ["TEST"], "types": ["finding" if failing or t.days.gap else "control-objective"],
            "subjects": [{"subject-uuid": _uuid("function", t.key.account_id, t.key.region, t.key.resource_id),
                          "type": "component", "title": f"AWS Lambda function {t.key.resource_id}",
                          "props": [{"name": "account", "ns": "https://github.com/lambda-vpc-rules",
                                     "value": t.key.account_id},
                                    {"name": "region", "ns": "https://github.com/lambda-vpc-rules",
                                     "value": t.key.region}]}],
            "collected": generated_at,
        })
        for control in controls_by_rule.get(t.key.rule, []):
            by_control[control].append((observation_uuid, bool(failing or t.days.gap)))
    findings = []
    for control in every_control:
        related = by_control.get(control, [])
        not_satisfied = sum(1 for _, failed in related if failed)
        findings.append({
            "uuid": _uuid("finding", start, end, control),
            "title": f"{control.upper()} over {start} to {end}",
            "description": f"{len(related)} function-rule timelines observed, {not_satisfied} with a non-compliant "
                           "interval or a day not evaluated.",
            "target": {"type": "objective-id", "target-id": f"{control}_obj",
                       "status": {"state": "not-satisfied" if not_satisfied or not related else "satisfied"}},
            **({"related-observations": [{"observation-uuid": u} for u, _ in related]} if related else {}),
        })
    result_entry: dict[str, Any] = {
        "uuid": _uuid("result", start, end), "title": f"lambda-vpc-rules, {start} to {end}",
        "description": "Lambda functions attached to a VPC, judged by the lambda-vpc-rules AWS Config rules over the "
                       "period, from the pack's signed snapshots and AWS Config's compliance history.",
        "start": start, "end": end,
        "reviewed-controls": {"control-selections": [{"include-controls": [{"control-id": c}
                                                                           for c in every_control]}]},
    }
    if observations:
        result_entry["observations"] = observations
    if findings:
        result_entry["findings"] = findings
    return {"assessment-results": {
        "uuid": _uuid("assessment-results", start, end, generated_at),
        "metadata": {"title": "lambda-vpc-rules: Lambda VPC configuration over an audit period",
                     "last-modified": generated_at, "version": __version__, "oscal-version": OSCAL_VERSION,
                     "remarks": json.dumps(sources.as_dict()["snapshots"])},
        "import-ap": {"href": "#lambda-vpc-rules-assessment-plan"},
        "results": [result_entry],
    }}


def _group_days(days: Sequence[dt.date]) -> str:
    """2026-01-03..2026-01-05, 2026-01-09"""
    runs, parts = [], []
    for day in sorted(days):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    for first, last in runs:
        parts.append(first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}")
    return ", ".join(parts)


# a stack's parameters have no history the pack reads: the period report says when they were read
DEPLOYMENT_WHEN = "when this bundle was made (not over the period)"


def report_html(result: PeriodResult, sources: PeriodSources, generated_at: str,
                data_digests: Mapping[str, str], deployment: Mapping[str, Any] | None = None) -> str:
    e = html.escape
    start, end = iso(result.period.start), iso(result.period.end)
    tallies = result.by_rule()
    population = Counter(t.key.rule for t in result.population)
    rule_rows = ""
    for rule in RULES:
        name = rule.config_rule_name
        tally = tallies.get(name, DayTally())
        rule_rows += (f"<tr><td class=id>{e(name)}</td><td>{e(metadata_for(name).severity)}</td>"
                      f"<td class=num>{population.get(name, 0)}</td><td class=num>{tally.compliant}</td>"
                      f"<td class=num>{tally.non_compliant}</td><td class=num>{tally.gap}</td>"
                      f"<td class=num>{_share(tally)}</td></tr>")
    intervals = "".join(
        f"<tr><td class=id>{e(i.key.account_id)}</td><td class=id>{e(i.key.region)}</td><td class=id>"
        f"{e(i.key.rule)}</td><td class=id>{e(i.key.resource_id)}</td><td class=id>{e(iso(i.start))}</td>"
        f"<td class=id>{e(iso(i.end))}</td><td class=num>{_hours(i)}</td><td>{e(i.ended_by or '')}</td>"
        f"<td>{e(i.exception or '')}</td><td>{e(i.annotation or 'no annotation in AWS Config history')}</td></tr>"
        for i in result.non_compliant_intervals()) or "<tr><td colspan=10>None.</td></tr>"
    gaps: dict[tuple[str, str, str], list[dt.date]] = defaultdict(list)
    for gap in result.run_gaps:
        gaps[(gap.account_id, gap.region, gap.rule)].append(gap.day)
    gap_rows = "".join(f"<tr><td class=id>{e(a)}</td><td class=id>{e(r)}</td><td class=id>{e(rule)}</td>"
                       f"<td class=num>{len(days)}</td><td>{e(_group_days(days))}</td></tr>"
                       for (a, r, rule), days in sorted(gaps.items())) or "<tr><td colspan=5>None.</td></tr>"
    ttr = result.time_to_remediate()
    rejected = "".join(f"<li>{e(text)}</li>" for text in sources.snapshots_rejected)
    signed = (f"{sources.snapshots_signed} signed snapshots verified with {e(sources.signature_key)}"
              if sources.signature_key else f"{sources.snapshots_signed} signed snapshots (signatures not verified: "
              "no key given)")
    digests = "".join(f"<tr><td class=id>{e(n)}</td><td class=id>{e(d)}</td></tr>" for n, d in data_digests.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lambda-vpc-rules: audit period {e(start)} to {e(end)}</title>
<style>body {{ font-family: sans-serif; margin: 2em; font-size: 14px; }} table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #bbb; padding: 3px 7px; text-align: left; vertical-align: top; }} th {{ background: #eee; }}
td.num {{ text-align: right; }} .id {{ white-space: nowrap; font-family: monospace; }}</style></head><body>
<h1>Lambda VPC configuration over an audit period</h1>
<p id="period">Period: <span class=id>{e(start)}</span> to <span class=id>{e(end)}</span> (end exclusive).
Generated {e(generated_at)} by lambda-vpc-rules {e(__version__)}.</p>
<h2>Sources</h2>
<ul id="sources"><li>Pack snapshots: {e(sources.snapshots_location or "not read")}; {signed};
{sources.snapshots_unsigned} unsigned (integrity checked by SHA-256 only, not who wrote them);
{len(sources.snapshots_rejected)} rejected.</li>
<li>AWS Config compliance history: {"read for " + str(sources.config_functions) + " functions"
 if sources.config_history else "not read"} (transitions only; no annotations).</li>
<li>{sources.calls} AWS calls.</li>{"".join(f"<li>{e(n)}</li>" for n in sources.notes)}</ul>
{f"<h3>Rejected snapshots</h3><ul id=rejected>{rejected}</ul>" if rejected else ""}
<h2>Deployment</h2>
{deployment_html(deployment, DEPLOYMENT_WHEN)}
<h2>By rule</h2>
<table id="by-rule"><thead><tr><th>Rule</th><th>Severity</th><th>Population</th><th>Compliant function-days</th>
<th>Non-compliant function-days</th><th>Not evaluated function-days</th><th>Share compliant</th></tr></thead>
<tbody>{rule_rows}</tbody></table>
<p id="ttr">Time to remediate (intervals that began and were fixed in the period): {ttr["fixed"]} fixed; mean
{ttr["mean_hours"]} h, median {ttr["median_hours"]} h, longest {ttr["max_hours"]} h.</p>
<h2>Non-compliant intervals</h2>
<table id="intervals"><thead><tr><th>Account</th><th>Region</th><th>Rule</th><th>Function</th><th>From</th>
<th>To</th><th>Hours</th><th>Ended</th><th>Exception</th><th>Why</th></tr></thead><tbody>{intervals}</tbody></table>
<h2>Coverage gaps by day</h2>
<p>Days on which a rule left no evidence of evaluating an account-region (no snapshot, no AWS Config
transition): never counted as compliant.</p>
<table id="gaps"><thead><tr><th>Account</th><th>Region</th><th>Rule</th><th>Days</th><th>Which</th></tr></thead>
<tbody>{gap_rows}</tbody></table>
<h2>Bundle identity</h2><table id="digests"><tbody>{digests}</tbody></table>
<p>{MANIFEST} lists the SHA-256 of every file of this bundle; check it with
<code>lambda-vpc-rules verify-evidence DIR</code>.</p>
</body></html>
"""


def _share(tally: DayTally) -> str:
    share = tally.compliant_share
    return "n/a" if share is None else f"{share:.1%}"


def write_period_bundle(out_dir: str | Path, result: PeriodResult, sources: PeriodSources, generated_at: str,
                        caller: Mapping[str, str], deployment: Mapping[str, Any] | None = None) -> Path:
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(p.name not in (*PERIOD_FILES, MANIFEST) for p in out.iterdir())):
        raise EvidenceError(f"{out} is not an empty directory or an earlier period bundle: choose another")
    out.mkdir(parents=True, exist_ok=True)
    contents = {
        "timeline.json": timeline_json(result, sources),
        "population.csv": population_csv(result),
        "non-compliant.csv": non_compliant_csv(result),
        "exceptions.csv": exceptions_csv(result),
        "oscal-assessment-results.json": json.dumps(oscal_assessment_results(result, generated_at, sources),
                                                    indent=2) + "\n",
    }
    contents["report.html"] = report_html(result, sources, generated_at, {
        name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in contents.items()}, deployment)
    for name, text in contents.items():
        (out / name).write_text(text, encoding="utf-8")
    manifest = {
        "tool": "lambda-vpc-rules", "tool_version": __version__, "kind": "period",
        "collected_at": generated_at, "caller_identity": dict(caller),
        "period": {"from": iso(result.period.start), "to": iso(result.period.end)},
        "sources": sources.as_dict(),
        "rule_versions": {rule.config_rule_name: rule_version(rule.config_rule_name) for rule in RULES},
        "population": len(result.population), "run_gap_days": len(result.run_gaps),
        "deployment": None if deployment is None else dict(deployment),
        "files": [file_entry(out / name, name) for name in PERIOD_FILES],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out / MANIFEST
