"""The remediation planner function (`lambda-vpc-rules-remediation-planner`): what the pack's SSM documents
invoke first. It reads the account as a scan does and answers the core's plan for one function under one rule
(`core.remediation`), as JSON; it changes nothing (it runs with the rules' read-only role).

Event: {"rule": <Config rule name>, "function": <name>, "parameters": <the rule's parameters, a JSON object or
its text>, "subnets": [<the operator's choice>] (private subnets, multi-AZ)}. `parameters` may hold the pack's
`ExceptionsRegister` location: a function an exception in force covers is never remediated (its plan says
`excepted`), and a register that cannot be used is an error answer, never a plan. Answer: the plan (`Plan.as_dict`),
`{"status": "compliant"}` when the rule does not find the function NON_COMPLIANT, or `{"status": "error"}` with
what was wrong in the event. Never a change, never a verdict sent to AWS Config.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from ..aws.clients import Clients
from ..aws.facts import FactReader
from ..aws.register import PARAMETER as REGISTER_PARAMETER
from ..aws.register import read_published
from ..core.engine import parse_parameters
from ..core.exceptions import RegisterError, excepted_by
from ..core.remediation import REMEDIABLE_RULES, Context, plan
from ..core.rules import RULES, InvalidParameter, get_rule


def _rule_parameters(raw: Any) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, Mapping):
        raise ValueError("parameters: expected a JSON object")
    return {str(key): str(item) for key, item in value.items()}


def plan_one(clients: Clients, event: Mapping[str, Any]) -> dict[str, Any]:
    """The plan for the event's function under its rule, read from the clients' account and region."""
    rule_name, function_name = event.get("rule"), event.get("function")
    if rule_name not in REMEDIABLE_RULES or not isinstance(function_name, str) or not function_name:
        return {"status": "error", "summary": f"bad event: rule {rule_name!r}, function {function_name!r}"}
    subnets = event.get("subnets")
    subnets = [s for s in subnets if isinstance(s, str) and s] if isinstance(subnets, list) else None
    try:
        raw = _rule_parameters(event.get("parameters"))
        register_location = raw.pop(REGISTER_PARAMETER, "").strip()  # the pack's, not the rule's own
        rule = get_rule(rule_name)
        unknown = sorted(set(raw) - {p.name for p in rule.parameters})
        if unknown:
            raise InvalidParameter(f"{rule_name} has no parameter {', '.join(unknown)}")
        parameters = parse_parameters(list(RULES), raw)
    except (ValueError, InvalidParameter) as error:
        return {"status": "error", "summary": f"bad parameters: {error}"}
    reader = FactReader(clients)
    every = list(RULES)
    functions = reader.list_functions(tag_keys=frozenset().union(*(r.tag_keys for r in every)))
    function = next((f for f in functions if f.name == function_name), None)
    if function is None:
        return {"status": "error", "summary": f"function {function_name} not found"}
    facts = reader.account_facts(frozenset().union(*(r.needs for r in every)))
    context = Context(parameters, None, {function_name: subnets} if subnets else {})
    excepted = None
    if register_location:
        try:
            register = read_published(clients, register_location)
        except RegisterError as error:
            return {"status": "error", "summary": f"exceptions register: {error}"}
        excepted = excepted_by(register, clients.caller_identity()["Account"], clients.region, dt.datetime.now(dt.UTC))
    found = plan(rule_name, function, facts, context, excepted)
    if found is None:
        return {"status": "compliant", "summary": f"{rule_name}: {function_name} is not NON_COMPLIANT: nothing to do"}
    return found.as_dict()


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    import boto3

    from ..aws.clients import session_clients

    if not isinstance(event, Mapping):
        return {"status": "error", "summary": "bad event: expected a JSON object"}
    return plan_one(Clients(session_clients(boto3.Session())), event)
