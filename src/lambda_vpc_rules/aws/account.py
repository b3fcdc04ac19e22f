"""A whole account and region evaluated: list the functions, read the facts every selected rule needs once,
evaluate. What `scan`, the demo and the scheduled handlers run; `organization.scan_many` does it for every
account-region of an `organization.Fleet` and merges the verdicts into one report with its coverage."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..core.coverage import Coverage, Covered
from ..core.engine import evaluate_functions, parse_parameters
from ..core.exceptions import InForce, Register, register_use
from ..core.model import EvaluationResult, Fact, Facts, LambdaFunction, ScanReport, Waiver
from ..core.rules import RULES, Rule
from ..core.rules.private_subnet_nat import INTERNET_ACCESS_TAG as WAIVER_TAG
from ..core.scp import ScpChain
from .clients import Clients, session_clients
from .facts import FactReader

Progress = Callable[[str], None]


_last_now = ""


def now() -> str:
    """The current time as the reports record it: ISO 8601, UTC, to the second. Within one second the same
    string object: an organization scan keeps one per account-region read (its coverage), not a copy each."""
    global _last_now  # noqa: PLW0603 - a one-entry memo; threads racing on it at worst keep two copies
    text = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if text == _last_now:
        return _last_now
    _last_now = text
    return text


def _quiet(_: str) -> None:
    pass


# The cyclic collector's first threshold during a scan (Python's default: 700 allocations). A scan allocates
# millions of short-lived objects (parsed answers, facts, verdicts) that reference counting frees; with the
# default, collections run thousands of times and, with several account-regions in flight, promote their live
# objects to the older generations, whose collections then scan them again and again. Measured on the
# organization benchmark (docs/benchmarks.md): a third of the scanning CPU at concurrency 16, a fifth at 1.
SCAN_GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run a scan with `SCAN_GC_THRESHOLDS`, and with what existed before it (service models, client classes,
    the caller's session) frozen out of the collector's sight (`gc.freeze`), so that a full collection walks
    only what the scan made: 70 ms instead of 180 ms for `organization`'s collection after finished accounts,
    at 16 workers. Cyclic garbage is still collected (every 50,000 allocations, and by that collection).
    Afterwards the process's thresholds are restored and the objects unfrozen; not frozen when something has
    frozen objects already (the fork server's preload: its objects stay frozen)."""
    before = gc.get_threshold()
    gc.set_threshold(*SCAN_GC_THRESHOLDS)
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


def evaluate_account(
    reader: FactReader,
    rules: Sequence[Rule],
    parameters: Mapping[str, Mapping[str, Any]],
    progress: Progress = _quiet,
    account_id: str = "",
    exceptions: InForce | None = None,
    scps: Callable[[], ScpChain] | None = None,
) -> list[EvaluationResult]:
    """Every function of the account and region under every rule, from facts read once for all rules.
    `parameters`: each rule's parsed parameters, by Config rule name (`core.engine.parse_parameters`);
    `exceptions`: the register applied to every verdict (and the tags its scopes read, read too); `scps`: the
    account's SCP chain (read_estate)."""
    return evaluate_with_waivers(reader, rules, parameters, progress, account_id, exceptions, scps)[0]


def evaluate_with_waivers(reader: FactReader, rules: Sequence[Rule], parameters: Mapping[str, Mapping[str, Any]],
              progress: Progress = _quiet, account_id: str = "", exceptions: InForce | None = None,
              scps: Callable[[], ScpChain] | None = None) -> tuple[list[EvaluationResult], list[Waiver] | None]:
    """The evaluations, and the waiver tags in force (None when no selected rule reads a tag). `scps`: reads
    the account's SCP chain (an organization scan), called only when a rule reads IAM for a VPC function."""
    functions, facts = read_estate(reader, rules, progress, exceptions, scps)
    return evaluate_estate(functions, facts, rules, parameters, account_id, reader.clients.region, now(), progress,
                           exceptions)


def read_estate(reader: FactReader, rules: Sequence[Rule], progress: Progress = _quiet,
                exceptions: InForce | None = None, scps: Callable[[], ScpChain] | None = None
                ) -> tuple[list[LambdaFunction], Facts]:
    """The functions of the reader's account and region, and the facts every selected rule needs, read once
    (with the tags the register's scopes read, and the account's SCP chain when `scps` reads it)."""
    progress("Listing Lambda functions")
    register_keys = exceptions.register.tag_keys if exceptions else frozenset()
    functions = reader.list_functions(tag_keys=frozenset().union(*(rule.tag_keys for rule in rules)) | register_keys)
    in_vpc = sum(1 for function in functions if function.in_vpc)
    needs = frozenset().union(*(rule.needs for rule in rules))
    progress(
        f"{len(functions)} functions, {in_vpc} attached to a VPC; reading {', '.join(sorted(n.value for n in needs))}"
    )
    # Without VPC functions every verdict is NOT_APPLICABLE: nothing else needs reading.
    facts = reader.account_facts(needs) if in_vpc else Facts()
    if scps is not None and in_vpc and Fact.IAM in needs:
        facts = dataclasses.replace(facts, scp_chain=scps())
    return functions, facts


def evaluate_estate(functions: Sequence[LambdaFunction], facts: Facts, rules: Sequence[Rule],
                    parameters: Mapping[str, Mapping[str, Any]], account_id: str, region: str, read_at: str,
                    progress: Progress = _quiet, exceptions: InForce | None = None
                    ) -> tuple[list[EvaluationResult], list[Waiver] | None]:
    """Every function under every rule (pure: no AWS call), each verdict recorded at `read_at` (the estate as
    read by then), the exceptions register applied when given; and the waiver tags in force (None when no
    selected rule reads a tag)."""
    results = []
    for index, rule in enumerate(rules, 1):
        progress(f"Evaluating {rule.config_rule_name} ({index}/{len(rules)})")
        results += evaluate_functions(rule, functions, facts, parameters[rule.config_rule_name], account_id, region,
                                      exceptions, read_at)
    tag_keys = frozenset().union(*(rule.tag_keys for rule in rules))
    # with require_exception_for_tags, the tag alone waives nothing: not listed as a waiver in force
    honoured = not (exceptions and exceptions.register.require_exception_for_tags)
    waivers = None if not tag_keys else sorted(
        Waiver(account_id, region, function.name, key, value)
        for function in functions for key, value in (function.tags or {}).items()
        if honoured and key in tag_keys and key == WAIVER_TAG and value.strip().lower() == "none")
    return results, waivers


def scan(
    clients: Clients,
    rules: Sequence[Rule] = RULES,
    raw_parameters: Mapping[str, str] | None = None,
    progress: Progress = _quiet,
    exceptions: Register | None = None,
    at: dt.datetime | None = None,
) -> ScanReport:
    """Evaluate the clients' account and region with `rules` (parameters as AWS Config gives them), applying
    the exceptions register at `at` (default: now)."""
    raw_parameters = dict(raw_parameters or {})
    parameters = parse_parameters(rules, raw_parameters)
    account_id = clients.caller_identity()["Account"]
    at = at or dt.datetime.now(dt.UTC)
    in_force = InForce(exceptions, at) if exceptions is not None else None
    with fewer_collections():
        evaluations, waivers = evaluate_with_waivers(FactReader(clients), rules, parameters, progress, account_id,
                                                     in_force)
    generated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    used = {rule.config_rule_name: rule.parameter_values(raw_parameters) for rule in rules}
    read = Covered(account_id, clients.region, evaluations[0].recorded_at if evaluations else generated_at,
                   len(evaluations) // max(1, len(rules)))
    coverage = Coverage.of("the caller's own account, with its own credentials", f"one region: {clients.region}",
                           [read], [], reader=(account_id, clients.region))
    return ScanReport(account_id, clients.region, generated_at, evaluations, used, coverage, waivers,
                      register_use(exceptions, evaluations, at) if exceptions is not None else None)


def scan_session(session: Any, rules: Sequence[Rule] = RULES, raw_parameters: Mapping[str, str] | None = None,
                 endpoint_url: str | None = None, progress: Progress = _quiet) -> ScanReport:
    """`scan` of a boto3 session's account and region."""
    return scan(Clients(session_clients(session, endpoint_url)), rules, raw_parameters, progress)
