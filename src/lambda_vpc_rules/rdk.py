"""Adapts the core to rdklib: one `ConfigRule` class serves every rule of the pack.

rdklib parses the event, inflates oversized items, assumes `ExecutionRoleName` / honours
`AssumeRoleMode`, batches PutEvaluations and clears stale evaluations; this class only builds a
`LambdaFunction` from the configuration item, reads facts through the shared fetch layer and turns
verdicts into rdklib `Evaluation`s.

Two gaps of rdklib 0.3.10 are closed here: an event that is not what AWS Config sends makes it raise
(KeyError, JSONDecodeError), so `PackEvaluator.handle` checks the event first and answers a malformed
one with an error response; and it ignores PutEvaluations' `FailedEvaluations`, so its
`process_evaluations` is replaced by one that sends refused evaluations once more, then fails loudly.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import rdklib.util.evaluations
from botocore.exceptions import ClientError
from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator, InvalidParametersError
from rdklib.util.service import build_error_response

from .drift import dependent_functions
from .engine import evaluate_account, evaluate_functions
from .fetch import Fetcher, action_for, apply_retry_environment
from .functions import from_configuration_item
from .logs import configure as configure_logs
from .logs import log
from .model import LAMBDA_RESOURCE_TYPE
from .rules import InvalidParameter, Rule, get_rule

apply_retry_environment()
configure_logs()



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
        function = from_configuration_item(configuration_item)
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
    return None


class PackEvaluator(Evaluator):
    def __init__(self, rule: Rule):
        super().__init__(PackRule(rule), list(rule.scope), is_applicable_status=True)
        self.rule = rule

    def handle(self, event, context):
        problem = event_problem(event)
        account = event.get("accountId") if isinstance(event, dict) else None
        if problem:
            log("malformed event", logging.ERROR, rule=self.rule.config_rule_name, account=account,
                outcome="error", error="InvalidEvent", detail=problem)
            return build_error_response("Malformed event", problem, "InvalidEvent", problem)
        event = {"eventLeftScope": False, **event}  # rdklib reads it for every change notification
        try:
            response = super().handle(event, context)
        except ClientError as error:  # rdklib answers AccessDenied itself; anything else is raised
            log("AWS error", logging.ERROR, rule=self.rule.config_rule_name, account=account, outcome="error",
                error=error.response["Error"]["Code"], action=action_for(error.operation_name))
            raise
        if isinstance(response, dict):  # rdklib's error response: no evaluations were put
            log("no verdict", logging.ERROR, rule=self.rule.config_rule_name, account=account, outcome="error",
                error=response.get("customerErrorCode"), detail=response.get("customerErrorMessage"))
        return response


class PutEvaluationsFailed(RuntimeError):
    """AWS Config refused evaluations twice; the Lambda invocation fails so AWS Config shows an error."""


def _put_evaluations(event, client_factory, evaluations):
    """rdklib's process_evaluations, plus: refused evaluations (FailedEvaluations) are sent once more,
    then reported as an error; every evaluation put is logged."""
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


rdklib.util.evaluations.process_evaluations = _put_evaluations


def _in_scope(item: dict[str, Any], event: dict[str, Any]) -> bool:
    """rdklib's own test, which `is_applicable_status=True` turns off so that deleted related resources
    (a deleted NAT gateway, route table or role) still reach `evaluate_change`: a deleted function, or
    one that left the rule's scope, is NOT_APPLICABLE."""
    return item.get("configurationItemStatus") in ("OK", "ResourceDiscovered") and not event.get("eventLeftScope")


def evaluator_for(rule_name: str) -> PackEvaluator:
    """The rdklib Evaluator for one rule of the pack, over the resource types of its scope."""
    return PackEvaluator(get_rule(rule_name))
