"""AWS Config's own view of the pack: which rules are deployed, their evaluation status, and the evaluations
AWS Config holds (for evidence, for Security Hub de-duplication, and for the scheduled run's stale-evaluation
clean-up).

Evaluation status (DescribeConfigRuleEvaluationStatus): AWS documents that the operation "does not return
status information about AWS Config Custom Lambda rules" (Config API reference, ConfigRuleEvaluationStatus),
which the pack's rules are. It is asked anyway, and whatever comes back is recorded; a rule without a status
is recorded as such (`RuleStatus.reported` false), never as a success or a failure.

Coverage (`view_gaps`): whether each deployed rule is the pack's own and recently evaluated is decided by
`core.coverage.rule_gap`, from the rule's source and frequency (DescribeConfigRules) and the newest
ResultRecordedTime of its evaluations (the evaluation status not being reported for these rules). The
evaluations of a rule whose source is not the pack's function are no verdicts of the pack: they are left out of
the view's rows (`ConfigView.foreign_evaluations` counts them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.coverage import FRESHNESS_SLACK_HOURS, PACK_OWNER, RuleSource, is_pack_function, rule_gap
from ..core.model import LAMBDA_RESOURCE_TYPE, Compliance, EvaluationResult
from ..core.rules import get_rule
from ..errors import PackError
from .clients import Clients, as_clients

COMPLIANCE_TYPES = tuple(Compliance)


@dataclass(frozen=True)
class DeployedRule:
    name: str  # the AWS Config rule name as deployed
    rule: str  # the pack's rule it is
    parameters: dict[str, Any]  # its InputParameters
    source: RuleSource | None = None  # what runs it (DescribeConfigRules); None: not read


@dataclass(frozen=True)
class RuleStatus:
    """DescribeConfigRuleEvaluationStatus for one deployed rule (times ISO 8601, UTC; None: not given)."""

    config_rule: str  # the AWS Config rule as deployed
    rule: str  # the pack's rule it is
    account_id: str
    region: str
    reported: bool  # False: AWS Config returned no status for it
    first_evaluation_started: bool | None = None
    last_successful_evaluation: str | None = None
    last_failed_evaluation: str | None = None
    last_successful_invocation: str | None = None
    last_failed_invocation: str | None = None
    last_error: str | None = None  # "Code: message"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ConfigView:
    """What AWS Config holds for the pack in one account and region."""

    deployed: list[DeployedRule]
    statuses: list[RuleStatus]
    evaluations: list[EvaluationResult]  # of the rules whose source is the pack's function
    account_id: str = ""
    region: str = ""
    foreign_evaluations: int = 0  # evaluations of rules of the pack's name run by another source: not rows


def last_evaluated(evaluations: Iterable[EvaluationResult]) -> dict[str, str]:
    """Pack rule -> the newest ResultRecordedTime of its evaluations."""
    latest: dict[str, str] = {}
    for evaluation in evaluations:
        if evaluation.recorded_at and evaluation.recorded_at > latest.get(evaluation.rule, ""):
            latest[evaluation.rule] = evaluation.recorded_at
    return latest


def rule_notes(*views: ConfigView) -> list[str]:
    """What the coverage of these views must say besides: the test applied, and the evaluations left out."""
    notes = [f"covered means: each pack rule deployed there is the pack's own (owner {PACK_OWNER}, source the "
             f"pack's function in that account and region) and was evaluated within its frequency plus "
             f"{FRESHNESS_SLACK_HOURS} h (newest ResultRecordedTime)"]
    foreign = sum(view.foreign_evaluations for view in views)
    if foreign:
        notes.append(f"{foreign} evaluation(s) of rules of the pack's name whose source is not the pack's function "
                     "are left out of the rows")
    return notes


def view_gaps(view: ConfigView, now: str) -> list[str]:
    """Why the view's account-region is not covered, one reason per deployed rule that fails
    `core.coverage.rule_gap`; empty when covered."""
    latest = last_evaluated(view.evaluations)
    reasons = []
    for deployed in view.deployed:
        source = deployed.source or RuleSource(deployed.name, "", "", None)
        reason = rule_gap(source, view.account_id, view.region, get_rule(deployed.rule).function_name,
                          latest.get(deployed.rule), now)
        if reason:
            reasons.append(reason)
    return reasons


class NothingDeployed(PackError):
    """None of the pack's rules is deployed where AWS Config was asked: nothing there to evidence."""


def _iso(value: Any) -> str | None:
    """A timestamp of an answer as ISO 8601 in UTC (botocore parses them into datetimes)."""
    if isinstance(value, str) and value:
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat(
            timespec="seconds")
    return None


class ConfigReader:
    def __init__(self, clients: Clients | Callable[[str], Any]):
        self.clients = as_clients(clients)

    def deployed_rules(self, rule_names: Iterable[str]) -> list[DeployedRule]:
        """The pack's rules deployed as AWS Config rules in this account and region, with the parameters
        they run with (a conformance pack names its rules `<name>-conformance-pack-<id>`)."""
        rule_names = list(rule_names)
        deployed = []
        for name, parameters, source in self.clients.pages(
                "config", "describe_config_rules", "ConfigRules",
                lambda raw: (raw["ConfigRuleName"], _input_parameters(raw), _source(raw))):
            if rule := pack_rule_name(name, rule_names):
                deployed.append(DeployedRule(name, rule, parameters, source))
        return sorted(deployed, key=lambda d: d.name)

    def evaluation_statuses(self, deployed: Iterable[DeployedRule], account_id: str) -> list[RuleStatus]:
        """The deployed rules' evaluation status (25 rule names a request, the API's most)."""
        deployed = list(deployed)
        region = self.clients("config").meta.region_name
        answers: dict[str, dict[str, Any]] = {}
        for start in range(0, len(deployed), 25):
            names = [d.name for d in deployed[start : start + 25]]
            for raw in self.clients.pages("config", "describe_config_rule_evaluation_status",
                                          "ConfigRulesEvaluationStatus", ConfigRuleNames=names):
                answers[raw.get("ConfigRuleName", "")] = raw
        statuses = []
        for rule in deployed:
            raw = answers.get(rule.name)
            if raw is None:
                statuses.append(RuleStatus(rule.name, rule.rule, account_id, region, False))
                continue
            error = ": ".join(part for part in (raw.get("LastErrorCode"), raw.get("LastErrorMessage")) if part)
            statuses.append(RuleStatus(
                rule.name, rule.rule, account_id, region, True, raw.get("FirstEvaluationStarted"),
                _iso(raw.get("LastSuccessfulEvaluationTime")), _iso(raw.get("LastFailedEvaluationTime")),
                _iso(raw.get("LastSuccessfulInvocationTime")), _iso(raw.get("LastFailedInvocationTime")),
                error or None))
        return statuses

    def view(self, rule_names: Iterable[str], account_id: str) -> ConfigView:
        """The pack's deployed rules, their status and their evaluations here; `NothingDeployed` if none is."""
        deployed = self.deployed_rules(rule_names)
        if not deployed:
            region = self.clients("config").meta.region_name
            raise NothingDeployed(f"none of the pack's rules is deployed as an AWS Config rule in {account_id} "
                                  f"{region} (DescribeConfigRules): nothing to evidence there")
        region = self.clients("config").meta.region_name
        ours = [d for d in deployed if _runs_the_pack(d, account_id, region)]
        foreign = [d for d in deployed if d not in ours]
        foreign_count = len(self.evaluations(foreign, account_id)) if foreign else 0
        return ConfigView(deployed, self.evaluation_statuses(deployed, account_id),
                          self.evaluations(ours, account_id), account_id, region, foreign_count)

    def evaluations(self, deployed: Iterable[DeployedRule], account_id: str,
                    compliance: Iterable[Compliance] = COMPLIANCE_TYPES) -> list[EvaluationResult]:
        """Every evaluation AWS Config holds for these deployed rules in this account and region, of these
        compliance types (`account_id`: Config's answer does not name it)."""
        region, results = self.clients("config").meta.region_name, []
        for rule in deployed:
            results += self.clients.pages(
                "config", "get_compliance_details_by_config_rule", "EvaluationResults",
                lambda raw, rule=rule: _config_result(rule.rule, raw, account_id, region),
                ConfigRuleName=rule.name, ComplianceTypes=[str(c) for c in compliance])
        return results

    def aggregate_sources(self, aggregator: str, rule_names: Iterable[str]) -> set[tuple[str, str, str]]:
        """(deployed rule, account, region) for each pack rule a Config aggregator reports."""
        wanted = set(rule_names)
        return {
            source
            for source in self.clients.pages("config", "describe_aggregate_compliance_by_config_rules",
                                             "AggregateComplianceByConfigRules",
                                             lambda c: (c["ConfigRuleName"], c["AccountId"], c["AwsRegion"]),
                                             ConfigurationAggregatorName=aggregator)
            if pack_rule_name(source[0], wanted)
        }

    def aggregate_evaluations(self, aggregator: str, rule_names: Iterable[str],
                              sources: Iterable[tuple[str, str, str]] | None = None) -> list[EvaluationResult]:
        """The same across an organization, through a Config aggregator: which accounts and regions run
        each rule (`aggregate_sources`, unless given), then each one's evaluations."""
        results: list[EvaluationResult] = []
        wanted = set(rule_names)
        for rule, account, region in sorted(self.aggregate_sources(aggregator, wanted) if sources is None
                                            else sources):
            results += self.clients.pages(
                "config", "get_aggregate_compliance_details_by_config_rule", "AggregateEvaluationResults",
                lambda raw, rule=rule, account=account, region=region: _config_result(
                    pack_rule_name(rule, wanted), raw, account, region),
                ConfigurationAggregatorName=aggregator, ConfigRuleName=rule, AccountId=account, AwsRegion=region)
        return results


def _runs_the_pack(deployed: DeployedRule, account_id: str, region: str) -> bool:
    source = deployed.source
    return source is not None and source.owner == PACK_OWNER and is_pack_function(
        source.source_identifier, account_id, region, get_rule(deployed.rule).function_name)


def _source(raw: dict[str, Any]) -> RuleSource:
    """A rule's source and periodic frequency: a custom rule's is its ScheduledNotification's
    MaximumExecutionFrequency (SourceDetail), a managed rule's the rule's own."""
    source = raw.get("Source") or {}
    frequencies = [detail.get("MaximumExecutionFrequency") or "TwentyFour_Hours"
                   for detail in source.get("SourceDetails") or ()
                   if detail.get("MessageType") == "ScheduledNotification"]
    frequency = frequencies[0] if frequencies else raw.get("MaximumExecutionFrequency")
    return RuleSource(raw["ConfigRuleName"], source.get("Owner", ""), source.get("SourceIdentifier", ""), frequency)


def _input_parameters(raw: dict[str, Any]) -> dict[str, Any]:
    text = raw.get("InputParameters") or "{}"
    try:
        parameters = json.loads(text)
    except ValueError:
        parameters = None
    # AWS Config keeps InputParameters as a JSON object; anything else is recorded as it came
    return parameters if isinstance(parameters, dict) else {"InputParameters": text}


def pack_rule_name(config_rule_name: str, rule_names: Iterable[str]) -> str | None:
    """Which of the pack's rules a deployed Config rule is: the same name, or the name a conformance pack
    gives it (`lambda-vpc-eni-permissions-conformance-pack-a1b2c3d4`)."""
    for name in rule_names:
        if config_rule_name == name or config_rule_name.startswith(f"{name}-conformance-pack-"):
            return name
    return None


def _config_result(rule: str | None, raw: dict[str, Any], account_id: str, region: str) -> EvaluationResult:
    qualifier = raw["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
    return EvaluationResult(
        rule=rule or qualifier["ConfigRuleName"],
        resource_id=qualifier["ResourceId"],
        compliance=Compliance(raw["ComplianceType"]),
        annotation=raw.get("Annotation", ""),
        resource_type=qualifier.get("ResourceType", LAMBDA_RESOURCE_TYPE),
        account_id=account_id,
        region=region,
        recorded_at=_iso(raw.get("ResultRecordedTime")) or "",
    )

