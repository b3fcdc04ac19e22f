"""The rule handlers: one `PackEvaluator` serves every rule of the pack, on rdklib's building blocks.

`PackEvaluator.handle` owns the flow, in this order:
1. event checks: an event unlike what AWS Config sends is `InvalidEvent` (rdklib 0.3.10 would raise);
2. rule parameters, ours and those rdklib reads itself (`AssumeRoleMode`, `ExecutionRoleRegion`): a bad one is
   rdklib's parameter error response, before any AWS call;
3. clients: rdklib's `ClientFactory` (the `ExecutionRoleName` / `AssumeRoleMode` cross-account role), each
   client guarded against answers that are not AWS's (`fetch.guard`);
4. an oversized item read from its configuration history (rdklib's `init_event`); a history without a usable
   item is `InvalidEvent`;
5. the rule: the changed function, the functions depending on a changed related resource (drift), or, on a
   `ScheduledNotification`, every function of the account and region;
6. on a scheduled run only, after the listing was read whole: the stale-evaluation clean-up, which marks
   NOT_APPLICABLE the functions AWS Config holds a verdict for that the listing shows gone;
7. the evaluations put in batches of 100; refused ones are sent once more, then the invocation fails
   (`PutEvaluationsFailed`) so that AWS Config shows the error.

Any failure before step 7 puts nothing: an AWS error, an unreadable answer or an unexpected exception is an
error response (rdklib's format) with a JSON log line; AccessDenied names the IAM action.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from rdklib import ComplianceType, ConfigRule, Evaluation, InvalidParametersError
from rdklib.clientfactory import ClientFactory
from rdklib.evaluator import init_event
from rdklib.util.service import (
    build_error_response,
    build_internal_error_response,
    build_parameters_value_error_response,
    is_internal_error,
)

from .drift import dependent_functions
from .engine import evaluate_account, evaluate_functions
from .errors import PackError, UnreadableAnswer
from .fetch import DeployedRule, Fetcher, action_for, apply_retry_environment, guard
from .functions import MalformedInput, from_configuration_item
from .logs import configure as configure_logs
from .logs import log
from .model import LAMBDA_RESOURCE_TYPE, Compliance
from .rules import InvalidParameter, Rule, get_rule

configure_logs()


class MalformedEvent(Exception):
    """An event, or the configuration item it leads to, unlike what AWS Config sends: `InvalidEvent`."""


class PutEvaluationsFailed(RuntimeError):
    """AWS Config refused evaluations twice; the Lambda invocation fails so AWS Config shows an error."""


MESSAGE_TYPES = ("ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification",
                 "ScheduledNotification")
PUT_BATCH = 100  # PutEvaluations takes at most 100 evaluations


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
    elif not isinstance(invoking.get("notificationCreationTime"), str):
        return "ScheduledNotification without a notificationCreationTime string"
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


def rdklib_parameter_problem(parameters: dict[str, Any]) -> str | None:
    """What is wrong with the rule parameters rdklib reads itself, naming the parameter, or None."""
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


class _GuardedClients:
    """rdklib's ClientFactory, each client it builds guarded against answers that are not AWS's."""

    def __init__(self, factory: ClientFactory):
        self._factory = factory

    def build_client(self, service: str) -> Any:
        return guard(self._factory.build_client(service))


class PackEvaluator:
    """The handler of one rule of the pack (module docstring: the flow)."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self._role_settings = ConfigRule()  # rdklib's reading of ExecutionRoleName, ExecutionRoleRegion, AssumeRoleMode

    def handle(self, event: Any, context: Any) -> list[dict[str, Any]] | dict[str, Any]:
        account = event.get("accountId") if isinstance(event, dict) else None
        try:
            response = self._handle(event)
        except MalformedEvent as error:
            log("malformed event", logging.ERROR, rule=self.rule.config_rule_name, account=account,
                outcome="error", error="InvalidEvent", detail=str(error))
            return build_error_response("Malformed event", str(error), "InvalidEvent", str(error))
        except PutEvaluationsFailed:
            raise  # some evaluations may be in already: fail the invocation, so AWS Config shows it
        except ClientError as error:
            response = _client_error_response(error)
        except UnreadableAnswer as error:
            response = build_error_response("An AWS answer could not be read", str(error), "UnreadableAnswer",
                                            str(error))
        except PackError as error:
            response = build_error_response(str(error), str(error), type(error).__name__, str(error))
        except Exception as error:  # noqa: BLE001 - never a crash without an answer and a log line
            response = build_internal_error_response("Unexpected error", f"{type(error).__name__}: {error}")
        if isinstance(response, dict):  # an error response: no evaluations were put
            log("no verdict", logging.ERROR, rule=self.rule.config_rule_name, account=account, outcome="error",
                error=response.get("customerErrorCode"),
                detail=response.get("customerErrorMessage") or response.get("internalErrorDetails"))
        return response

    def _handle(self, event: Any) -> list[dict[str, Any]] | dict[str, Any]:
        problem = event_problem(event)
        if problem:
            raise MalformedEvent(problem)
        event = {"eventLeftScope": False, **event}  # AWS Config leaves it out of some notifications
        raw_parameters = json.loads(event.get("ruleParameters") or "{}")
        problem = rdklib_parameter_problem(raw_parameters)
        try:
            if problem:
                raise InvalidParameter(problem)
            parameters = self.rule.parse_parameters(raw_parameters)
        except InvalidParameter as error:
            return build_parameters_value_error_response(InvalidParametersError(str(error)))
        apply_retry_environment()
        with _naming_missing_permissions():
            clients = _GuardedClients(ClientFactory(
                role_arn=self._role_settings.get_execution_role_arn(event),
                region=self._role_settings.get_assume_role_region(event),
                assume_role_mode=self._role_settings.get_assume_role_mode(event),
            ))
            invoking = _invoking_event(event, clients)
            fetcher = Fetcher(clients.build_client)
            if invoking["messageType"] == "ScheduledNotification":
                evaluations = self._evaluate_account(event, fetcher, parameters)
            else:
                evaluations = self._evaluate_change(event, invoking["configurationItem"], fetcher, parameters)
            return _put_evaluations(event, clients, evaluations)

    def _evaluate_change(self, event: dict[str, Any], item: dict[str, Any], fetcher: Fetcher,
                         parameters: dict[str, Any]) -> list[dict[str, Any]]:
        if item.get("resourceType") not in self.rule.scope:
            return _for_item(item, [Evaluation(ComplianceType.NOT_APPLICABLE)])
        if item.get("resourceType") != LAMBDA_RESOURCE_TYPE:
            # Drift: a resource the rule depends on changed. Its functions get fresh evaluations; the
            # resource itself is NOT_APPLICABLE, so Config shows no verdict of ours on it.
            functions, network = dependent_functions(fetcher, item)
            facts = fetcher.facts_for(functions, self.rule.needs, network)
            results = evaluate_functions(self.rule, functions, facts, parameters)
            return _for_item(item, [Evaluation(ComplianceType.NOT_APPLICABLE)] + [
                Evaluation(r.compliance.value, r.resource_id, r.resource_type, r.annotation) for r in results])
        if not _exists(item) or event["eventLeftScope"]:  # a deleted function, or one that left the rule's scope
            return _for_item(item, [Evaluation(ComplianceType.NOT_APPLICABLE)])
        problem = item_problem(item)  # again: an oversized item comes from its history
        if problem:
            raise MalformedEvent(problem)
        try:
            function = from_configuration_item(item)
        except MalformedInput as error:
            raise MalformedEvent(str(error)) from None
        verdict = self.rule.evaluate(function, fetcher.facts_for([function], self.rule.needs), parameters)
        return _for_item(item, [Evaluation(verdict.compliance.value, annotation=verdict.annotation)])

    def _evaluate_account(self, event: dict[str, Any], fetcher: Fetcher, parameters: dict[str, Any]
                          ) -> list[dict[str, Any]]:
        """Every function of the account and region, then the clean-up: only after the listing was read
        whole (a failed or unreadable read raised before this), and only for functions it shows gone."""
        results = evaluate_account(fetcher, [self.rule], {self.rule.config_rule_name: parameters})
        listed = {(r.resource_type, r.resource_id) for r in results}
        held = fetcher.config_evaluations([DeployedRule(event["configRuleName"], self.rule.config_rule_name, {})],
                                          event.get("accountId", ""), (Compliance.COMPLIANT, Compliance.NON_COMPLIANT))
        gone = sorted({(r.resource_type, r.resource_id) for _, _, r in held
                       if r.resource_type == LAMBDA_RESOURCE_TYPE} - listed)
        evaluations = [Evaluation(ComplianceType.NOT_APPLICABLE, resource_id, resource_type)
                       for resource_type, resource_id in gone]
        evaluations += [Evaluation(r.compliance.value, r.resource_id, r.resource_type, r.annotation) for r in results]
        for evaluation in evaluations:
            evaluation.import_fields_from_periodic_event(event)
        return [evaluation.get_json() for evaluation in evaluations if evaluation.is_valid()]


def _for_item(item: dict[str, Any], evaluations: list[Evaluation]) -> list[dict[str, Any]]:
    """PutEvaluations entries, stamped with the item's capture time (and its resource, where not set)."""
    for evaluation in evaluations:
        evaluation.import_fields_from_configuration_item(item)
    return [evaluation.get_json() for evaluation in evaluations if evaluation.is_valid()]


def _invoking_event(event: dict[str, Any], clients: _GuardedClients) -> dict[str, Any]:
    """rdklib's init_event, which reads an oversized item from GetResourceConfigHistory; a history that
    holds no item, or an item whose configuration is not JSON, is a malformed event."""
    try:
        return init_event(event, clients)
    except (IndexError, KeyError, TypeError, ValueError) as error:
        raise MalformedEvent(f"the oversized item's configuration history holds no usable item ({error!r})") from None


def _exists(item: dict[str, Any]) -> bool:
    return item.get("configurationItemStatus") in ("OK", "ResourceDiscovered")


@contextlib.contextmanager
def _naming_missing_permissions() -> Iterator[None]:
    """An AccessDenied answer's message, with the IAM action it lacks in front."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "AccessDenied" in code or "UnauthorizedOperation" in code:
            message = error.response["Error"].get("Message", "")
            error.response["Error"]["Message"] = f"missing permission {action_for(error.operation_name)}: {message}"
        raise


def _client_error_response(error: ClientError) -> dict[str, Any]:
    """rdklib's response to an AWS error."""
    code, message = error.response["Error"].get("Code", ""), error.response["Error"].get("Message", "")
    if "AccessDenied" in code or "UnauthorizedOperation" in code:
        return build_error_response("Insufficient access to perform this action.", str(error), code, message)
    if is_internal_error(error):
        return build_internal_error_response("Unexpected error while completing API request", str(error))
    return build_error_response("Customer error while making API request", str(error), code, message)


def _put_evaluations(event: dict[str, Any], clients: _GuardedClients, evaluations: list[dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """PutEvaluations in batches of 100; refused evaluations (FailedEvaluations) are sent once more, then
    reported as an error. Every evaluation put is logged."""
    config = clients.build_client("config")
    token = event["resultToken"]
    test_mode = token == "TESTMODE"
    if not evaluations:
        config.put_evaluations(Evaluations=[], ResultToken=token, TestMode=test_mode)
        return []
    for start in range(0, len(evaluations), PUT_BATCH):
        batch = evaluations[start : start + PUT_BATCH]
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


def evaluator_for(rule_name: str) -> PackEvaluator:
    """The handler of one rule of the pack."""
    return PackEvaluator(get_rule(rule_name))
