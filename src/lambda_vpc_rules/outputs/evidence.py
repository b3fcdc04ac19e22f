"""An evidence bundle for auditors: the evaluations as JSON and CSV, a self-contained HTML report with a
compliance chart, and a manifest with the SHA-256 of each file, when and by whom it was collected, the
accounts and regions covered and the tool and rule versions. `verify_bundle` re-checks it."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.model import Compliance, EvaluationResult, ScanReport
from ..core.rules import RULES, metadata_for, rule_version
from ..errors import PackError
from .report import FIELDS

MANIFEST = "manifest.json"
FILES = ("evaluations.json", "evaluations.csv", "report.html")
ROW_FIELDS = ("account_id", "region", *FIELDS)
COLOURS = {Compliance.COMPLIANT: "#2e7d32", Compliance.NON_COMPLIANT: "#c62828", Compliance.NOT_APPLICABLE: "#9e9e9e"}


def identity(caller: Mapping[str, Any]) -> dict[str, str]:
    """Who collected the evidence: sts:GetCallerIdentity's Account, Arn and UserId."""
    return {key: caller[key] for key in ("Account", "Arn", "UserId")}


@dataclass(frozen=True)
class RuleParameters:
    rule: str  # the pack's rule
    parameters: Mapping[str, Any]  # what it evaluated with
    config_rule: str | None = None  # the AWS Config rule that did, for evaluations read from AWS Config

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "config_rule": self.config_rule, "parameters": dict(self.parameters)}


@dataclass(frozen=True)
class Evidence:
    collected_at: str  # ISO 8601, UTC
    source: str  # "scan" | "config" | "aggregator:<name>"
    caller: dict[str, str]  # sts:GetCallerIdentity: Account, Arn, UserId
    rows: Sequence[EvaluationResult]  # each with its account and region
    rule_parameters: Sequence[RuleParameters] | None  # None: not known (an aggregator does not tell them)

    @classmethod
    def from_scan(cls, report: ScanReport, source: str, caller: dict[str, str]) -> Evidence:
        return cls(report.generated_at, source, caller, report.evaluations,
                   [RuleParameters(rule, values) for rule, values in report.rule_parameters.items()])

    @property
    def accounts(self) -> list[str]:
        return sorted({result.account_id for result in self.rows if result.account_id})

    @property
    def regions(self) -> list[str]:
        return sorted({result.region for result in self.rows if result.region})

    def row_dicts(self) -> list[dict[str, str]]:
        return [{"account_id": result.account_id, "region": result.region, **result.as_dict()} for result in self.rows]


def evaluations_json(evidence: Evidence) -> str:
    document = {"collected_at": evidence.collected_at, "source": evidence.source, "evaluations": evidence.row_dicts()}
    return json.dumps(document, indent=2) + "\n"


def evaluations_csv(evidence: Evidence) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(evidence.row_dicts())
    return buffer.getvalue()


def _counts(evidence: Evidence) -> dict[str, Counter]:
    counts: dict[str, Counter] = {rule.config_rule_name: Counter() for rule in RULES}
    for result in evidence.rows:
        counts.setdefault(result.rule, Counter())[result.compliance] += 1
    return counts


def compliance_chart(counts: dict[str, Counter]) -> str:
    """One horizontal stacked bar per rule (compliant, non-compliant, not applicable), inline SVG."""
    bar_width, row, label = 420, 34, 230
    height = row * len(counts) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Compliance by rule" '
             f'width="{label + bar_width + 60}" height="{height}" font-family="sans-serif" font-size="13">']
    for index, (rule, counter) in enumerate(counts.items()):
        y = 10 + index * row
        total = sum(counter.values())
        parts.append(f'<text x="0" y="{y + 17}">{html.escape(rule)}</text>')
        x = float(label)
        for compliance in Compliance:
            count = counter.get(compliance, 0)
            if not count:
                continue
            width = bar_width * count / total
            parts.append(f'<rect class="{compliance.value}" x="{x:.1f}" y="{y}" width="{width:.1f}" height="24" '
                         f'fill="{COLOURS[compliance]}"><title>{compliance.value}: {count}</title></rect>')
            if width > 18:
                centre = x + width / 2
                parts.append(f'<text x="{centre:.1f}" y="{y + 17}" fill="#fff" text-anchor="middle">{count}</text>')
            x += width
        if not total:
            parts.append(f'<text x="{label}" y="{y + 17}" fill="#555">no evaluations</text>')
    legend_y = height - 12
    for index, compliance in enumerate(Compliance):
        x = label + index * 150
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS[compliance]}"/>'
                     f'<text x="{x + 16}" y="{legend_y}">{compliance.value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _parameters_html(evidence: Evidence, rule: str) -> str:
    e = html.escape
    if evidence.rule_parameters is None:
        return "<p><strong>Parameters:</strong> not known (a Config aggregator does not report them).</p>"
    lines = []
    for entry in (p for p in evidence.rule_parameters if p.rule == rule):
        values = ", ".join(f"{name}={value}" for name, value in sorted(entry.parameters.items())) or "none"
        where = f" (AWS Config rule {entry.config_rule})" if entry.config_rule else ""
        lines.append(f'<p class="parameters"><strong>Parameters{e(where)}:</strong> <code>{e(values)}</code></p>')
    return "".join(lines)


def report_html(evidence: Evidence) -> str:
    counts = _counts(evidence)
    e = html.escape
    summary_rows = "".join(
        f"<tr><td>{e(rule)}</td><td>{e(metadata_for(rule).severity)}</td>"
        + "".join(f'<td class="num">{counter.get(c, 0)}</td>' for c in Compliance)
        + "</tr>"
        for rule, counter in counts.items()
    )
    failing = [res for res in evidence.rows if res.compliance is Compliance.NON_COMPLIANT]
    finding_rows = "".join(
        f"<tr><td>{e(res.account_id)}</td><td>{e(res.region)}</td><td>{e(res.rule)}</td><td>{e(res.resource_id)}</td>"
        f"<td>{e(res.annotation)}</td></tr>"
        for res in failing
    ) or '<tr><td colspan="5">None.</td></tr>'
    rules_text = "".join(
        f"<h3>{e(rule.config_rule_name)}: {e(metadata_for(rule.config_rule_name).title)}</h3>"
        f"<p>{e(metadata_for(rule.config_rule_name).risk)}</p>"
        f"<p><strong>Remediation:</strong> {e(metadata_for(rule.config_rule_name).remediation['text'])}</p>"
        f"{_parameters_html(evidence, rule.config_rule_name)}"
        for rule in RULES
    )
    totals = Counter(res.compliance for res in evidence.rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lambda-vpc-rules evidence report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 4px 8px; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; }}
th {{ background: #eee; }}
@media print {{ body {{ margin: 0; }} h2 {{ break-before: auto; }} tr {{ break-inside: avoid; }} }}
</style></head>
<body>
<h1>Lambda VPC configuration: evidence report</h1>
<p>Collected {e(evidence.collected_at)} from {e(evidence.source)} by {e(evidence.caller.get("Arn", "unknown"))}.
Accounts: {e(", ".join(evidence.accounts) or "none")}. Regions: {e(", ".join(evidence.regions) or "none")}.
lambda-vpc-rules {e(__version__)}.</p>
<p id="totals">{len(evidence.rows)} evaluations: {totals.get(Compliance.COMPLIANT, 0)} COMPLIANT,
{totals.get(Compliance.NON_COMPLIANT, 0)} NON_COMPLIANT, {totals.get(Compliance.NOT_APPLICABLE, 0)} NOT_APPLICABLE.</p>
<h2>Compliance by rule</h2>
{compliance_chart(counts)}
<table id="summary"><thead><tr><th>Rule</th><th>Severity</th><th>COMPLIANT</th><th>NON_COMPLIANT</th>
<th>NOT_APPLICABLE</th></tr></thead><tbody>{summary_rows}</tbody></table>
<h2>Non-compliant functions</h2>
<table id="findings"><thead><tr><th>Account</th><th>Region</th><th>Rule</th><th>Function</th><th>Why</th></tr></thead>
<tbody>{finding_rows}</tbody></table>
<h2>The rules</h2>
{rules_text}
<p>Files of this bundle and their SHA-256 are listed in {MANIFEST}; check them with
<code>lambda-vpc-rules verify-evidence DIR</code>.</p>
</body></html>
"""


class EvidenceError(PackError):
    """A bundle that cannot be written as asked; the message says why."""


def file_entry(path: Path, name: str) -> dict[str, object]:
    data = path.read_bytes()
    return {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_bundle(out_dir: str | Path, evidence: Evidence) -> Path:
    """Write the bundle into `out_dir`, new or holding only an earlier bundle (whose files it replaces):
    anything else there would make the bundle fail its own verification."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise EvidenceError(f"{out} exists and is not a directory")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in (*FILES, MANIFEST)) if out.exists() else []
    if foreign:
        raise EvidenceError(f"{out} holds files that are not part of a bundle ({', '.join(foreign[:5])}"
                            f"{', ...' if len(foreign) > 5 else ''}): choose an empty or new directory")
    out.mkdir(parents=True, exist_ok=True)
    contents = {"evaluations.json": evaluations_json(evidence), "evaluations.csv": evaluations_csv(evidence),
                "report.html": report_html(evidence)}
    for name, text in contents.items():
        (out / name).write_text(text, encoding="utf-8")
    manifest = {
        "tool": "lambda-vpc-rules",
        "tool_version": __version__,
        "collected_at": evidence.collected_at,
        "source": evidence.source,
        "caller_identity": evidence.caller,
        "accounts": evidence.accounts,
        "regions": evidence.regions,
        "rule_versions": {rule.config_rule_name: rule_version(rule.config_rule_name) for rule in RULES},
        "rule_parameters": (None if evidence.rule_parameters is None
                            else [entry.as_dict() for entry in evidence.rule_parameters]),
        "files": [file_entry(out / name, name) for name in FILES],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out / MANIFEST


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"path", "sha256", "bytes"}:
        return 'not {"path", "sha256", "bytes"}'
    path, digest, size = entry["path"], entry["sha256"], entry["bytes"]
    if not isinstance(path, str) or path in ("", ".", "..", MANIFEST) or Path(path).name != path:
        return f"path {path!r} is not the name of a file in the bundle"
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        return f"{path}: sha256 is not 64 lowercase hex digits"
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return f"{path}: bytes is not a non-negative integer"
    return None


def verify_bundle(bundle: str | Path, manifest_sha256: str | None = None) -> list[str]:
    """Problems found, empty when every listed file is present and unchanged, the bundle's files are all
    listed, and nothing else was added; with `manifest_sha256` (recorded when the bundle was written),
    the manifest itself must match it too."""
    bundle = Path(bundle)
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"{MANIFEST} unreadable: {error}"]
    problems = []
    if manifest_sha256 is not None:
        actual = file_entry(bundle / MANIFEST, MANIFEST)["sha256"]
        if actual != manifest_sha256.lower():
            problems.append(f"{MANIFEST}: changed (sha256 {actual}, recorded {manifest_sha256})")
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, list):
        return [*problems, f'{MANIFEST}: no "files" list']
    names = {MANIFEST}
    for index, entry in enumerate(listed):
        if (problem := _entry_problem(entry)) is not None:
            problems.append(f"{MANIFEST}: files[{index}]: {problem}")
            continue
        names.add(entry["path"])
        path = bundle / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        actual = file_entry(path, entry["path"])
        if actual["sha256"] != entry["sha256"] or actual["bytes"] != entry["bytes"]:
            problems.append(f"{entry['path']}: changed (sha256 {actual['sha256']}, expected {entry['sha256']})")
    unlisted = [name for name in FILES if name not in names]  # a bundle always lists these
    problems += [f"{name}: not listed in {MANIFEST}" for name in unlisted]
    problems += [f"{p.name}: not in the manifest" for p in sorted(bundle.iterdir())
                 if p.name not in names and p.name not in unlisted]
    return problems
