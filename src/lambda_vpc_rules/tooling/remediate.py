"""`lambda-vpc-rules remediate`: in one account and region, per NON_COMPLIANT function, the change each rule's
document would make (`--dry-run`), or make them and record each execution.

Planning is the core's (`core.remediation`), over the facts a scan reads. Without `--dry-run` the planned
changes run either through SSM Automation (`--executor ssm`, the default: the pack's documents, which plan
again in the account with the same core, through the pack's planner function) or by the same API calls made
directly with the caller's credentials (`--executor direct`, `DirectExecutor`: for accounts without the
pack's documents, and what the tests run in moto, which has no Automation). Either way each execution is
recorded as one JSON line (`RECORDS`): who, when, what changed, before and after as read from AWS.

What never runs: a PROPOSED change (private subnets, multi-AZ) without the operator's `--subnets` choice; a
REFUSED one; a function the exceptions register excepts (`excepted`, the one hook for it); a tenancy change
unless `--rule lambda-vpc-default-tenancy` names it (it changes a whole VPC).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from ..aws.clients import Clients
from ..aws.facts import FactReader
from ..aws.remediation import current_state, dedicated_instances
from ..core.engine import parse_parameters
from ..core.model import Facts, LambdaFunction
from ..core.remediation import MULTI_AZ, PRIVATE, REMEDIABLE_RULES, TENANCY, Context, Plan, Status, plan
from ..core.rules import RULES, get_rule
from ..errors import PackError
from .remediation_documents import REMEDIATION_ROLE_NAME

RECORDS = "remediation-records.jsonl"
TERMINAL = ("Success", "Failed", "Cancelled", "TimedOut", "CompletedWithSuccess", "CompletedWithFailure",
            "Rejected", "Exited")
Excepted = Callable[[str, LambdaFunction], bool]


class RemediationError(PackError):
    """A remediation that could not run or did not succeed: said in one line."""


def add_remediate_arguments(parser: argparse.ArgumentParser, key_value: Callable[[str], tuple[str, str]]) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what each document would change; change nothing")
    parser.add_argument("--rule", action="append", choices=list(REMEDIABLE_RULES),
                        help="rule to remediate (repeatable; default: all, the tenancy change only when named)")
    parser.add_argument("--param", action="append", type=key_value, default=[], metavar="NAME=VALUE",
                        help="rule parameter, as in AWS Config (repeatable)")
    parser.add_argument("--subnets", action="append", type=key_value, default=[], metavar="FUNCTION=SUBNET,SUBNET",
                        help="the operator's choice of subnets for a function (private subnets, multi-AZ)")
    parser.add_argument("--executor", choices=("ssm", "direct"), default="ssm",
                        help="ssm (default): run the pack's SSM Automation documents; direct: make the same API calls "
                        "directly")
    parser.add_argument("--assume-role", metavar="ARN",
                        help="with --executor ssm: the documents' AutomationAssumeRole; without it, the pack's "
                        f"{REMEDIATION_ROLE_NAME} role in the account")
    parser.add_argument("--records", default=RECORDS, help=f"JSON-lines file each execution is appended to "
                        f"(default: {RECORDS}); `evidence --remediation-records` puts it in the bundle")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="dry-run output (default text)")
    parser.add_argument("--exceptions", metavar="FILE",
                        help="the exceptions register: a function an exception in force covers is never remediated "
                        "(docs/exceptions.md)")


# ------------------------------------------------------------------------------------------------ planning


@dataclass(frozen=True)
class Planning:
    account_id: str
    region: str
    plans: list[Plan]
    facts: Facts
    functions: dict[str, LambdaFunction]


def plan_account(clients: Clients, rules: Sequence[str] = REMEDIABLE_RULES, raw_parameters: Mapping[str, str] = (),
                 subnet_choices: Mapping[str, Sequence[str]] | None = None, excepted: Excepted | None = None,
                 progress: Callable[[str], None] = lambda message: None) -> Planning:
    """Read the account as a scan does (every rule's facts: a subnet proposal checks the private-subnet rule
    too) and plan each NON_COMPLIANT function under each of `rules`."""
    every = list(RULES)
    parameters = parse_parameters(every, dict(raw_parameters or {}))
    reader = FactReader(clients)
    progress("Listing Lambda functions")
    functions = reader.list_functions(tag_keys=frozenset().union(*(rule.tag_keys for rule in every)))
    progress("Reading the facts the rules need")
    facts = reader.account_facts(frozenset().union(*(rule.needs for rule in every)))
    dedicated_vpcs = [vpc.vpc_id for vpc in facts.vpcs.values() if vpc.instance_tenancy == "dedicated"]
    context = Context(parameters, dedicated_instances(clients, dedicated_vpcs) if TENANCY in rules else None,
                      dict(subnet_choices or {}))
    plans = []
    for name in rules:
        progress(f"Planning {name}")
        for function in functions:
            found = plan(name, function, facts, context, excepted)
            if found is not None:
                plans.append(found)
    account = clients.caller_identity()["Account"]
    return Planning(account, clients.region, plans, facts, {f.name: f for f in functions})


def render_plans(plans: Iterable[Plan], fmt: str = "text") -> str:
    plans = list(plans)
    if fmt == "json":
        return json.dumps([p.as_dict() for p in plans], indent=2, default=str) + "\n"
    lines = []
    for p in plans:
        lines.append(f"{p.function}  {p.rule}  [{p.status.value}; {p.mode.value}; {p.document}]")
        lines.append(f"    {p.summary}")
        for call in p.calls:
            lines.append(f"    {call.service}:{call.operation} {json.dumps(dict(call.parameters), default=str)[:300]}")
        lines += [f"    note: {note}" for note in p.notes]
    counts = {status: sum(1 for p in plans if p.status is status) for status in Status}
    lines.append(", ".join(f"{count} {status.value}" for status, count in counts.items()))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ executing


class DirectExecutor:
    """Makes a plan's API calls with the given clients: the same calls the documents' aws:executeAwsApi steps
    make, from the same plan. Clearly separate from SSM: no document runs."""

    name = "direct"

    def __init__(self, clients: Clients):
        self.clients = clients

    def run(self, plan_: Plan, progress: Callable[[str], None]) -> tuple[str, str]:
        for call in plan_.calls:
            progress(f"{plan_.function}: {call.service}:{call.operation}")
            getattr(self.clients(call.service), xform_name(call.operation))(**call.parameters)
        return "", "Success"


class SsmExecutor:
    """Starts the rule's document for the function and waits for it, showing each step as it ends."""

    name = "ssm"

    def __init__(self, clients: Clients, assume_role: str, rule_parameters: Mapping[str, str] | None = None,
                 poll_seconds: float = 5.0, timeout_seconds: float = 900):
        self.clients, self.assume_role = clients, assume_role
        self.rule_parameters = dict(rule_parameters or {})
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds

    def parameters(self, plan_: Plan) -> dict[str, list[str]]:
        own = {p.name for p in get_rule(plan_.rule).parameters}
        parameters = {"FunctionName": [plan_.function], "AutomationAssumeRole": [self.assume_role],
                      "RuleParameters": [json.dumps({k: v for k, v in self.rule_parameters.items() if k in own})]}
        if plan_.rule in (PRIVATE, MULTI_AZ):  # the operator's choice, validated again by the document
            parameters["SubnetIds"] = list(plan_.after["SubnetIds"])
        return parameters

    def run(self, plan_: Plan, progress: Callable[[str], None]) -> tuple[str, str]:
        ssm = self.clients("ssm")
        execution = ssm.start_automation_execution(DocumentName=plan_.document, Parameters=self.parameters(plan_))
        execution_id = execution["AutomationExecutionId"]
        progress(f"{plan_.function}: {plan_.document} started ({execution_id})")
        deadline, seen = time.monotonic() + self.timeout_seconds, set()
        while True:
            answer = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
            for step in answer.get("StepExecutions") or ():
                key = (step.get("StepName"), step.get("StepStatus"))
                if key not in seen and step.get("StepStatus") not in ("Pending", "InProgress"):
                    seen.add(key)
                    progress(f"{plan_.function}: step {key[0]}: {key[1]}")
            status = answer.get("AutomationExecutionStatus", "")
            if status in TERMINAL:
                if status not in ("Success", "CompletedWithSuccess"):
                    reason = answer.get("FailureMessage") or status
                    return execution_id, f"{status}: {reason}"
                return execution_id, status
            if time.monotonic() > deadline:
                return execution_id, f"still {status} after {self.timeout_seconds:.0f} s (not waited for)"
            time.sleep(self.poll_seconds)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def execute(plans: Iterable[Plan], clients: Clients, executor: DirectExecutor | SsmExecutor, records: Path,
            who: str, account: str, progress: Callable[[str], None] = lambda message: None) -> list[dict[str, Any]]:
    """Run every PLANNED change, each read before and after from AWS and appended to `records` (JSON lines)."""
    done = []
    for plan_ in plans:
        if plan_.status is not Status.PLANNED:
            continue
        before = current_state(clients, plan_.resource, dict(plan_.before))
        started = now()
        try:
            execution_id, status = executor.run(plan_, progress)
        except ClientError as error:
            execution_id, status = "", f"Failed: {error.response.get('Error', {}).get('Code')}: {error}"
        after = current_state(clients, plan_.resource, dict(plan_.before))
        record = {"who": who, "account": account, "region": clients.region, "started_at": started,
                  "ended_at": now(), "rule": plan_.rule, "function": plan_.function, "document": plan_.document,
                  "executor": executor.name, "execution_id": execution_id, "status": status,
                  "summary": plan_.summary, "resource": plan_.resource, "before": before, "after": after,
                  "calls": [call.as_dict() for call in plan_.calls]}
        records.parent.mkdir(parents=True, exist_ok=True)
        with records.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        progress(f"{plan_.function}: {plan_.rule}: {status}")
        done.append(record)
    return done


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The executions recorded in a records file; a line that is not a JSON object is an error naming it."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise RemediationError(f"{path}:{number}: not JSON: {error}") from None
        if not isinstance(record, dict) or not {"who", "started_at", "rule", "function", "status"} <= set(record):
            raise RemediationError(f"{path}:{number}: not a remediation record")
        records.append(record)
    return records


# ------------------------------------------------------------------------------------------------ the command


def _choices(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    return {name: [s.strip() for s in value.split(",") if s.strip()] for name, value in pairs}


def _excepted_by_register(args: argparse.Namespace, clients: Clients) -> Excepted:
    """`--exceptions FILE` as the planner's hook: an exception in force now covers (rule, function)."""
    from ..core.exceptions import excepted_by
    from .exceptions_cli import register_for

    return excepted_by(register_for(args, clients), clients.caller_identity()["Account"], clients.region,
                       dt.datetime.now(dt.UTC))


def run(args: argparse.Namespace, clients: Clients, progress: Callable[[str], None],
        excepted: Excepted | None = None) -> int:
    """0: nothing NON_COMPLIANT to remediate, or every change ran; 1: changes planned (dry run) or some
    findings left for a person; 2: an execution failed (raised as RemediationError)."""
    rules = args.rule or [name for name in REMEDIABLE_RULES if name != TENANCY or args.dry_run]
    if excepted is None and getattr(args, "exceptions", None):
        excepted = _excepted_by_register(args, clients)
    planning = plan_account(clients, rules, dict(args.param), _choices(args.subnets), excepted, progress)
    sys.stdout.write(render_plans(planning.plans, args.format))
    # an excepted function is never remediated and, as in scan, does not fail the run
    findings = [p for p in planning.plans if p.status is not Status.EXCEPTED]
    if args.dry_run:
        return 1 if findings else 0
    caller = clients.caller_identity()
    if args.executor == "direct":
        executor: DirectExecutor | SsmExecutor = DirectExecutor(clients)
    else:
        partition = caller["Arn"].split(":")[1]
        role = args.assume_role or f"arn:{partition}:iam::{caller['Account']}:role/{REMEDIATION_ROLE_NAME}"
        executor = SsmExecutor(clients, role, dict(args.param))
    done = execute(planning.plans, clients, executor, Path(args.records), caller["Arn"], caller["Account"], progress)
    failed = [r for r in done if r["status"] not in ("Success", "CompletedWithSuccess")]
    print(f"lambda-vpc-rules: {len(done) - len(failed)} change(s) made, {len(failed)} failed; recorded in "
          f"{args.records}", file=sys.stderr)
    if failed:
        raise RemediationError(f"{len(failed)} remediation(s) failed: " + "; ".join(
            f"{r['function']} ({r['rule']}): {r['status']}" for r in failed[:3]))
    left = [p for p in findings if p.status is not Status.PLANNED]
    return 1 if left else 0

