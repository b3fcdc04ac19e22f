"""The CloudFormation Lambda Hook (`AWS::CloudFormation::LambdaHook`): the pack's rules before CloudFormation
creates or updates a Lambda function, on the same path as `check` (`iac.check`), with the account's
existing resources read as `scan` reads them.

Request and response shapes: CloudFormation Hooks User Guide, "Create Lambda functions to evaluate
resources for Lambda Hooks" (lambda-hooks-create-lambda-function):
- every request: `clientRequestToken`, `awsAccountId`, `stackId`, `changeSetId`, `hookTypeName`,
  `actionInvocationPoint` (`CREATE_PRE_PROVISION` | `UPDATE_PRE_PROVISION` | `DELETE_PRE_PROVISION`),
  `requestData` {`targetName`, `targetType`, `targetLogicalId`, ...}, `requestContext` {`invocation`,
  `callbackContext`};
- a resource operation: `requestData.targetModel` {`resourceProperties`, `previousResourceProperties` on
  update}, the properties as CloudFormation will send them (references already resolved to IDs);
- a stack operation (`targetType` `STACK`) and a change set (`CHANGE_SET`): `requestData.payload`, a
  presigned S3 URL of a JSON document: the stack's `template` (and `previousTemplate`), or the change
  set's `template` and `changedResources` [{`action`, `logicalResourceId`, `resourceType`, `lineNumber`,
  `beforeContext`, `afterContext`}];
- the answer: `hookStatus` (`SUCCESS` | `FAILED` | `IN_PROGRESS`), `errorCode` (`NonCompliant` |
  `InternalFailure`) when FAILED, `message` (CloudFormation keeps 4,096 characters), `clientRequestToken`.
The hook waits up to 30 seconds for the function: the reads are the batched reads of `scan` (a budget
test counts them for 200 functions in one stack).

| request | answer |
|---|---|
| delete (`DELETE_PRE_PROVISION`) | SUCCESS: nothing is created |
| a resource of another type | SUCCESS, says it is not evaluated |
| an `AWS::Lambda::Function` (SAM's, after the transform) created or updated, every rule COMPLIANT or NOT_APPLICABLE | SUCCESS |
| ... some rule NON_COMPLIANT (or not established: never passed as COMPLIANT) | FAILED, `NonCompliant`, the rules' annotations |
| a stack or change set: every function its template would create or change, judged as `check` judges a template | as above, over all of them |
| a change set whose changes hold no function | SUCCESS |
| a request without the documented shape, a payload that cannot be fetched or parsed, a read that fails | FAILED, `InternalFailure`, says what (the hook's FailureMode decides: FAIL blocks, WARN warns) |

The exceptions register is the rules': a function tagged `lambda-vpc-rules:internet-access` = `none` is
judged without internet access, as by the deployed rule. Rule parameters: the `RULE_PARAMETERS`
environment variable, a JSON object of NAME: VALUE strings as in AWS Config (default: every rule's
defaults).
"""  # noqa: E501 (the table)

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..aws.clients import Clients
from ..aws.facts import FactReader
from ..aws.register import PARAMETER as REGISTER_PARAMETER
from ..aws.register import read_published
from ..core.engine import parse_parameters
from ..core.exceptions import InForce
from ..core.rules import RULES, Rule
from ..errors import PackError
from ..iac.check import CheckRow, check_template, check_translated
from ..iac.resolve import Context
from ..iac.sam import plain

MESSAGE_LIMIT = 4096  # CloudFormation truncates a hook's message here
FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
INVOCATION_POINTS = ("CREATE_PRE_PROVISION", "UPDATE_PRE_PROVISION", "DELETE_PRE_PROVISION")
PAYLOAD_TIMEOUT = 5  # seconds for the presigned URL, within the hook's 30


class HookRequestError(PackError, ValueError):
    """A request without the documented shape, or a payload that cannot be read."""


def _answer(token: str, status: str, message: str, error_code: str | None = None) -> dict[str, Any]:
    answer = {"hookStatus": status, "message": message[:MESSAGE_LIMIT], "clientRequestToken": token}
    if error_code:
        answer["errorCode"] = error_code
    return answer


def fetch_payload(url: str) -> Mapping[str, Any]:
    """The stack's or change set's document behind the presigned URL."""
    if not url.startswith("https://"):
        raise HookRequestError("the payload is not an https URL")
    with urllib.request.urlopen(url, timeout=PAYLOAD_TIMEOUT) as response:  # noqa: S310 - https only
        return json.loads(response.read().decode("utf-8"))


def _template(body: Any) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, str):
        raise HookRequestError("the payload holds no template")
    from cfnlint.decode import decode_str

    template, matches = decode_str(body)
    if matches or not isinstance(template, Mapping):
        raise HookRequestError("the payload's template cannot be parsed")
    return template


def _summary(rows: Sequence[CheckRow]) -> tuple[str, bool]:
    failing = [row for row in rows if row.result.failing]  # an excepted verdict does not stop the stack
    if not failing:
        judged = len({row.logical_id for row in rows})
        return f"lambda-vpc-rules: {judged} function(s), every rule COMPLIANT or NOT_APPLICABLE.", True
    lines = [f"{row.logical_id}: {row.result.rule}: {row.result.annotation}" for row in failing]
    head = f"lambda-vpc-rules: {len(failing)} NON_COMPLIANT verdict(s). "
    return head + " | ".join(lines), False


def evaluate(event: Mapping[str, Any], clients: Clients, rules: Sequence[Rule] = RULES,
             raw_parameters: Mapping[str, str] | None = None,
             fetch: Callable[[str], Mapping[str, Any]] = fetch_payload) -> dict[str, Any]:
    """The hook's answer to one request."""
    token = event.get("clientRequestToken") if isinstance(event, Mapping) else None
    if not isinstance(token, str):
        return _answer("", "FAILED", "request has no clientRequestToken", "InternalFailure")
    try:
        return _evaluate(event, token, clients, rules, raw_parameters or {}, fetch)
    except Exception as error:  # noqa: BLE001 - an error is never a verdict: InternalFailure, the FailureMode decides
        return _answer(token, "FAILED", f"lambda-vpc-rules could not evaluate: {type(error).__name__}: {error}",
                       "InternalFailure")


def _evaluate(event: Mapping[str, Any], token: str, clients: Clients, rules: Sequence[Rule],
              raw_parameters: Mapping[str, str], fetch: Callable[[str], Mapping[str, Any]]) -> dict[str, Any]:
    point, data = event.get("actionInvocationPoint"), event.get("requestData")
    if point not in INVOCATION_POINTS or not isinstance(data, Mapping):
        raise HookRequestError("request has no actionInvocationPoint or requestData of the documented shape")
    if point == "DELETE_PRE_PROVISION":
        return _answer(token, "SUCCESS", "lambda-vpc-rules: a delete creates nothing to evaluate.")
    raw_parameters = dict(raw_parameters)
    # the pack's exceptions register (deploy passes `--pack-param ExceptionsRegister` on), applied as the deployed
    # rules apply it; one that cannot be read or used is an error (InternalFailure), never a verdict
    location = raw_parameters.pop(REGISTER_PARAMETER, "").strip()
    exceptions = InForce(read_published(clients, location), dt.datetime.now(dt.UTC)) if location else None
    parameters = parse_parameters(rules, raw_parameters)
    context = Context(region=clients.region, account_id=str(event.get("awsAccountId") or "") or None)
    reader = FactReader(clients)
    target_type = data.get("targetType")
    if target_type in ("STACK", "CHANGE_SET"):
        if not isinstance(data.get("payload"), str):
            raise HookRequestError(f"a {target_type} request has no payload URL")
        document = fetch(data["payload"])
        # a whole template may import other stacks' exports (a resource request has them resolved already)
        context.exports = dict(clients.pages("cloudformation", "list_exports", "Exports",
                                             lambda export: (export["Name"], export["Value"])))
        template = plain(_template(document.get("template")))
        if target_type == "CHANGE_SET":
            changed = {change.get("logicalResourceId") for change in document.get("changedResources") or []
                       if isinstance(change, Mapping) and change.get("resourceType") in FUNCTION_TYPES
                       and str(change.get("action", "")).upper() in ("CREATE", "UPDATE", "ADD", "MODIFY")}
            if not changed:
                return _answer(token, "SUCCESS", "lambda-vpc-rules: the change set changes no Lambda function.")
        rows = check_template(template, {}, "template", rules, parameters, context, reader, clients("iam"),
                              exceptions)
        if target_type == "CHANGE_SET":
            rows = [row for row in rows if row.logical_id in changed]
    elif target_type == "AWS::Lambda::Function":  # a SAM function reaches resource hooks transformed
        model = data.get("targetModel")
        properties = model.get("resourceProperties") if isinstance(model, Mapping) else None
        if not isinstance(properties, Mapping):
            raise HookRequestError("a resource request has no targetModel.resourceProperties")
        logical_id = str(data.get("targetLogicalId") or "Function")
        template = {"Resources": {logical_id: {"Type": "AWS::Lambda::Function", "Properties": plain(properties)}}}
        rows = check_translated(template, {}, "resource", rules, parameters, context, reader, exceptions)
    else:
        return _answer(token, "SUCCESS", f"lambda-vpc-rules evaluates Lambda functions, not {target_type}.")
    message, passed = _summary(rows)
    return _answer(token, "SUCCESS", message) if passed else _answer(token, "FAILED", message, "NonCompliant")


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:  # pragma: no cover - AWS entry
    import boto3

    from ..aws.clients import session_clients

    raw = json.loads(os.environ.get("RULE_PARAMETERS") or "{}")
    return evaluate(event, Clients(session_clients(boto3.Session())), RULES, raw)
