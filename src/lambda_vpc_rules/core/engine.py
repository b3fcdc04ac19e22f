"""Evaluate rules over functions and facts: the pure step behind `scan`, the demo and every handler."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .exceptions import InForce, Subject, apply, subject_function
from .iam_policy import remembered_matches
from .model import EvaluationResult, Facts, LambdaFunction
from .rules import InvalidParameter, Rule
from .rules.private_subnet_nat import INTERNET_ACCESS_TAG


@remembered_matches()  # the functions share roles, subnets and security groups: matches repeat
def evaluate_functions(
    rule: Rule, functions: Iterable[LambdaFunction], facts: Facts, parameters: Mapping[str, Any],
    account_id: str = "", region: str = "", exceptions: InForce | None = None, recorded_at: str = "",
) -> list[EvaluationResult]:
    """Each function's verdict, with the exceptions register applied (`core.exceptions.apply`) when given."""
    results = []
    register = exceptions.register if exceptions else None
    for function in functions:
        verdict = rule.evaluate(subject_function(function, register, INTERNET_ACCESS_TAG), facts, parameters)
        exception_id = state = None
        if exceptions is not None:
            applied = apply(verdict, Subject.of(rule.config_rule_name, function, account_id, region), register,
                            exceptions.now)
            verdict, exception_id = applied.verdict, applied.exception.id if applied.exception else None
            state = applied.state.value if applied.state else None
        results.append(EvaluationResult(rule.config_rule_name, function.name, verdict.compliance, verdict.annotation,
                                        resource_arn=function.arn, account_id=account_id, region=region,
                                        exception_id=exception_id, exception_state=state,
                                        recorded_at=recorded_at))
    return results


def parse_parameters(rules: Sequence[Rule], raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each rule's typed parameters (rule name -> parsed), from one set of raw strings (defaults where a
    parameter is absent). Raises `InvalidParameter` naming the parameter; a name no rule has is one too."""
    known = {parameter.name for rule in rules for parameter in rule.parameters}
    unknown = sorted(set(raw) - known)
    if unknown:
        valid = ", ".join(sorted(known)) if known else "none (the selected rules take no parameters)"
        raise InvalidParameter(f"no selected rule has parameter {', '.join(unknown)}; valid: {valid} "
                               "(`lambda-vpc-rules rules` lists them)")
    return {rule.config_rule_name: rule.parse_parameters(raw) for rule in rules}
