"""A whole account and region evaluated: list the functions, read the facts every selected rule needs once,
evaluate. What `scan`, the demo and the scheduled handlers run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..core.engine import evaluate_functions, parse_parameters
from ..core.model import EvaluationResult, Facts, ScanReport
from ..core.rules import RULES, Rule
from .clients import Clients, session_clients
from .facts import FactReader

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def evaluate_account(
    reader: FactReader,
    rules: Sequence[Rule],
    parameters: Mapping[str, Mapping[str, Any]],
    progress: Progress = _quiet,
    account_id: str = "",
) -> list[EvaluationResult]:
    """Every function of the account and region under every rule, from facts read once for all rules.
    `parameters`: each rule's parsed parameters, by Config rule name (`core.engine.parse_parameters`)."""
    progress("Listing Lambda functions")
    functions = reader.list_functions(tag_keys=frozenset().union(*(rule.tag_keys for rule in rules)))
    in_vpc = sum(1 for function in functions if function.in_vpc)
    needs = frozenset().union(*(rule.needs for rule in rules))
    progress(
        f"{len(functions)} functions, {in_vpc} attached to a VPC; reading {', '.join(sorted(n.value for n in needs))}"
    )
    # Without VPC functions every verdict is NOT_APPLICABLE: nothing else needs reading.
    facts = reader.account_facts(needs) if in_vpc else Facts()
    region = reader.clients.region
    results = []
    for index, rule in enumerate(rules, 1):
        progress(f"Evaluating {rule.config_rule_name} ({index}/{len(rules)})")
        results += evaluate_functions(rule, functions, facts, parameters[rule.config_rule_name], account_id, region)
    return results


def scan(
    clients: Clients,
    rules: Sequence[Rule] = RULES,
    raw_parameters: Mapping[str, str] | None = None,
    progress: Progress = _quiet,
) -> ScanReport:
    """Evaluate the clients' account and region with `rules` (parameters as AWS Config gives them)."""
    raw_parameters = dict(raw_parameters or {})
    parameters = parse_parameters(rules, raw_parameters)
    account_id = clients.caller_identity()["Account"]
    evaluations = evaluate_account(FactReader(clients), rules, parameters, progress, account_id)
    generated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    used = {rule.config_rule_name: rule.parameter_values(raw_parameters) for rule in rules}
    return ScanReport(account_id, clients.region, generated_at, evaluations, used)


def scan_session(session: Any, rules: Sequence[Rule] = RULES, raw_parameters: Mapping[str, str] | None = None,
                 endpoint_url: str | None = None, progress: Progress = _quiet) -> ScanReport:
    """`scan` of a boto3 session's account and region."""
    return scan(Clients(session_clients(session, endpoint_url)), rules, raw_parameters, progress)
