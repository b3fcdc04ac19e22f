"""An evidence bundle for auditors: the evaluations as JSON and CSV (each with its account, region and
recorded time), a self-contained HTML report, and a manifest with the SHA-256 of each file, when and by whom
it was collected, the coverage (accounts x regions expected, covered, missing and why), AWS Config's rule
evaluation status, the waivers in force, and the tool and rule versions. `verify_bundle` re-checks it.

The report: scope and coverage, a chart and summary per rule, the non-compliant functions, the compliant
ones (collapsed on screen, printed in full: `details::details-content` is made visible in print), the
waivers, per rule its control mapping (metadata) and status, the limitations, the bundle identity (the data
files' digests: the report cannot hold its own, nor the manifest's, which hashes the report) and a sign-off
block. Print: `@page` margin boxes carry a running header and "Page N of M" (Chromium 131+); IDs never wrap.
Only functions' evaluations are rows; AWS Config's evaluations of other resource types (drift's
NOT_APPLICABLE on a subnet) are counted in the manifest.

With an exceptions register (`evidence --exceptions FILE`): the register file itself is in the bundle
(`exceptions-register.yaml` or `.json`, hashed in the manifest like every file), the manifest's
`exceptions_register` carries its version and SHA-256 and every exception with its state (in force, expiring,
expired), what it covered during the run and whether it is stale; the report has a section listing them, the
expired ones with the functions they no longer except."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..aws.config import ConfigView, RuleStatus
from ..core.coverage import Coverage
from ..core.model import LAMBDA_RESOURCE_TYPE, Compliance, EvaluationResult, ScanReport, Waiver
from ..core.rules import RULES, metadata_for, rule_version
from ..errors import PackError
from .remediations import REMEDIATIONS_FILE, remediations_html, remediations_json
from .report import EXCEPTION_FIELDS, ROW_FIELDS, ordered, row, safe_rows
from .signing import SIGNATURE

MANIFEST = "manifest.json"
FILES = ("evaluations.json", "evaluations.csv", "report.html")
# the files of an audit period's bundle (outputs/period.py), whose manifest says `"kind": "period"`
PERIOD_FILES = ("timeline.json", "population.csv", "non-compliant.csv", "exceptions.csv",
                "oscal-assessment-results.json", "report.html")
REGISTER_FILES = ("exceptions-register.yaml", "exceptions-register.json")  # at most one, when a register was used
COLOURS = {Compliance.COMPLIANT: "#2e7d32", Compliance.NON_COMPLIANT: "#c62828", Compliance.NOT_APPLICABLE: "#9e9e9e"}


def identity(caller: Mapping[str, Any]) -> dict[str, str]:
    """Who collected the evidence: sts:GetCallerIdentity's Account, Arn and UserId."""
    return {key: caller[key] for key in ("Account", "Arn", "UserId")}


@dataclass(frozen=True)
class RuleParameters:
    rule: str  # the pack's rule
    parameters: Mapping[str, Any]  # what it evaluated with
    config_rule: str | None = None  # the AWS Config rule that did, for evaluations read from AWS Config
    where: tuple[str, ...] = ()  # "account region" of each deployment with these parameters (many accounts)

    def as_dict(self) -> dict[str, Any]:
        document = {"rule": self.rule, "config_rule": self.config_rule, "parameters": dict(self.parameters)}
        return {**document, "where": list(self.where)} if self.where else document


class NothingToEvidence(PackError):
    """Nothing was collected (no rule deployed, no evaluation anywhere read): no bundle is written, since a
    report of nothing would read as a clean one."""


@dataclass(frozen=True)
class Evidence:
    collected_at: str  # ISO 8601, UTC
    source: str  # "scan" | "config" | "aggregator:<name>"
    caller: dict[str, str]  # sts:GetCallerIdentity: Account, Arn, UserId
    rows: Sequence[EvaluationResult]  # each with its account, region and recorded time; functions only
    rule_parameters: Sequence[RuleParameters] | None  # None: not known (an aggregator does not tell them)
    coverage: Coverage | None = None  # the accounts and regions expected, and which were covered
    rule_statuses: Sequence[RuleStatus] | None = None  # AWS Config's evaluation status; None: not collected
    # evaluations AWS Config holds on other resource types (the NOT_APPLICABLE that drift puts on a changed
    # subnet, route table or role): counted, not rows
    other_evaluations: Mapping[str, int] = field(default_factory=dict)
    waivers: Sequence[Waiver] | None = None  # the waiver tags in force; None: not known
    remediations: Sequence[Mapping[str, Any]] | None = None  # `remediate`'s records; None: not included
    exceptions: Any = None  # the exceptions register's use in this run (core.exceptions.RegisterUse); None: none
    register_file: tuple[str, bytes] | None = None  # (one of REGISTER_FILES, the register file's bytes)
    # what the deployment enforces (stack_name, organization, region, code_signing, hook: `status`'s statements);
    # None: not read (`evidence --deployment STACK` reads it)
    deployment: Mapping[str, Any] | None = None

    @classmethod
    def from_scan(cls, report: ScanReport, source: str, caller: dict[str, str]) -> Evidence:
        return cls(report.generated_at, source, caller, report.evaluations,
                   [RuleParameters(rule, values) for rule, values in report.rule_parameters.items()],
                   report.coverage, waivers=report.waivers, exceptions=report.exceptions)

    @classmethod
    def from_config(cls, collected_at: str, source: str, caller: dict[str, str], views: Iterable[ConfigView],
                    coverage: Coverage | None, many: bool = False) -> Evidence:
        """AWS Config's views of one or many account-regions: the functions' evaluations are the rows."""
        views = list(views)
        # views arrive as account-regions finish (concurrently): the rows in a stable order
        evaluations = sorted((e for view in views for e in view.evaluations),
                             key=lambda r: (r.account_id, r.region, r.rule, r.resource_type, r.resource_id))
        parameters: dict[tuple[str, str, str], list[str]] = {}
        for view in views:
            for deployed in view.deployed:
                key = (deployed.rule, deployed.name, json.dumps(deployed.parameters, sort_keys=True))
                parameters.setdefault(key, []).extend(
                    f"{s.account_id} {s.region}" for s in view.statuses if s.config_rule == deployed.name)
        rows, others = split_rows(evaluations)
        return cls(
            collected_at, source, caller, rows,
            [RuleParameters(rule, json.loads(values), name, tuple(sorted(set(where))) if many else ())
             for (rule, name, values), where in sorted(parameters.items())],
            coverage, sorted((status for view in views for status in view.statuses),
                             key=lambda s: (s.account_id, s.region, s.config_rule)), others)

    @property
    def accounts(self) -> list[str]:
        found = {result.account_id for result in self.rows if result.account_id}
        return sorted(found | set(self.coverage.account_ids if self.coverage else ()))

    @property
    def regions(self) -> list[str]:
        found = {result.region for result in self.rows if result.region}
        return sorted(found | set(self.coverage.regions_seen if self.coverage else ()))

    def row_dicts(self) -> list[dict[str, str]]:
        return [row(result, self.exceptions is not None) for result in ordered(self.rows)]


def split_rows(evaluations: Iterable[EvaluationResult]) -> tuple[list[EvaluationResult], dict[str, int]]:
    """The functions' evaluations, and how many evaluations there are of each other resource type."""
    rows, others = [], Counter()
    for evaluation in evaluations:
        if evaluation.resource_type == LAMBDA_RESOURCE_TYPE:
            rows.append(evaluation)
        else:
            others[evaluation.resource_type] += 1
    return rows, dict(sorted(others.items()))


def evaluations_json(evidence: Evidence) -> str:
    document = {"collected_at": evidence.collected_at, "source": evidence.source,
                "coverage": evidence.coverage.as_dict() if evidence.coverage else None,
                "evaluations": evidence.row_dicts()}
    return json.dumps(document, indent=2) + "\n"


def evaluations_csv(evidence: Evidence) -> str:
    buffer = io.StringIO()
    # RFC 4180 line ends (and so a cell holding a CR is quoted)
    writer = csv.DictWriter(buffer, fieldnames=ROW_FIELDS + (EXCEPTION_FIELDS if evidence.exceptions else ()),
                            lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(safe_rows(evidence.row_dicts()))  # no cell a spreadsheet reads as a formula
    return buffer.getvalue()


def _totals(evidence: Evidence) -> dict[Compliance, int]:
    counts = Counter(result.compliance for result in evidence.rows)
    return {c: counts.get(c, 0) for c in Compliance}


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


LIMITATIONS = (
    "Session policies are not evaluated. Service control policies (SCPs) are evaluated only in an organization "
    "scan (--accounts), where each ENI-permission verdict says whether the account's SCP chain was considered; "
    "elsewhere (one account, AWS Config's rules) an SCP can still deny what the role allows. Resource control "
    "policies (RCPs) cannot reach EC2's network-interface requests (docs/scp.md).",
    "An Allow statement with a Condition counts as granting the ENI permissions only if it holds whatever the "
    "request-context keys the pack cannot know are; a Deny counts if it could hold.",
    "Security groups, network ACLs and VPC endpoint policies are not evaluated; the private-subnet rule judges "
    "the route tables, NAT gateways and internet gateways only.",
    "Verdicts describe the configuration when it was read (each row's recorded time), not before or after.",
)
CONFIG_LIMITATIONS = (
    "Rows read from AWS Config are the verdicts AWS Config holds, recorded at each row's ResultRecordedTime; "
    "a function changed since then is judged as it was.",
    "AWS documents that DescribeConfigRuleEvaluationStatus does not return status information for Custom "
    "Lambda rules, which these are: a rule without a reported status is shown as such, neither as a success "
    "nor as a failure.",
)
CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; font-size: 14px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 2px; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; }
th, td { border: 1px solid #bbb; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; }
.id, td.id, th.id { white-space: nowrap; font-family: monospace; font-size: 0.95em; }
.why { min-width: 18em; }
.gap { color: #b71c1c; font-weight: bold; }
.ok { color: #1b5e20; font-weight: bold; }
.muted { color: #555; }
.signoff td { height: 2.2em; min-width: 16em; }
.signoff th { width: 12em; }
@page {
  size: A4;
  margin: 16mm 12mm 16mm 12mm;
  @top-left { content: "lambda-vpc-rules evidence report"; font: 9px sans-serif; color: #555; }
  @top-right { content: "RUNNING_HEADER"; font: 9px sans-serif; color: #555; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 9px sans-serif; color: #555; }
}
@media print {
  body { margin: 0; font-size: 11px; }
  h2 { break-after: avoid; }
  tr, .signoff { break-inside: avoid; }
  thead { display: table-header-group; }
  details > summary { list-style: none; }
  details::details-content { content-visibility: visible; display: block; }
  .screen-only { display: none; }
}
"""


def _css_string(text: str) -> str:
    """Text safe inside a CSS string in a <style> element."""
    return "".join(ch if ch.isalnum() or ch in " .:-_+,/()" else " " for ch in text)


def _id(text: str) -> str:
    return f'<td class="id">{html.escape(text)}</td>'


def _table(table_id: str, headers: Sequence[str], rows: Iterable[str], empty: str, id_columns: int = 0) -> str:
    head = "".join(f'<th{" class=id" if i < id_columns else ""}>{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join(rows) or f'<tr><td colspan="{len(headers)}">{html.escape(empty)}</td></tr>'
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _result_rows(results: Iterable[EvaluationResult]) -> list[str]:
    e = html.escape
    return [f"<tr>{_id(r.account_id)}{_id(r.region)}{_id(r.rule)}{_id(r.resource_id)}"
            f'<td class="why">{e(r.annotation)}</td>{_id(r.recorded_at or "not recorded")}</tr>' for r in results]


def _coverage_html(evidence: Evidence) -> str:
    e = html.escape
    coverage = evidence.coverage
    if coverage is None:
        return ("<p class=gap>Coverage not recorded: the accounts and regions this evidence was expected to cover "
                "are not known.</p>")
    state = ("" if coverage.complete
             else f' <span class="gap">Coverage INCOMPLETE: {len(coverage.gaps)} not covered.</span>')
    parts = [f'<p id="coverage-statement" class="{"ok" if coverage.complete else ""}">{e(coverage.statement())}'
             f"{state}</p>",
             f"<ul><li>Accounts: {e(coverage.accounts)}.</li><li>Regions: {e(coverage.regions)}.</li>"
             + "".join(f"<li>{e(note)}</li>" for note in coverage.notes) + "</ul>"]
    parts.append("<h3>Not covered</h3>" + _table(
        "not-covered", ("Account", "Region", "Why not"),
        (f"<tr>{_id(g.account_id)}{_id('every region' if g.region == '*' else g.region)}"
         f'<td class="why">{e(g.reason)}</td></tr>' for g in coverage.gaps), "None: every account-region expected "
        "was covered.", 2))
    if coverage.left_out:
        parts.append("<h3>Left out (not expected)</h3>" + _table(
            "left-out", ("Account", "Why"), (f"<tr>{_id(x.account_id)}<td>{e(x.reason)}</td></tr>"
                                             for x in coverage.left_out), "", 1))
    covered = len(coverage.covered)
    parts.append(f'<details id="covered"><summary>{covered} account-region{"" if covered == 1 else "s"} covered '
                 "(when each was read)</summary>" + _table(
                     "covered-table", ("Account", "Region", "Read at", "Items"),
                     (f"<tr>{_id(c.account_id)}{_id(c.region)}{_id(c.read_at)}<td class=num>{c.items}</td></tr>"
                      for c in coverage.covered), "None.", 3) + "</details>")
    return "".join(parts)


def _controls_html(rule: str) -> str:
    e = html.escape
    controls = metadata_for(rule).related_controls
    rows = "".join(f"<tr><td>{e(c['framework'])}</td>{_id(c['id'])}<td>{e(c.get('title', ''))}</td></tr>"
                   for c in controls)
    return (f'<table class="controls"><thead><tr><th>Framework</th><th class=id>Control</th><th>Title</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def _statuses_html(evidence: Evidence, rule: str) -> str:
    e = html.escape
    if evidence.rule_statuses is None:
        return ""
    statuses = [s for s in evidence.rule_statuses if s.rule == rule]
    if not statuses:
        return "<p><strong>Evaluation status:</strong> not deployed where collected.</p>"
    rows = []
    for s in statuses:
        if not s.reported:
            detail = '<td colspan="3" class="muted">AWS Config reported no evaluation status for this rule</td>'
        else:
            detail = (f"{_id(s.last_successful_evaluation or 'never')}{_id(s.last_failed_evaluation or 'never')}"
                      f"<td>{e(s.last_error or 'none')}</td>")
        rows.append(f"<tr>{_id(s.account_id)}{_id(s.region)}{_id(s.config_rule)}{detail}</tr>")
    return ("<p><strong>Evaluation status (DescribeConfigRuleEvaluationStatus):</strong></p>" + _table(
        f"status-{rule}", ("Account", "Region", "AWS Config rule", "Last successful evaluation",
                           "Last failed evaluation", "Last error"), rows, "", 3))


def _waivers_html(evidence: Evidence) -> str:
    if evidence.waivers is None:
        return ("<p>Not known: the waiver tag is read by a scan with lambda-vpc-private-subnet-nat; AWS Config's "
                "evaluations do not carry the functions' tags.</p>")
    return ("<p>Functions tagged <code>lambda-vpc-rules:internet-access=none</code>: lambda-vpc-private-subnet-nat "
            "asks only that their subnets be private, not that they reach the internet.</p>" + _table(
                "waivers", ("Account", "Region", "Function", "Tag"),
                (f"<tr>{_id(w.account_id)}{_id(w.region)}{_id(w.resource_id)}{_id(f'{w.tag}={w.value}')}</tr>"
                 for w in evidence.waivers), "None in force.", 4))


def _exceptions_html(evidence: Evidence) -> str:
    e = html.escape
    use = evidence.exceptions
    if use is None:
        return "<p>No exceptions register was given for this evidence.</p>"
    document = use.as_dict()
    head = (f'<p id="register">Register version <span class="id">{e(document["version"])}</span>, SHA-256 '
            f'<span class="id">{e(document["sha256"])}</span>, evaluated at {e(document["evaluated_at"])}'
            + (f"; the file is <code>{e(evidence.register_file[0])}</code> in this bundle" if evidence.register_file
               else "") + ". Excepted functions stay NON_COMPLIANT above, their annotation naming the exception."
            + (" The register requires an exception to back the internet-access tag."
               if document["require_exception_for_tags"] else "") + "</p>")
    rows = []
    for entry in document["exceptions"]:
        covered = "; ".join(f"{c['account_id']} {c['region']} {c['rule']} {c['resource_id']}" for c in entry["covered"])
        state = entry["state"] + (", stale (covers nothing failing)" if entry["stale"] else "")
        rules = entry["rules"] if isinstance(entry["rules"], str) else ", ".join(entry["rules"])
        control = (f"<br>Compensating control: {e(entry['compensating_control'])}"
                   if entry.get("compensating_control") else "")
        rows.append(f"<tr>{_id(entry['id'])}<td class=\"{'gap' if entry['state'] == 'expired' else ''}\">"
                    f"{e(state)}</td>{_id(entry['expires'])}<td>{e(rules)}</td><td>{e(entry['owner'])}</td>"
                    f"<td>{e(entry['approver'])}</td><td>{e(entry['ticket'])}</td><td class=why>{e(entry['reason'])}"
                    f"{control}"
                    f"</td><td>{e(covered or 'nothing')}</td></tr>")
    expired = [x for x in document["exceptions"] if x["state"] == "expired"]
    tail = "".join(f"<p class=gap>Exception {e(x['id'])} expired {e(x['expires'])}: {len(x['covered'])} "
                   "function verdict(s) it covered fail again.</p>" for x in expired)
    return head + _table("exceptions", ("Id", "State", "Expires", "Rules", "Owner", "Approver", "Ticket",
                                        "Reason", "Covered in this run (NON_COMPLIANT)"), rows, "None.", 1) + tail


def deployment_html(deployment: Mapping[str, Any] | None, when: str = "at collection") -> str:
    """What the deployment enforces (code signing, the hook) as read `when`; or that it was not read. Shared by
    the snapshot and the period reports."""
    if deployment is None:
        return ('<p id="deployment">Not read: this bundle does not state whether the deployment enforces code '
                "signing or judges functions before they exist (CloudFormation hook). <code>lambda-vpc-rules "
                "evidence --deployment STACK</code> reads them, as <code>status</code> does.</p>")
    e = html.escape
    kind = "StackSet" if deployment.get("organization") else "functions stack"
    return (f'<p id="deployment">Deployment <span class="id">{e(str(deployment.get("stack_name")))}</span>, read '
            f'from its {kind} in {e(str(deployment.get("region")))} {e(when)}:</p><ul>'
            f'<li>{e(str(deployment.get("code_signing")))}</li><li>{e(str(deployment.get("hook")))}</li></ul>')


def report_html(evidence: Evidence, data_digests: Mapping[str, str] | None = None) -> str:
    """The auditor's report. `data_digests`: the SHA-256 of the bundle's data files (the report cannot hold
    its own digest, nor the manifest's, which hashes the report)."""
    counts = _counts(evidence)
    e = html.escape
    summary_rows = "".join(
        f"<tr>{_id(rule)}<td>{e(metadata_for(rule).severity)}</td>"
        + "".join(f'<td class="num">{counter.get(c, 0)}</td>' for c in Compliance)
        + "</tr>"
        for rule, counter in counts.items()
    )
    rows = ordered(evidence.rows)
    failing = [r for r in rows if r.compliance is Compliance.NON_COMPLIANT]
    passing = [r for r in rows if r.compliance is Compliance.COMPLIANT]
    not_applicable = [r for r in rows if r.compliance is Compliance.NOT_APPLICABLE]
    headers = ("Account", "Region", "Rule", "Function", "Why", "Recorded")
    rules_text = "".join(
        f'<section class="rule"><h3>{e(rule.config_rule_name)}: {e(metadata_for(rule.config_rule_name).title)}</h3>'
        f"<p>{e(metadata_for(rule.config_rule_name).risk)}</p>"
        f"<p><strong>Severity:</strong> {e(metadata_for(rule.config_rule_name).severity)}. "
        f"<strong>Remediation:</strong> {e(metadata_for(rule.config_rule_name).remediation['text'])}</p>"
        f"<p><strong>Controls:</strong></p>{_controls_html(rule.config_rule_name)}"
        f"{_parameters_html(evidence, rule.config_rule_name)}{_statuses_html(evidence, rule.config_rule_name)}"
        "</section>"
        for rule in RULES
    )
    totals = Counter(res.compliance for res in evidence.rows)
    limitations = LIMITATIONS + (CONFIG_LIMITATIONS if evidence.source != "scan" and
                                 not evidence.source.startswith("scan ") else ())
    others = "".join(f"<li>{e(kind)}: {n}</li>" for kind, n in evidence.other_evaluations.items())
    digests = "".join(f"<tr>{_id(name)}{_id(digest)}</tr>" for name, digest in (data_digests or {}).items())
    header = f"collected {evidence.collected_at} - {evidence.source}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lambda-vpc-rules evidence report</title>
<style>{CSS.replace("RUNNING_HEADER", _css_string(header))}</style></head>
<body>
<h1>Lambda VPC configuration: evidence report</h1>
<p id="collected">Collected {e(evidence.collected_at)}</p>
<p>Source: {e(evidence.source)}. Collected by {e(evidence.caller.get("Arn", "unknown"))}
(account {e(evidence.caller.get("Account", "unknown"))}). lambda-vpc-rules {e(__version__)}.
Accounts: <span class="id">{e(", ".join(evidence.accounts) or "none")}</span>.
Regions: <span class="id">{e(", ".join(evidence.regions) or "none")}</span>.</p>
<p id="totals">{len(evidence.rows)} evaluations: {totals.get(Compliance.COMPLIANT, 0)} COMPLIANT,
{totals.get(Compliance.NON_COMPLIANT, 0)} NON_COMPLIANT, {totals.get(Compliance.NOT_APPLICABLE, 0)} NOT_APPLICABLE.</p>
<h2>Scope and coverage</h2>
{_coverage_html(evidence)}
<h2>Deployment</h2>
{deployment_html(evidence.deployment)}
<h2>Compliance by rule</h2>
{compliance_chart(counts)}
<table id="summary"><thead><tr><th class=id>Rule</th><th>Severity</th><th>COMPLIANT</th><th>NON_COMPLIANT</th>
<th>NOT_APPLICABLE</th></tr></thead><tbody>{summary_rows}</tbody></table>
{f"<p>Evaluations AWS Config also holds on other resource types (not rows of this report): </p><ul>{others}</ul>"
 if others else ""}
<h2>Non-compliant functions</h2>
{_table("findings", headers, _result_rows(failing), "None.", 4)}
<h2>Compliant functions</h2>
<details id="compliant"><summary>{len(passing)} compliant evaluations
<span class="screen-only">(select to show; printed in full)</span></summary>
{_table("compliant-table", headers, _result_rows(passing), "None.", 4)}</details>
<p>{len(not_applicable)} NOT_APPLICABLE evaluations (functions outside a VPC) are in evaluations.csv and
evaluations.json.</p>
<h2>Waivers in force</h2>
{_waivers_html(evidence)}
<h2>Remediations</h2>
{remediations_html(evidence.remediations)}
<h2>Exceptions register</h2>
{_exceptions_html(evidence)}
<h2>The rules and their controls</h2>
{rules_text}
<h2>Limitations</h2>
<ul id="limitations">{"".join(f"<li>{e(text)}</li>" for text in limitations)}</ul>
<h2>Bundle identity</h2>
<p>SHA-256 of the data files of this bundle:</p>
<table id="digests"><thead><tr><th class=id>File</th><th class=id>SHA-256</th></tr></thead><tbody>{digests}</tbody>
</table>
<p>{MANIFEST} lists the SHA-256 of every file of the bundle, this report included; it cannot list its own.
The manifest's SHA-256 was printed by <code>lambda-vpc-rules evidence</code> when the bundle was written and
must be recorded outside the bundle (the audit ticket, a signed message). Check the bundle with
<code>lambda-vpc-rules verify-evidence DIR --manifest-sha256 HEX</code>. A bundle written with
<code>evidence --kms-key-id</code> also carries {SIGNATURE}, the manifest signed with an AWS KMS key:
<code>verify-evidence</code> checks it (kms:Verify, or <code>--public-key</code> offline) and names the key that
signed; without it, verification proves integrity only, not who produced the bundle.</p>
<h2>Reviewer sign-off</h2>
<table class="signoff"><tbody>
<tr><th>Reviewer</th><td></td></tr><tr><th>Role</th><td></td></tr>
<tr><th>Manifest SHA-256 checked</th><td></td></tr>
<tr><th>Decision</th><td>&#9744; accepted &nbsp; &#9744; accepted with exceptions &nbsp; &#9744; rejected</td></tr>
<tr><th>Exceptions / comments</th><td style="height:5em"></td></tr>
<tr><th>Date</th><td></td></tr><tr><th>Signature</th><td></td></tr>
</tbody></table>
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
    known = (*FILES, *REGISTER_FILES, MANIFEST, REMEDIATIONS_FILE, SIGNATURE)
    foreign = sorted(p.name for p in out.iterdir() if p.name not in known) if out.exists() else []
    if foreign:
        raise EvidenceError(f"{out} holds files that are not part of a bundle ({', '.join(foreign[:5])}"
                            f"{', ...' if len(foreign) > 5 else ''}): choose an empty or new directory")
    out.mkdir(parents=True, exist_ok=True)
    (out / SIGNATURE).unlink(missing_ok=True)  # an earlier bundle's signature is not this one's
    contents = {"evaluations.json": evaluations_json(evidence), "evaluations.csv": evaluations_csv(evidence)}
    if evidence.remediations is not None:
        contents[REMEDIATIONS_FILE] = remediations_json(evidence.remediations)
    (out / REMEDIATIONS_FILE).unlink(missing_ok=True)  # an earlier bundle's
    contents["report.html"] = report_html(evidence, {name: hashlib.sha256(text.encode("utf-8")).hexdigest()
                                                     for name, text in contents.items()})
    for name, text in contents.items():
        (out / name).write_text(text, encoding="utf-8")
    for name in REGISTER_FILES:  # an earlier bundle's register is replaced, or removed when none is given now
        (out / name).unlink(missing_ok=True)
    if evidence.register_file:
        (out / evidence.register_file[0]).write_bytes(evidence.register_file[1])
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
        "coverage": evidence.coverage.as_dict() if evidence.coverage else None,
        "rule_evaluation_status": (None if evidence.rule_statuses is None
                                   else [status.as_dict() for status in evidence.rule_statuses]),
        "waivers": (None if evidence.waivers is None else [w.__dict__ for w in evidence.waivers]),
        "evaluations": {"rows": len(evidence.rows), **{c.value: n for c, n in _totals(evidence).items()},
                        "other_resource_types_not_rows": dict(evidence.other_evaluations)},
        "remediations": None if evidence.remediations is None else len(evidence.remediations),
        "deployment": None if evidence.deployment is None else dict(evidence.deployment),
        "exceptions_register": (None if evidence.exceptions is None else {
            "file": evidence.register_file[0] if evidence.register_file else None, **evidence.exceptions.as_dict()}),
        "files": [file_entry(out / name, name) for name in (*FILES, *([REMEDIATIONS_FILE] if REMEDIATIONS_FILE
                                                                         in contents else []))]
        + ([file_entry(out / evidence.register_file[0], evidence.register_file[0])] if evidence.register_file else []),
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
    required = PERIOD_FILES if manifest.get("kind") == "period" else FILES
    unlisted = [name for name in required if name not in names]  # a bundle always lists these
    problems += [f"{name}: not listed in {MANIFEST}" for name in unlisted]
    problems += [f"{p.name}: not in the manifest" for p in sorted(bundle.iterdir())
                 if p.name not in names and p.name not in unlisted and p.name != SIGNATURE]  # signing.py
    return problems
