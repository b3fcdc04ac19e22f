"""Evaluate rules over functions and facts: the pure step behind `scan`, the demo and every handler."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .model import EvaluationResult, Facts, LambdaFunction
from .rules import InvalidParameter, Rule


def evaluate_functions(
    rule: Rule, functions: Iterable[LambdaFunction], facts: Facts, parameters: Mapping[str, Any],
    account_id: str = "", region: str = "", recorded_at: str = "",
) -> list[EvaluationResult]:
    results = []
    for function in functions:
        verdict = rule.evaluate(function, facts, parameters)
        results.append(EvaluationResult(rule.config_rule_name, function.name, verdict.compliance, verdict.annotation,
                                        resource_arn=function.arn, account_id=account_id, region=region,
                                        recorded_at=recorded_at))
    return results


def parse_parameters(rules: Sequence[Rule], raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each rule's typed parameters (rule name -> parsed), from one set of raw strings (defaults where a
    parameter is absent). Raises `InvalidParameter` naming the parameter; a name no rule has is one too."""
    known = {parameter.name for rule in rules for parameter in rule.parameters}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InvalidParameter(f"no selected rule has parameter {', '.join(unknown)}")
    return {rule.config_rule_name: rule.parse_parameters(raw) for rule in rules}
