"""A whole account and region evaluated: list the functions, read the facts every selected rule needs once,
evaluate. What `scan`, the demo and the scheduled handlers run; `organization.scan_many` does it for every
account-region of an `organization.Fleet` and merges the verdicts into one report with its coverage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..core.coverage import Coverage, Covered
from ..core.engine import evaluate_functions, parse_parameters
from ..core.model import EvaluationResult, Facts, LambdaFunction, ScanReport, Waiver
from ..core.rules import RULES, Rule
from ..core.rules.private_subnet_nat import INTERNET_ACCESS_TAG as WAIVER_TAG
from .clients import Clients, session_clients
from .facts import FactReader

Progress = Callable[[str], None]


def now() -> str:
    """The current time as the reports record it: ISO 8601, UTC, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
    return evaluate_with_waivers(reader, rules, parameters, progress, account_id)[0]


def evaluate_with_waivers(reader: FactReader, rules: Sequence[Rule], parameters: Mapping[str, Mapping[str, Any]],
              progress: Progress = _quiet, account_id: str = "") -> tuple[list[EvaluationResult], list[Waiver] | None]:
    """The evaluations, and the waiver tags in force (None when no selected rule reads a tag)."""
    functions, facts = read_estate(reader, rules, progress)
    return evaluate_estate(functions, facts, rules, parameters, account_id, reader.clients.region, now(), progress)


def read_estate(reader: FactReader, rules: Sequence[Rule], progress: Progress = _quiet
                ) -> tuple[list[LambdaFunction], Facts]:
    """The functions of the reader's account and region, and the facts every selected rule needs, read once."""
    progress("Listing Lambda functions")
    functions = reader.list_functions(tag_keys=frozenset().union(*(rule.tag_keys for rule in rules)))
    in_vpc = sum(1 for function in functions if function.in_vpc)
    needs = frozenset().union(*(rule.needs for rule in rules))
    progress(
        f"{len(functions)} functions, {in_vpc} attached to a VPC; reading {', '.join(sorted(n.value for n in needs))}"
    )
    # Without VPC functions every verdict is NOT_APPLICABLE: nothing else needs reading.
    return functions, (reader.account_facts(needs) if in_vpc else Facts())


def evaluate_estate(functions: Sequence[LambdaFunction], facts: Facts, rules: Sequence[Rule],
                    parameters: Mapping[str, Mapping[str, Any]], account_id: str, region: str, read_at: str,
                    progress: Progress = _quiet) -> tuple[list[EvaluationResult], list[Waiver] | None]:
    """Every function under every rule (pure: no AWS call), each verdict recorded at `read_at` (the estate as
    read by then); and the waiver tags in force (None when no selected rule reads a tag)."""
    results = []
    for index, rule in enumerate(rules, 1):
        progress(f"Evaluating {rule.config_rule_name} ({index}/{len(rules)})")
        results += evaluate_functions(rule, functions, facts, parameters[rule.config_rule_name], account_id, region,
                                      read_at)
    tag_keys = frozenset().union(*(rule.tag_keys for rule in rules))
    waivers = None if not tag_keys else sorted(
        Waiver(account_id, region, function.name, key, value)
        for function in functions for key, value in (function.tags or {}).items()
        if key in tag_keys and key == WAIVER_TAG and value.strip().lower() == "none")
    return results, waivers


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
    evaluations, waivers = evaluate_with_waivers(FactReader(clients), rules, parameters, progress, account_id)
    generated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    used = {rule.config_rule_name: rule.parameter_values(raw_parameters) for rule in rules}
    read = Covered(account_id, clients.region, evaluations[0].recorded_at if evaluations else generated_at,
                   len(evaluations) // max(1, len(rules)))
    coverage = Coverage.of("the caller's own account, with its own credentials", f"one region: {clients.region}",
                           [read], [], reader=(account_id, clients.region))
    return ScanReport(account_id, clients.region, generated_at, evaluations, used, coverage, waivers)


def scan_session(session: Any, rules: Sequence[Rule] = RULES, raw_parameters: Mapping[str, str] | None = None,
                 endpoint_url: str | None = None, progress: Progress = _quiet) -> ScanReport:
    """`scan` of a boto3 session's account and region."""
    return scan(Clients(session_clients(session, endpoint_url)), rules, raw_parameters, progress)
