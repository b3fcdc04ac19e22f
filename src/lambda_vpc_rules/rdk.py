"""Adapts the core to rdklib: one `ConfigRule` class serves every rule of the pack.

rdklib parses the event, inflates oversized items, assumes `ExecutionRoleName` / honours
`AssumeRoleMode`, batches PutEvaluations and clears stale evaluations; this class only builds a
`LambdaFunction` from the configuration item, reads facts through the shared fetch layer and turns
verdicts into rdklib `Evaluation`s.

Gaps of rdklib 0.3.10 closed here:
- an event that is not what AWS Config sends makes it raise (KeyError, JSONDecodeError), and so do
  rule parameters it reads itself (`AssumeRoleMode: true` is not a string): `PackEvaluator.handle`
  checks both first and answers with an error response (`InvalidEvent`, or rdklib's parameter error);
- it reads an oversized item's history (and assumes the execution role) before its own error handling:
  an AWS error there, or a history without a usable item, is answered like any other error, not raised
  (`_init_event` wraps rdklib's);
- a function's item with status OK but no `configuration` would look like a function outside any VPC:
  it is malformed (`item_problem`), checked again after an oversized item is read from its history;
- it ignores PutEvaluations' `FailedEvaluations`: its `process_evaluations` is replaced by one that
  sends refused evaluations once more, then fails loudly;
- its own AWS calls (AssumeRole, history, clean-up, PutEvaluations) refused: the error response names
  the IAM action, as for the pack's reads (`_naming_missing_permissions`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from typing import Any

import rdklib.evaluator
import rdklib.util.evaluations
from botocore.exceptions import ClientError
from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator, InvalidParametersError
from rdklib.util.service import (
    build_error_response,
    build_internal_error_response,
    build_parameters_value_error_response,
    is_internal_error,
)

from .drift import dependent_functions
from .engine import evaluate_account, evaluate_functions
from .fetch import Fetcher, action_for, apply_retry_environment
from .functions import MalformedInput, from_configuration_item
from .logs import configure as configure_logs
from .logs import log
from .model import LAMBDA_RESOURCE_TYPE
from .rules import InvalidParameter, Rule, get_rule

apply_retry_environment()
configure_logs()



class MalformedEvent(Exception):
    """An event, or the configuration item it leads to, unlike what AWS Config sends. Not a ValueError,
    which rdklib would answer as an internal error: `PackEvaluator.handle` answers it as `InvalidEvent`."""


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
        with _naming_missing_permissions():
            return self._evaluate_change(event, client_factory, configuration_item, valid_rule_parameters)

    def evaluate_periodic(self, event, client_factory, valid_rule_parameters):
        with _naming_missing_permissions():
            return self._evaluate_periodic(event, client_factory, valid_rule_parameters)

    def _evaluate_change(self, event, client_factory, configuration_item, valid_rule_parameters):
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
        problem = item_problem(configuration_item)  # again: an oversized item comes from its history
        if problem:
            raise MalformedEvent(problem)
        try:
            function = from_configuration_item(configuration_item)
        except MalformedInput as error:
            raise MalformedEvent(str(error)) from None
        facts = fetcher.facts_for([function], self.rule.needs)
        verdict = self.rule.evaluate(function, facts, valid_rule_parameters)
        return [Evaluation(verdict.compliance.value, annotation=verdict.annotation)]

    def _evaluate_periodic(self, event, client_factory, valid_rule_parameters):
        fetcher = Fetcher(client_factory.build_client)
        results = evaluate_account(fetcher, [self.rule], {self.rule.config_rule_name: valid_rule_parameters})
        return [
            Evaluation(result.compliance.value, result.resource_id, result.resource_type, result.annotation)
            for result in results
        ]


@contextlib.contextmanager
def _naming_missing_permissions():
    """rdklib turns AccessDenied into an error response from the error's message: put the IAM action in it."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "AccessDenied" in code or "UnauthorizedOperation" in code:
            message = error.response["Error"].get("Message", "")
            error.response["Error"]["Message"] = f"missing permission {action_for(error.operation_name)}: {message}"
        raise


MESSAGE_TYPES = ("ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification",
                 "ScheduledNotification")


def event_problem(event: Any) -> str | None:
    """What makes `event` unlike the events AWS Config sends a custom rule, or None."""
    if not isinstance(event, dict):
        return f"the event is a {type(event).__name__}, not an object"
    for key in ("invokingEvent", "resultToken", "executionRoleArn", "configRuleName"):
        if not isinstance(event.get(key), str) or not event[key]:
            return f"the event has no {key} string"
    if "/" not in event["executionRoleArn"]:
        return "executionRoleArn is not a role ARN"
    if not isinstance(event.get("eventLeftScope", False), bool):
        return "eventLeftScope is not a boolean"
    try:
        invoking = json.loads(event["invokingEvent"])
        parameters = json.loads(event.get("ruleParameters") or "{}")
    except (TypeError, ValueError) as error:
        return f"invokingEvent or ruleParameters is not JSON ({error})"
    if not isinstance(invoking, dict) or not isinstance(parameters, dict):
        return "invokingEvent and ruleParameters must be JSON objects"
    message_type = invoking.get("messageType")
    if message_type not in MESSAGE_TYPES:
        return f"unknown messageType {message_type!r}"
    item_key = {"ConfigurationItemChangeNotification": "configurationItem",
                "OversizedConfigurationItemChangeNotification": "configurationItemSummary"}.get(message_type)
    if item_key:
        item = invoking.get(item_key)
        if not isinstance(item, dict):
            return f"{message_type} without a {item_key} object"
        for key in ("resourceType", "resourceId", "configurationItemStatus", "configurationItemCaptureTime"):
            if not isinstance(item.get(key), str) or not item[key]:
                return f"{item_key} has no {key} string"
        if item_key == "configurationItem":
            return item_problem(item)
    return None


def item_problem(item: dict[str, Any]) -> str | None:
    """What is missing from a function's configuration item that AWS Config always sends, or None. Without
    `configuration`, a function that exists would look like one outside any VPC: NOT_APPLICABLE, invented."""
    if item.get("resourceType") != LAMBDA_RESOURCE_TYPE or not _exists(item):
        return None  # a related resource's item is read for its IDs only (drift); a deleted one has none
    if not isinstance(item.get("configuration"), dict):
        return f"the configuration item of {item.get('resourceId')} (status {item.get('configurationItemStatus')}) " \
               "has no configuration object"
    return None


# Rule parameters rdklib itself reads, before any error handling (`ClientFactory`).
_RDKLIB_PARAMETERS = ("ExecutionRoleName", "ExecutionRoleRegion", "AssumeRoleMode")


def rdklib_parameter_problem(event: dict[str, Any]) -> str | None:
    """What is wrong with the rule parameters rdklib reads itself, naming the parameter, or None."""
    parameters = json.loads(event.get("ruleParameters") or "{}")
    for name in _RDKLIB_PARAMETERS:
        if name in parameters and not isinstance(parameters[name], str):
            return f"{name}: invalid value {parameters[name]!r}: expected a string"
    mode = parameters.get("AssumeRoleMode")
    if mode is not None and mode.strip().lower() not in ("true", "false"):
        return f"AssumeRoleMode: invalid value {mode!r}: expected true or false"
    region = parameters.get("ExecutionRoleRegion")  # rdklib would use "" as a region name
    if region is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", region):
        return f"ExecutionRoleRegion: invalid value {region!r}: expected a region name such as us-east-1"
    return None


class PackEvaluator(Evaluator):
    def __init__(self, rule: Rule):
        super().__init__(PackRule(rule), list(rule.scope), is_applicable_status=True)
        self.rule = rule

    def handle(self, event, context):
        account = event.get("accountId") if isinstance(event, dict) else None
        problem = event_problem(event)
        if problem:
            return self._malformed(problem, account)
        problem = rdklib_parameter_problem(event)
        if problem:
            response = build_parameters_value_error_response(InvalidParametersError(problem))
        else:
            event = {"eventLeftScope": False, **event}  # rdklib reads it for every change notification
            try:
                with _naming_missing_permissions():
                    response = super().handle(event, context)
            except MalformedEvent as error:
                return self._malformed(str(error), account)
            except ClientError as error:
                # rdklib answers the AWS errors of the evaluation; these came before its error handling
                # (assuming the execution role, reading an oversized item's history): answered the same way.
                response = _client_error_response(error)
        if isinstance(response, dict):  # an error response: no evaluations were put
            log("no verdict", logging.ERROR, rule=self.rule.config_rule_name, account=account, outcome="error",
                error=response.get("customerErrorCode"), detail=response.get("customerErrorMessage"))
        return response

    def _malformed(self, problem: str, account: Any) -> dict[str, Any]:
        log("malformed event", logging.ERROR, rule=self.rule.config_rule_name, account=account,
            outcome="error", error="InvalidEvent", detail=problem)
        return build_error_response("Malformed event", problem, "InvalidEvent", problem)


def _client_error_response(error: ClientError) -> dict[str, Any]:
    """The response rdklib's `Evaluator.handle` gives an AWS error raised inside its error handling."""
    code, message = error.response["Error"].get("Code", ""), error.response["Error"].get("Message", "")
    if "AccessDenied" in code or "UnauthorizedOperation" in code:
        return build_error_response("Insufficient access to perform this action.", str(error), code, message)
    if is_internal_error(error):
        return build_internal_error_response("Unexpected error while completing API request", str(error))
    return build_error_response("Customer error while making API request", str(error), code, message)


_rdklib_init_event = rdklib.evaluator.init_event


def _init_event(event, client_factory):
    """rdklib's init_event (which inflates an oversized item from GetResourceConfigHistory), with a history
    that holds no item, or an item whose configuration is not JSON, answered as a malformed event."""
    try:
        return _rdklib_init_event(event, client_factory)
    except (IndexError, KeyError, TypeError, ValueError) as error:
        raise MalformedEvent(f"the oversized item's configuration history holds no usable item ({error!r})") from None


class PutEvaluationsFailed(RuntimeError):
    """AWS Config refused evaluations twice; the Lambda invocation fails so AWS Config shows an error."""


def _put_evaluations(event, client_factory, evaluations):
    """rdklib's process_evaluations, plus: refused evaluations (FailedEvaluations) are sent once more,
    then reported as an error; a refused call names the permission; every evaluation put is logged."""
    with _naming_missing_permissions():
        return _put_evaluations_in_batches(event, client_factory, evaluations)


def _put_evaluations_in_batches(event, client_factory, evaluations):
    config = client_factory.build_client("config")
    token = event["resultToken"]
    test_mode = token == "TESTMODE"
    if not evaluations:
        config.put_evaluations(Evaluations=[], ResultToken=token, TestMode=test_mode)
        return []
    for start in range(0, len(evaluations), 100):
        batch = evaluations[start : start + 100]
        failed = config.put_evaluations(Evaluations=batch, ResultToken=token, TestMode=test_mode).get(
            "FailedEvaluations") or []
        if failed:
            failed = config.put_evaluations(Evaluations=failed, ResultToken=token, TestMode=test_mode).get(
                "FailedEvaluations") or []
        if failed:
            ids = ", ".join(str(e.get("ComplianceResourceId")) for e in failed)
            log("evaluations refused", logging.ERROR, rule=event.get("configRuleName"), account=event.get("accountId"),
                outcome="error", error="FailedEvaluations", resources=ids)
            raise PutEvaluationsFailed(f"AWS Config refused {len(failed)} evaluation(s) twice: {ids}")
    for evaluation in evaluations:
        log("evaluation", rule=event.get("configRuleName"), account=event.get("accountId"),
            resource_type=evaluation.get("ComplianceResourceType"), resource=evaluation.get("ComplianceResourceId"),
            outcome=evaluation.get("ComplianceType"))
    return evaluations


_rdklib_clean_up = rdklib.util.evaluations.clean_up_old_evaluations


def _clean_up_old_evaluations(event, client_factory, latest_evaluations):
    """rdklib's clean-up on a scheduled run (GetComplianceDetailsByConfigRule), naming a refused permission."""
    with _naming_missing_permissions():
        return _rdklib_clean_up(event, client_factory, latest_evaluations)


rdklib.util.evaluations.process_evaluations = _put_evaluations
rdklib.util.evaluations.clean_up_old_evaluations = _clean_up_old_evaluations
rdklib.evaluator.init_event = _init_event


def _exists(item: dict[str, Any]) -> bool:
    return item.get("configurationItemStatus") in ("OK", "ResourceDiscovered")


def _in_scope(item: dict[str, Any], event: dict[str, Any]) -> bool:
    """rdklib's own test, which `is_applicable_status=True` turns off so that deleted related resources
    (a deleted NAT gateway, route table or role) still reach `evaluate_change`: a deleted function, or
    one that left the rule's scope, is NOT_APPLICABLE."""
    return _exists(item) and not event.get("eventLeftScope")


def evaluator_for(rule_name: str) -> PackEvaluator:
    """The rdklib Evaluator for one rule of the pack, over the resource types of its scope."""
    return PackEvaluator(get_rule(rule_name))
