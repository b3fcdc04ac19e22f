"""What is deployed where: one row per account and region, read back from AWS (`deploy` ends with it,
`lambda-vpc-rules status` prints it).

Per row: the role stack (home region only: IAM is global), the functions stack, the conformance pack's deployment
status (the organization pack's status per member account: GetOrganizationConformancePackDetailedStatus), and
where they can be read, the pack's compliance (through the organization aggregator) and the rules' last
successful and failed evaluations (DescribeConfigRuleEvaluationStatus, the account status runs in). A row names
what failed; `failures()` is one line each.

The account status runs in also gets, per region, each pack rule's health (`rule_health`): its last successful
run (the newest ResultRecordedTime of its evaluations), its last failure (the function's Errors metric), and
whether the account-region is covered by the pack's own, recently evaluated rules (`aws.config.view_gaps`, the
test evidence and the organization scan apply): a rule whose source is not the pack's function or whose last
evaluation is older than its frequency allows is a failure of the row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ...aws.config import ConfigReader, NothingDeployed, last_evaluated, pack_rule_name, view_gaps
from ...aws.health import LOOKBACK_DAYS, last_failures
from ...core.rules import RULES, get_rule
from ...errors import PackError

STACK_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
STACK_BUSY = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
              "REVIEW_IN_PROGRESS")
PACK_OK = ("CREATE_SUCCESSFUL", "UPDATE_SUCCESSFUL", "CREATE_COMPLETE")
PACK_BUSY = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS")
INSTANCE_OK = ("SUCCEEDED",)
INSTANCE_BUSY = ("PENDING", "RUNNING")
INSTANCE_SKIPPED = ("SKIPPED_SUSPENDED_ACCOUNT",)
MISSING = "missing"
NOT_APPLICABLE = "-"


@dataclass
class Placement:
    """The pack in one account and region."""

    account: str
    region: str
    role: str = NOT_APPLICABLE  # the IAM stack (instance) status; home region only
    functions: str = MISSING  # the functions stack (instance) status
    pack: str = MISSING  # the conformance pack's deployment status
    detail: list[str] = field(default_factory=list)  # reasons AWS gave
    compliance: str = NOT_APPLICABLE  # the pack's compliance (aggregator), where read
    evaluations: str = NOT_APPLICABLE  # the rules' last evaluations, where read
    coverage: str = NOT_APPLICABLE  # covered by the pack's own, recently evaluated rules, where read
    rules: list[dict[str, Any]] = field(default_factory=list)  # each rule's last successful run and last failure
    failed: list[str] = field(default_factory=list)  # what failed, in words

    def failures(self) -> list[str]:
        return [f"{self.account} {self.region}: {what}" for what in self.failed]

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "role": self.role, "functions": self.functions,
                "pack": self.pack, "compliance": self.compliance, "evaluations": self.evaluations,
                "coverage": self.coverage, "rules": self.rules, "detail": "; ".join(self.detail),
                "failed": self.failed}


def judge(row: Placement, role_expected: bool, pack_expected: bool = True) -> Placement:
    """Fill `failed` from the statuses read: a failed or missing part is a failure; one still busy is not
    (an automatic deployment may be running), nor a suspended account that StackSets skips."""
    parts = [("functions", row.functions, True), ("pack", row.pack, pack_expected)]
    if role_expected:
        parts.insert(0, ("role", row.role, True))
    for name, status, expected in parts:
        if not expected or status in (*STACK_OK, *PACK_OK, *INSTANCE_OK, *STACK_BUSY, *PACK_BUSY, *INSTANCE_BUSY,
                                      *INSTANCE_SKIPPED, NOT_APPLICABLE):
            continue
        reason = next((d for d in row.detail if d.startswith(f"{name}:")), "")
        row.failed.append(f"{name} {status}" + (f" ({reason.split(':', 1)[1].strip()})" if reason else ""))
    return row


COLUMNS = ("ACCOUNT", "REGION", "ROLE", "FUNCTIONS", "PACK", "COMPLIANCE", "EVALUATIONS", "COVERAGE", "DETAIL")


def render_table(rows: Iterable[Placement]) -> str:
    """A plain-text table, failed rows marked with `!`."""
    lines = [list(COLUMNS)]
    for row in sorted(rows, key=lambda r: (r.account, r.region)):
        lines.append([("! " if row.failed else "  ") + row.account, row.region, row.role, row.functions, row.pack,
                      row.compliance, row.evaluations, row.coverage, "; ".join(row.detail)[:120]])
    lines[0][0] = "  " + lines[0][0]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join([*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)),
                                line[-1]]).rstrip() for line in lines) + "\n"


def summary(rows: list[Placement]) -> str:
    failed = sum(1 for row in rows if row.failed)
    accounts = len({row.account for row in rows})
    regions = len({row.region for row in rows})
    return f"{len(rows)} placements ({accounts} accounts x {regions} regions): {len(rows) - failed} ok, {failed} failed"


# ------------------------------------------------------------------------------------------ readers


def stack_status(cloudformation: Any, name: str) -> tuple[str, str]:
    """(status, reason) of a stack, MISSING if there is none."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return MISSING, ""
        raise
    stack = stacks[0]
    return stack["StackStatus"], stack.get("StackStatusReason") or ""


def pack_status(config: Any, pack_name: str) -> tuple[str, str]:
    """(state, reason) of a conformance pack in this account and region (DescribeConformancePackStatus)."""
    try:
        answer = config.describe_conformance_pack_status(ConformancePackNames=[pack_name])
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchConformancePackException":
            return MISSING, ""
        raise
    details = answer.get("ConformancePackStatusDetails") or []
    if not details:
        return MISSING, ""
    return details[0]["ConformancePackState"], details[0].get("ConformancePackStatusReason") or ""


def evaluation_summary(config: Any, rule_names: list[str] | None = None) -> str:
    """The pack's rules in this account and region: how many evaluated successfully last time, and the last
    error (DescribeConfigRuleEvaluationStatus, a page per 50 rules)."""
    wanted = [rule.config_rule_name for rule in RULES]
    statuses = []
    token: str | None = None
    while True:
        arguments: dict[str, Any] = {"Limit": 50}
        if rule_names:
            arguments = {"ConfigRuleNames": rule_names}
        if token:
            arguments["NextToken"] = token
        answer = config.describe_config_rule_evaluation_status(**arguments)
        statuses += [s for s in answer.get("ConfigRulesEvaluationStatus") or ()
                     if pack_rule_name(s["ConfigRuleName"], wanted)]
        token = answer.get("NextToken")
        if not token or rule_names:
            break
    if not statuses:
        return "no rules"
    ok = [s for s in statuses if s.get("LastSuccessfulEvaluationTime") and (
        not s.get("LastFailedEvaluationTime") or s["LastFailedEvaluationTime"] <= s["LastSuccessfulEvaluationTime"])]
    failing = [s for s in statuses if s not in ok and s.get("LastFailedEvaluationTime")]
    text = f"{len(ok)}/{len(statuses)} ok"
    if failing:
        last = max(failing, key=lambda s: s["LastFailedEvaluationTime"])
        text += f", last error {last.get('LastErrorCode') or '?'} ({pack_rule_name(last['ConfigRuleName'], wanted)})"
    elif len(ok) < len(statuses):
        text += ", not evaluated yet"
    return text


def account_placements(clients: Any, options: Any, regions: list[str], account_id: str,
                       with_evaluations: bool = False) -> list[Placement]:
    """One account: its stacks, and its conformance pack (or plain rules) in each region."""
    rows = []
    for region in regions:
        row = Placement(account_id, region)
        if region == clients.home_region:
            row.role, reason = stack_status(clients("cloudformation", region), options.iam_stack_name)
            if reason:
                row.detail.append(f"role: {reason}")
        row.functions, reason = stack_status(clients("cloudformation", region), options.stack_name)
        if reason:
            row.detail.append(f"functions: {reason}")
        config = clients("config", region)
        if options.mode == "rules":
            names = [rule.config_rule_name for rule in RULES]
            try:
                found = config.describe_config_rules(ConfigRuleNames=names)["ConfigRules"]
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchConfigRuleException":
                    raise
                found = []
            row.pack = f"{len(found)}/{len(names)} rules" if found else MISSING
            if len(found) == len(names):
                row.pack = "CREATE_COMPLETE"
        else:
            row.pack, reason = pack_status(config, options.pack_name)
            if reason:
                row.detail.append(f"pack: {reason}")
        if with_evaluations:
            row.evaluations = evaluation_summary(config)
            rule_health(row, lambda service, region=region: clients(service, region))
        rows.append(judge(row, role_expected=region == clients.home_region))
    return rows


def rule_health(row: Placement, client_for: Any, now: dt.datetime | None = None) -> Placement:
    """Each pack rule's last successful run and last failure in the row's account-region, and its coverage
    (module docstring). A read that fails is said in the row, never taken for health."""
    now = now or dt.datetime.now(dt.UTC)
    names = [rule.config_rule_name for rule in RULES]
    try:
        view = ConfigReader(client_for).view(names, row.account)
    except NothingDeployed:
        row.coverage = "no pack rule found (DescribeConfigRules)"
        return row
    except (ClientError, PackError) as error:
        row.coverage = "not read"
        row.failed.append(f"coverage not read: {error}")
        return row
    latest = last_evaluated(view.evaluations)
    try:
        failures = last_failures(client_for("cloudwatch"), [get_rule(d.rule).function_name for d in view.deployed],
                                 now)
        failure_note = None
    except (ClientError, PackError) as error:
        failures, failure_note = {}, f"not read ({error})"
    for deployed in view.deployed:
        function = get_rule(deployed.rule).function_name
        row.rules.append({
            "rule": deployed.rule, "config_rule": deployed.name,
            "last_successful_run": latest.get(deployed.rule),
            "last_failure": failure_note or failures.get(function) or f"none in the last {LOOKBACK_DAYS} days"})
    gaps = view_gaps(view, now.isoformat(timespec="seconds"))
    row.coverage = f"{len(view.deployed) - len(gaps)}/{len(view.deployed)} covered"
    row.failed += [f"coverage: {gap}" for gap in gaps]
    return row


def list_stack_instances(cloudformation: Any, stack_set: str, call_as: dict[str, str]) -> list[dict[str, Any]]:
    """Every instance of a StackSet (ListStackInstances, 100 a page); none if the StackSet does not exist."""
    instances: list[dict[str, Any]] = []
    token = None
    while True:
        arguments: dict[str, Any] = {"StackSetName": stack_set, "MaxResults": 100, **call_as}
        if token:
            arguments["NextToken"] = token
        try:
            answer = cloudformation.list_stack_instances(**arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] == "StackSetNotFoundException":
                return []
            raise
        instances += answer.get("Summaries") or []
        token = answer.get("NextToken")
        if not token:
            return instances


def instance_status(instance: dict[str, Any]) -> tuple[str, str]:
    detailed = (instance.get("StackInstanceStatus") or {}).get("DetailedStatus")
    status = detailed or instance.get("Status") or MISSING
    if instance.get("Status") == "OUTDATED" and detailed == "SUCCEEDED":
        status = "OUTDATED"
    return status, instance.get("StatusReason") or ""


def organization_pack_statuses(config: Any, pack_name: str) -> dict[str, dict[str, Any]] | None:
    """Member account -> its status for the organization pack (GetOrganizationConformancePackDetailedStatus,
    100 a page); None if there is no such pack in this region."""
    statuses: dict[str, dict[str, Any]] = {}
    token = None
    while True:
        arguments: dict[str, Any] = {"OrganizationConformancePackName": pack_name, "Limit": 100}
        if token:
            arguments["NextToken"] = token
        try:
            answer = config.get_organization_conformance_pack_detailed_status(**arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchOrganizationConformancePackException":
                return None
            raise
        for status in answer.get("OrganizationConformancePackDetailedStatuses") or ():
            statuses[status["AccountId"]] = status
        token = answer.get("NextToken")
        if not token:
            return statuses


def aggregate_compliance(config: Any, aggregator: str, pack_name: str) -> dict[tuple[str, str], str]:
    """(account, region) -> the pack's compliance, through the aggregator
    (DescribeAggregateComplianceByConformancePacks, 100 a page). An organization pack runs in each account as
    `OrgConformsPack-<name>-<id>`."""
    found: dict[tuple[str, str], str] = {}
    token = None
    while True:
        arguments: dict[str, Any] = {"ConfigurationAggregatorName": aggregator, "Limit": 100}
        if token:
            arguments["NextToken"] = token
        answer = config.describe_aggregate_compliance_by_conformance_packs(**arguments)
        for item in answer.get("AggregateComplianceByConformancePacks") or ():
            name = item.get("ConformancePackName") or ""
            if name == pack_name or name.startswith((f"OrgConformsPack-{pack_name}-", f"{pack_name}-")):
                compliance = (item.get("Compliance") or {}).get("ComplianceType") or "?"
                found[(item["AccountId"], item["AwsRegion"])] = compliance
        token = answer.get("NextToken")
        if not token:
            return found
