"""The rule handlers: one `PackEvaluator` serves every rule of the pack, on rdklib's building blocks.

`PackEvaluator.handle` owns the flow, in this order:
1. event checks: an event unlike what AWS Config sends is `InvalidEvent` (rdklib 0.3.10 would raise);
2. rule parameters, ours and those rdklib reads itself (`AssumeRoleMode`, `ExecutionRoleRegion`): a bad one is
   rdklib's parameter error response, before any AWS call;
3. clients: rdklib's `ClientFactory` (the `ExecutionRoleName` / `AssumeRoleMode` cross-account role), each
   client guarded against answers that are not AWS's (`fetch.guard`);
4. an oversized item read from its configuration history (rdklib's `init_event`); a history without a usable
   item is `InvalidEvent`;
   then the exceptions register the `ExceptionsRegister` parameter names, read once (`rdk.register`), applied
   to every verdict (`core.exceptions.apply`: an excepted verdict stays NON_COMPLIANT, its annotation naming
   the exception); a register that cannot be used is an error response, like a bad parameter, never a verdict;
   likewise the published SCP chains the `ScpChains` parameter names (`rdk.scps`), set as the account's
   `scp_chain` in the facts of the ENI rule (docs/scp.md);
5. the rule: the changed function, the functions depending on a changed related resource (drift), or, on a
   `ScheduledNotification`, every function of the account and region;
6. on a scheduled run only, after the listing was read whole: the stale-evaluation clean-up, which marks
   NOT_APPLICABLE the functions AWS Config holds a verdict for that the listing shows gone;
7. the evaluations put in batches of 100; refused ones are sent once more;
8. on a scheduled run, where the deployment names a snapshot location, the verdicts put are kept there
   (`aws.snapshots`, for evidence over an audit period); a snapshot not written fails the invocation.

Failures fail. AWS Config invokes a rule's function asynchronously ("by publishing an event": Config developer
guide, "Example AWS Lambda Functions and Events for AWS Config Rules"; the Lambda guide's "Using AWS Lambda
with AWS Config" shows no response), so a value the function returns is read by nobody. An invocation that
could not complete its evaluations therefore raises `InvocationFailed` (Lambda's `Errors` metric, the two
retries of an asynchronous invocation and its on-failure destination see it: Lambda guide, "How Lambda
handles errors and retries with asynchronous invocation"), after one JSON log line, "invocation failed",
saying what was evaluated, which batches were put (a PutEvaluations refused on batch k names the k-1 put
before it) and whether the clean-up ran: an AWS error (AccessDenied names the IAM action), throttling that
outlasted the retries, an unreadable answer, evaluations refused twice, an unexpected exception, or the time
budget spent (`budget.py`: the reads stop with a margin to put what was evaluated; the clean-up never runs
after a partial listing). The exception carries rdklib's error response for the same error (`response`).

Two outcomes stay rdklib's error responses, returned, with an ERROR log line ("malformed event", "no
verdict") that the pack's metric filter counts: an event unlike AWS Config's, and a bad rule parameter. Both
are deterministic (the retries would fail the same way, and the on-failure destination would hold an event
that can never succeed), both are found before any AWS call, and rdklib defines their answer
(`build_parameters_value_error_response`). The alarm still fires on them, through the metric filter.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from rdklib import ComplianceType, ConfigRule, Evaluation, InvalidParametersError
from rdklib.clientfactory import ClientFactory
from rdklib.evaluator import init_event
from rdklib.util.service import (
    build_error_response,
    build_internal_error_response,
    build_parameters_value_error_response,
    is_internal_error,
)

from ..aws.account import evaluate_account
from ..aws.clients import Clients, apply_retry_environment, is_access_denied, name_missing_permission, session_clients
from ..aws.config import ConfigReader, DeployedRule
from ..aws.drift import dependent_functions
from ..aws.facts import FactReader
from ..aws.parse import MalformedInput, from_configuration_item
from ..aws.snapshots import snapshot_document, snapshot_settings, write_snapshot
from ..core.engine import evaluate_functions
from ..core.exceptions import InForce, RegisterError
from ..core.model import LAMBDA_RESOURCE_TYPE, Compliance, Facts
from ..core.rules import InvalidParameter, Rule, get_rule
from ..core.scp import ScpChain, ScpDocumentError
from ..errors import PackError, UnreadableAnswer
from .budget import Deadline, OutOfTime, margin_seconds
from .events import MalformedEvent, event_problem, exists, item_problem, rdklib_parameter_problem
from .logs import configure as configure_logs
from .logs import log
from .register import in_force as register_in_force
from .scps import chain_for as scp_chain_for

# The handler stands on rdklib's building blocks as this version has them (ClientFactory, init_event,
# Evaluation, the error responses): another version is refused here, with a clear error, not misread.
RDKLIB_VERSION = "0.3.10"
PUT_BATCH = 100  # PutEvaluations takes at most 100 evaluations


def _rdklib_version() -> str | None:
    try:
        return metadata.version("rdklib")
    except metadata.PackageNotFoundError:  # rdklib without its package metadata (copied, not installed)
        return None


if _rdklib_version() not in (RDKLIB_VERSION, None):
    raise ImportError(f"lambda-vpc-rules' handlers are written against rdklib {RDKLIB_VERSION}; this runtime has "
                      f"rdklib {_rdklib_version()}: build the bundles with rdklib=={RDKLIB_VERSION} installed "
                      "(make package)")

configure_logs()


class InvocationFailed(RuntimeError):
    """The invocation could not complete its evaluations (module docstring). `response`: rdklib's error
    response for the error; `progress`: what was evaluated and put before it."""

    def __init__(self, response: dict[str, Any], progress: Progress | None = None):
        self.response = response
        self.progress = progress or Progress()
        code = response.get("customerErrorCode") or "InternalError"
        detail = response.get("customerErrorMessage") or response.get("internalErrorDetails") or ""
        super().__init__(f"{code}: {detail} ({self.progress.summary()})")


class PutEvaluationsFailed(InvocationFailed):
    """AWS Config refused evaluations twice."""


class _Refused(RuntimeError):
    """AWS Config refused evaluations twice (becomes PutEvaluationsFailed, with the progress made)."""


@dataclass
class Progress:
    """How far an invocation got: what it evaluated, the batches put, and the clean-up."""

    evaluated: int | None = None  # evaluations made (None: none, the rule did not complete)
    put: int = 0
    batches: int = 0  # batches to put
    batches_put: list[str] = field(default_factory=list)  # "batch 1: 100 evaluations (fn-a .. fn-z)"
    cleanup: str = "not a scheduled run"

    def summary(self) -> str:
        if self.evaluated is None:
            return "nothing evaluated, nothing put"
        return (f"{self.evaluated} evaluated, {self.put} put in {len(self.batches_put)} of {self.batches} "
                f"batch(es), {self.evaluated - self.put} not put; clean-up: {self.cleanup}")

    def fields(self) -> dict[str, Any]:
        return {"evaluated": self.evaluated, "put": self.put,
                "not_put": None if self.evaluated is None else self.evaluated - self.put,
                "batches": self.batches, "batches_put": self.batches_put, "cleanup": self.cleanup,
                "summary": self.summary()}


class PackEvaluator:
    """The handler of one rule of the pack (module docstring: the flow)."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self._role_settings = ConfigRule()  # rdklib's reading of ExecutionRoleName, ExecutionRoleRegion, AssumeRoleMode

    def handle(self, event: Any, context: Any) -> list[dict[str, Any]] | dict[str, Any]:
        account = event.get("accountId") if isinstance(event, dict) else None
        progress = Progress()
        try:
            response = self._handle(event, context, progress)
        except MalformedEvent as error:
            log("malformed event", logging.ERROR, rule=self.rule.config_rule_name, account=account,
                outcome="error", error="InvalidEvent", detail=str(error))
            return build_error_response("Malformed event", str(error), "InvalidEvent", str(error))
        except (RegisterError, ScpDocumentError) as error:  # deterministic, like a bad parameter: retries cannot
            # mend it
            response = build_error_response(str(error), str(error), type(error).__name__, str(error))
        except _Refused as error:
            self._fail(account, progress, build_error_response(str(error), str(error), "FailedEvaluations",
                                                               str(error)), PutEvaluationsFailed, error)
        except ClientError as error:
            self._fail(account, progress, _client_error_response(error), InvocationFailed, error)
        except UnreadableAnswer as error:
            self._fail(account, progress, build_error_response("An AWS answer could not be read", str(error),
                                                               "UnreadableAnswer", str(error)), InvocationFailed, error)
        except PackError as error:  # OutOfTime, InvalidSetting, ...
            self._fail(account, progress, build_error_response(str(error), str(error), type(error).__name__,
                                                               str(error)), InvocationFailed, error)
        except Exception as error:  # noqa: BLE001 - never a crash without a log line saying what was put
            self._fail(account, progress, build_internal_error_response(
                "Unexpected error", f"{type(error).__name__}: {error}"), InvocationFailed, error)
        if isinstance(response, dict):  # a parameter error response: nothing was evaluated or put
            log("no verdict", logging.ERROR, rule=self.rule.config_rule_name, account=account, outcome="error",
                error=response.get("customerErrorCode"),
                detail=response.get("customerErrorMessage") or response.get("internalErrorDetails"))
        return response

    def _fail(self, account: str | None, progress: Progress, response: dict[str, Any],
              kind: type[InvocationFailed], cause: Exception) -> None:
        """One JSON line with what was and was not put, then the invocation fails."""
        log("invocation failed", logging.ERROR, rule=self.rule.config_rule_name, account=account, outcome="failed",
            error=response.get("customerErrorCode") or "InternalError",
            detail=response.get("customerErrorMessage") or response.get("internalErrorDetails"), **progress.fields())
        raise kind(response, progress) from cause

    def _handle(self, event: Any, context: Any, progress: Progress) -> list[dict[str, Any]] | dict[str, Any]:
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
        deadline = Deadline(context, margin_seconds())
        with _naming_missing_permissions():
            deadline.check("reading the account")
            factory = ClientFactory(
                role_arn=self._role_settings.get_execution_role_arn(event),
                region=self._role_settings.get_assume_role_region(event),
                assume_role_mode=self._role_settings.get_assume_role_mode(event),
            )
            clients = Clients(lambda service: deadline.guard(factory.build_client(service)))
            invoking = _invoking_event(event, clients)
            reader = FactReader(clients)
            exceptions = register_in_force(raw_parameters, clients, invoking, self.rule.config_rule_name)
            scps = scp_chain_for(raw_parameters, clients, invoking, event.get("accountId", ""),
                                 self.rule.config_rule_name)
            if invoking["messageType"] == "ScheduledNotification":
                progress.cleanup = "not run (the listing was not read whole)"
                put = self._evaluate_account(event, reader, parameters, progress, exceptions, scps)
                _record_snapshot(event, self.rule, put)
                return put
            evaluations = self._evaluate_change(event, invoking["configurationItem"], reader, parameters, exceptions,
                                                scps)
            progress.evaluated = len(evaluations)
            return _put_evaluations(event, clients, evaluations, progress)

    def _evaluate_change(self, event: dict[str, Any], item: dict[str, Any], reader: FactReader,
                         parameters: dict[str, Any], exceptions: InForce | None = None,
                         scps: ScpChain | None = None) -> list[dict[str, Any]]:
        if item.get("resourceType") not in self.rule.scope:
            return _for_item(item, [Evaluation(ComplianceType.NOT_APPLICABLE)])
        if item.get("resourceType") != LAMBDA_RESOURCE_TYPE:
            # Drift: a resource the rule depends on changed. Its functions get fresh evaluations; the
            # resource itself is NOT_APPLICABLE, so Config shows no verdict of ours on it.
            functions = dependent_functions(reader, item)
            results = evaluate_functions(self.rule, functions, _with_scps(reader.facts_for(functions, self.rule.needs),
                                                                          scps), parameters,
                                         event.get("accountId", ""), reader.clients.region, exceptions)
            return _for_item(item, [Evaluation(ComplianceType.NOT_APPLICABLE)] + [
                Evaluation(r.compliance.value, r.resource_id, r.resource_type, r.annotation) for r in results])
        if not exists(item) or event["eventLeftScope"]:  # a deleted function, or one that left the rule's scope
            return _for_item(item, [Evaluation(ComplianceType.NOT_APPLICABLE)])
        problem = item_problem(item)  # again: an oversized item comes from its history
        if problem:
            raise MalformedEvent(problem)
        try:
            function = from_configuration_item(item)
        except MalformedInput as error:
            raise MalformedEvent(str(error)) from None
        verdict = evaluate_functions(self.rule, [function], _with_scps(reader.facts_for([function], self.rule.needs),
                                                                       scps), parameters,
                                     item.get("awsAccountId", ""), item.get("awsRegion", ""), exceptions)[0]
        return _for_item(item, [Evaluation(verdict.compliance.value, annotation=verdict.annotation)])

    def _evaluate_account(self, event: dict[str, Any], reader: FactReader, parameters: dict[str, Any],
                          progress: Progress, exceptions: InForce | None = None, scps: ScpChain | None = None
                          ) -> list[dict[str, Any]]:
        """Every function of the account and region, then the clean-up: only after the listing was read
        whole (a failed or unreadable read raised before this), and only for functions it shows gone. Out
        of time while reading what AWS Config holds: the evaluations made are put, without the clean-up,
        and the invocation fails."""
        results = evaluate_account(reader, [self.rule], {self.rule.config_rule_name: parameters},
                                   account_id=event.get("accountId", ""), exceptions=exceptions,
                                   scps=None if scps is None else lambda: scps)
        listed = {(r.resource_type, r.resource_id) for r in results}
        evaluations = [Evaluation(r.compliance.value, r.resource_id, r.resource_type, r.annotation) for r in results]
        progress.evaluated, progress.cleanup = len(evaluations), "not run (AWS Config's verdicts not read yet)"
        try:
            held = ConfigReader(reader.clients).evaluations(
                [DeployedRule(event["configRuleName"], self.rule.config_rule_name, {})], event.get("accountId", ""),
                (Compliance.COMPLIANT, Compliance.NON_COMPLIANT))
        except OutOfTime as error:
            progress.cleanup = f"skipped: out of time reading AWS Config's verdicts ({error})"
            _put_evaluations(event, reader.clients, _periodic(event, evaluations), progress)
            raise
        gone = sorted({(r.resource_type, r.resource_id) for r in held if r.resource_type == LAMBDA_RESOURCE_TYPE}
                      - listed)
        evaluations = [Evaluation(ComplianceType.NOT_APPLICABLE, resource_id, resource_type)
                       for resource_type, resource_id in gone] + evaluations
        progress.evaluated = len(evaluations)
        progress.cleanup = f"{len(gone)} function(s) gone marked NOT_APPLICABLE"
        return _put_evaluations(event, reader.clients, _periodic(event, evaluations), progress)


def _with_scps(facts: Facts, scps: ScpChain | None) -> Facts:
    """The facts with the published SCP chain of the account, where one was read."""
    return facts if scps is None else dataclasses.replace(facts, scp_chain=scps)


def _periodic(event: dict[str, Any], evaluations: list[Evaluation]) -> list[dict[str, Any]]:
    for evaluation in evaluations:
        evaluation.import_fields_from_periodic_event(event)
    return [evaluation.get_json() for evaluation in evaluations if evaluation.is_valid()]


def _for_item(item: dict[str, Any], evaluations: list[Evaluation]) -> list[dict[str, Any]]:
    """PutEvaluations entries, stamped with the item's capture time (and its resource, where not set)."""
    for evaluation in evaluations:
        evaluation.import_fields_from_configuration_item(item)
    return [evaluation.get_json() for evaluation in evaluations if evaluation.is_valid()]


def _invoking_event(event: dict[str, Any], clients: Clients) -> dict[str, Any]:
    """rdklib's init_event, which reads an oversized item from GetResourceConfigHistory; a history that
    holds no item, or an item whose configuration is not JSON, is a malformed event."""

    class _Factory:  # init_event asks a client factory for its config client
        build_client = staticmethod(clients)

    try:
        return init_event(event, _Factory())
    except (IndexError, KeyError, TypeError, ValueError) as error:
        raise MalformedEvent(f"the oversized item's configuration history holds no usable item ({error!r})") from None


@contextlib.contextmanager
def _naming_missing_permissions() -> Iterator[None]:
    """An AccessDenied answer's message, with the IAM action it lacks in front."""
    try:
        yield
    except ClientError as error:
        raise name_missing_permission(error) from None


def _client_error_response(error: ClientError) -> dict[str, Any]:
    """The error response rdklib's Evaluator.handle gives an AWS error (it keeps that mapping inline, not as
    a function to call)."""
    code, message = error.response["Error"].get("Code", ""), error.response["Error"].get("Message", "")
    if is_access_denied(error):
        return build_error_response("Insufficient access to perform this action.", str(error), code, message)
    if is_internal_error(error):
        return build_internal_error_response("Unexpected error while completing API request", str(error))
    return build_error_response("Customer error while making API request", str(error), code, message)


def _put_evaluations(event: dict[str, Any], clients: Clients, evaluations: list[dict[str, Any]],
                     progress: Progress) -> list[dict[str, Any]]:
    """PutEvaluations in batches of 100, each batch logged (one line per evaluation) and counted in `progress`
    once AWS Config took it; evaluations it refuses (FailedEvaluations) are sent once more, then `_Refused`."""
    config = clients("config")
    token = event["resultToken"]
    test_mode = token == "TESTMODE"

    def put(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return config.put_evaluations(Evaluations=batch, ResultToken=token, TestMode=test_mode).get(
            "FailedEvaluations") or []

    if not evaluations:
        put([])
        return []
    batches = [evaluations[start : start + PUT_BATCH] for start in range(0, len(evaluations), PUT_BATCH)]
    progress.batches = len(batches)
    for number, batch in enumerate(batches, 1):
        refused = put(batch)
        if refused:
            refused = put(refused)
        if refused:
            ids = ", ".join(str(e.get("ComplianceResourceId")) for e in refused)
            log("evaluations refused", logging.ERROR, rule=event.get("configRuleName"),
                account=event.get("accountId"), outcome="error", error="FailedEvaluations", batch=number,
                resources=ids)
            raise _Refused(f"AWS Config refused {len(refused)} evaluation(s) twice, in batch {number}: {ids}")
        for evaluation in batch:
            log("evaluation", rule=event.get("configRuleName"), account=event.get("accountId"),
                resource_type=evaluation.get("ComplianceResourceType"),
                resource=evaluation.get("ComplianceResourceId"), outcome=evaluation.get("ComplianceType"))
        progress.put += len(batch)
        first, last = batch[0].get("ComplianceResourceId"), batch[-1].get("ComplianceResourceId")
        progress.batches_put.append(f"batch {number}: {len(batch)} evaluations ({first} .. {last})")
    return evaluations


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SnapshotFailed(PackError):
    """The evaluations were put, but the run's snapshot could not be written: the invocation fails, so the
    missing day of evidence is seen (Errors metric, alarms) instead of discovered at audit time."""


@functools.cache
def _own_clients() -> Clients:
    """The function's own role's clients (not rdklib's, which may be another account's role), built once per
    Lambda environment: an S3 client costs about 50 ms to build."""
    return Clients(session_clients(boto3.Session()))


def _record_snapshot(event: dict[str, Any], rule: Rule, evaluations: list[dict[str, Any]]) -> None:
    """A scheduled run's verdicts, kept where the deployment says (aws/snapshots.py), with the function's own
    role; nothing when no location is set or in AWS Config's test mode."""
    settings = snapshot_settings()
    if settings is None or event.get("resultToken") == "TESTMODE":
        return
    location, key_id = settings
    region = event.get("configRuleArn", "").split(":")[3] if event.get("configRuleArn", "").count(":") >= 5 \
        else os.environ.get("AWS_REGION", "")
    document = snapshot_document(event.get("accountId", ""), region, rule.config_rule_name,
                                 event.get("configRuleName", ""), _now(), evaluations)
    try:
        key = write_snapshot(_own_clients(), location, document, key_id)
    except (ClientError, BotoCoreError, PackError) as error:
        log("snapshot not written", logging.ERROR, rule=rule.config_rule_name, account=event.get("accountId"),
            outcome="error", error=type(error).__name__, detail=str(error), evaluations_put=len(evaluations))
        raise SnapshotFailed(f"{len(evaluations)} evaluations were put, but the snapshot was not written to "
                             f"{location}: {error}") from None
    log("snapshot", rule=rule.config_rule_name, account=event.get("accountId"), outcome="written",
        key=key, verdicts=len(document["verdicts"]))


def evaluator_for(rule_name: str) -> PackEvaluator:
    """The handler of one rule of the pack."""
    return PackEvaluator(get_rule(rule_name))
