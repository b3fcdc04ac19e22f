"""AWS Config's own view of the pack: which rules are deployed, and the evaluations AWS Config holds (for
evidence, for Security Hub de-duplication, and for the scheduled run's stale-evaluation clean-up)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.model import LAMBDA_RESOURCE_TYPE, Compliance, EvaluationResult
from .clients import Clients, as_clients

COMPLIANCE_TYPES = tuple(Compliance)


@dataclass(frozen=True)
class DeployedRule:
    name: str  # the AWS Config rule name as deployed
    rule: str  # the pack's rule it is
    parameters: dict[str, Any]  # its InputParameters


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

    def aggregate_evaluations(self, aggregator: str, rule_names: Iterable[str]) -> list[EvaluationResult]:
        """The same across an organization, through a Config aggregator: which accounts and regions run
        each rule, then each one's evaluations."""
        results: list[EvaluationResult] = []
        wanted = set(rule_names)
        sources = {
            source
            for source in self.clients.pages("config", "describe_aggregate_compliance_by_config_rules",
                                             "AggregateComplianceByConfigRules",
                                             lambda c: (c["ConfigRuleName"], c["AccountId"], c["AwsRegion"]),
                                             ConfigurationAggregatorName=aggregator)
            if pack_rule_name(source[0], wanted)
        }
        for rule, account, region in sorted(sources):
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
    )
