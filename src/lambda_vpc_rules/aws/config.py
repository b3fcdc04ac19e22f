"""AWS Config's own view of the pack: which rules are deployed, their evaluation status, and the evaluations
AWS Config holds (for evidence, for Security Hub de-duplication, and for the scheduled run's stale-evaluation
clean-up).

Evaluation status (DescribeConfigRuleEvaluationStatus): AWS documents that the operation "does not return
status information about AWS Config Custom Lambda rules" (Config API reference, ConfigRuleEvaluationStatus),
which the pack's rules are. It is asked anyway, and whatever comes back is recorded; a rule without a status
is recorded as such (`RuleStatus.reported` false), never as a success or a failure.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.model import LAMBDA_RESOURCE_TYPE, Compliance, EvaluationResult
from ..errors import PackError
from .clients import Clients, as_clients

COMPLIANCE_TYPES = tuple(Compliance)


@dataclass(frozen=True)
class DeployedRule:
    name: str  # the AWS Config rule name as deployed
    rule: str  # the pack's rule it is
    parameters: dict[str, Any]  # its InputParameters


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
    evaluations: list[EvaluationResult]


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
        for name, parameters in self.clients.pages("config", "describe_config_rules", "ConfigRules",
                                                   lambda raw: (raw["ConfigRuleName"], _input_parameters(raw))):
            if rule := pack_rule_name(name, rule_names):
                deployed.append(DeployedRule(name, rule, parameters))
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
        return ConfigView(deployed, self.evaluation_statuses(deployed, account_id),
                          self.evaluations(deployed, account_id))

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

