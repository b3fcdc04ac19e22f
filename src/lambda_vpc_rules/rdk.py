"""Adapts the core to rdklib: one `ConfigRule` class serves every rule of the pack.

rdklib parses the event, inflates oversized items, assumes `ExecutionRoleName` / honours
`AssumeRoleMode`, batches PutEvaluations and clears stale evaluations; this class only builds a
`LambdaFunction` from the configuration item, reads facts through the shared fetch layer and turns
verdicts into rdklib `Evaluation`s.
"""

from __future__ import annotations

from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator, InvalidParametersError

from .drift import dependent_functions
from .engine import evaluate_account, evaluate_functions
from .fetch import Fetcher, apply_retry_environment
from .functions import from_configuration_item
from .model import LAMBDA_RESOURCE_TYPE
from .rules import InvalidParameter, Rule, get_rule

apply_retry_environment()

# The AWS Config calls rdklib makes for a rule: evaluations out, stale-evaluation clean-up on a scheduled
# run, and the configuration history of an oversized item.
RDKLIB_ACTIONS = frozenset(
    {"config:PutEvaluations", "config:GetComplianceDetailsByConfigRule", "config:GetResourceConfigHistory"}
)


class PackRule(ConfigRule):
    def __init__(self, rule: Rule):
        super().__init__()
        self.rule = rule

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.rule.parse_parameters(rule_parameters)
        except InvalidParameter as error:
            raise InvalidParametersError(str(error)) from None

    def evaluate_change(self, event, client_factory, configuration_item, valid_rule_parameters):
        fetcher = Fetcher(client_factory.build_client)
        if configuration_item.get("resourceType") != LAMBDA_RESOURCE_TYPE:
            # Drift: a resource the rule depends on changed. Its functions get fresh evaluations; the
            # resource itself is NOT_APPLICABLE, so Config shows no verdict of ours on it.
            functions, network = dependent_functions(fetcher, configuration_item)
            facts = fetcher.facts_for(functions, self.rule.needs, network)
            results = evaluate_functions(self.rule, functions, facts, valid_rule_parameters)
            return [Evaluation(ComplianceType.NOT_APPLICABLE)] + [
                Evaluation(r.compliance.value, r.resource_id, r.resource_type, r.annotation) for r in results
            ]
        if not _in_scope(configuration_item, event):
            return [Evaluation(ComplianceType.NOT_APPLICABLE)]
        function = from_configuration_item(configuration_item)
        facts = fetcher.facts_for([function], self.rule.needs)
        verdict = self.rule.evaluate(function, facts, valid_rule_parameters)
        return [Evaluation(verdict.compliance.value, annotation=verdict.annotation)]

    def evaluate_periodic(self, event, client_factory, valid_rule_parameters):
        fetcher = Fetcher(client_factory.build_client)
        results = evaluate_account(fetcher, [self.rule], {self.rule.config_rule_name: valid_rule_parameters})
        return [
            Evaluation(result.compliance.value, result.resource_id, result.resource_type, result.annotation)
            for result in results
        ]


def _in_scope(item: dict[str, Any], event: dict[str, Any]) -> bool:
    """rdklib's own test, which `is_applicable_status=True` turns off so that deleted related resources
    (a deleted NAT gateway, route table or role) still reach `evaluate_change`: a deleted function, or
    one that left the rule's scope, is NOT_APPLICABLE."""
    return item.get("configurationItemStatus") in ("OK", "ResourceDiscovered") and not event.get("eventLeftScope")


def evaluator_for(rule_name: str) -> Evaluator:
    """The rdklib Evaluator for one rule of the pack, over the resource types of its scope."""
    rule = get_rule(rule_name)
    return Evaluator(PackRule(rule), list(rule.scope), is_applicable_status=True)
