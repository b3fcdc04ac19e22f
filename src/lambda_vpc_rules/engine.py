"""Evaluate rules over functions: the one pipeline behind `scan`, the demo and the scheduled handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .fetch import Fetcher
from .model import EvaluationResult, Facts, LambdaFunction
from .rules import Rule

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def evaluate_functions(
    rule: Rule, functions: Iterable[LambdaFunction], facts: Facts, parameters: Mapping[str, Any]
) -> list[EvaluationResult]:
    results = []
    for function in functions:
        verdict = rule.evaluate(function, facts, parameters)
        results.append(EvaluationResult(rule.config_rule_name, function.name, verdict.compliance, verdict.annotation,
                                        resource_arn=function.arn))
    return results


def evaluate_account(
    fetcher: Fetcher,
    rules: Sequence[Rule],
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = _quiet,
) -> list[EvaluationResult]:
    """Every function of the account and region under every rule, from facts read once for all rules.

    `parameters` maps a Config rule name to its already parsed parameters (defaults when absent).
    """
    parameters = parameters or {}
    parsed = {
        rule.config_rule_name: parameters.get(rule.config_rule_name) or rule.parse_parameters({}) for rule in rules
    }
    progress("Listing Lambda functions")
    functions = fetcher.list_functions(tag_keys=frozenset().union(*(rule.tag_keys for rule in rules)))
    in_vpc = sum(1 for function in functions if function.in_vpc)
    needs = frozenset().union(*(rule.needs for rule in rules))
    progress(
        f"{len(functions)} functions, {in_vpc} attached to a VPC; reading {', '.join(sorted(n.value for n in needs))}"
    )
    # Without VPC functions every verdict is NOT_APPLICABLE: nothing else needs reading.
    facts = fetcher.account_facts(needs) if in_vpc else Facts()
    results = []
    for index, rule in enumerate(rules, 1):
        progress(f"Evaluating {rule.config_rule_name} ({index}/{len(rules)})")
        results.extend(evaluate_functions(rule, functions, facts, parsed[rule.config_rule_name]))
    return results
