"""Clients, and the rules every AWS answer must pass before the pack reads it.

- One retry configuration for every client: botocore's `standard` mode backs off on throttling
  (Throttling, ThrottlingException, RequestLimitExceeded) and transient errors.
- Every client is `guard`ed: a body botocore cannot parse (a TLS-inspecting proxy's HTML page, a body cut
  short), or an answer without the output's required members or with a top-level member of the wrong type
  (botocore's service model), raises `UnreadableAnswer` naming the operation.
- `Clients.pages` reads a listing with the largest page it allows, and every page must carry the result key
  it is read for: a page without it is no AWS answer, and reading it as empty would end the listing early
  (an all-clear for what was never read; a scheduled run would then erase AWS Config's findings).

Errors (AccessDenied, throttling that outlasted the retries) propagate as botocore `ClientError`: an error
is never turned into a verdict here.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import InvalidSetting, UnreadableAnswer
from .actions import action_for

T = TypeVar("T")

RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 10
MAX_ATTEMPTS_ENV = "LAMBDA_VPC_RULES_MAX_ATTEMPTS"
# The largest page each listing accepts (API references): calls grow with pages, so ask for the biggest.
PAGE_SIZES = {
    "list_functions": 50,
    "get_resources": 100,
    "describe_vpcs": 1000,
    "describe_subnets": 1000,
    "describe_route_tables": 100,
    "describe_nat_gateways": 1000,
    "describe_vpc_endpoints": 1000,
    "describe_managed_prefix_lists": 100,
    "get_managed_prefix_list_entries": 100,
    "get_account_authorization_details": 1000,
    "list_role_policies": 1000,
    "list_attached_role_policies": 1000,
    "list_entities_for_policy": 1000,
    "select_resource_config": 100,
    "get_compliance_details_by_config_rule": 100,  # as rdklib asks for its clean-up
    "get_aggregate_compliance_details_by_config_rule": 100,
    "describe_config_rule_evaluation_status": 50,
    "list_accounts": 20,
}


def max_attempts() -> int:
    text = os.environ.get(MAX_ATTEMPTS_ENV, str(DEFAULT_MAX_ATTEMPTS))
    if not text.strip().isdigit() or int(text) < 1:
        raise InvalidSetting(f"{MAX_ATTEMPTS_ENV}={text!r}: expected a whole number of attempts, 1 or more")
    return int(text)


def retry_config() -> Config:
    # total_max_attempts counts the first attempt, as AWS_MAX_ATTEMPTS does (botocore's `max_attempts`
    # would count retries only: one attempt more than the Lambda handlers make).
    return Config(retries={"mode": RETRY_MODE, "total_max_attempts": max_attempts()})


def apply_retry_environment() -> None:
    """For clients we do not build ourselves (rdklib's ClientFactory): botocore reads these variables."""
    os.environ.setdefault("AWS_RETRY_MODE", RETRY_MODE)
    os.environ.setdefault("AWS_MAX_ATTEMPTS", str(max_attempts()))


def session_clients(session: Any, endpoint_url: str | None = None) -> Callable[..., Any]:
    """Clients of one boto3 session with the pack's retry configuration (and an emulator's endpoint), in the
    session's region or the one given."""

    def client_for(service: str, region: str | None = None) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url, config=retry_config())

    return client_for


# ------------------------------------------------------------------------ answers that are not AWS's

# Python types botocore parses each shape type into (what a real answer's top-level members are). A string
# may come as a dict: botocore decodes IAM's policy documents after parsing them.
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "structure": dict, "map": dict, "list": list, "string": (str, dict), "boolean": bool, "integer": int, "long": int,
    "float": (float, int), "double": (float, int), "timestamp": (dt.datetime, str), "blob": (bytes, bytearray),
}
_GUARD_ID = "lambda-vpc-rules-answer-check"


def answer_problem(parsed: Any, output_shape: Any) -> str | None:
    """What makes a parsed answer unlike the operation's output (its required members, the types of its
    top-level members), or None."""
    if output_shape is None:
        return None
    if not isinstance(parsed, dict):
        return f"a {type(parsed).__name__}, not an object"
    missing = [name for name in output_shape.required_members if name not in parsed]
    if missing:
        return f"without {', '.join(missing)}"
    for name, shape in output_shape.members.items():
        value = parsed.get(name)
        expected = _PYTHON_TYPES.get(shape.type_name)
        if shape.serialization.get("streaming"):  # a streamed payload (GetObject's Body): botocore's stream
            continue
        if value is not None and expected is not None and not isinstance(value, expected):
            return f"{name} as a {type(value).__name__}, not a {shape.type_name}"
    return None


def _check_answer(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
    if http_response is not None and http_response.status_code >= 300:
        return  # an error answer: botocore raises its ClientError next
    problem = answer_problem(parsed, model.output_shape)
    if problem:
        raise UnreadableAnswer(f"{model.name} answered {problem}: not an AWS answer")


def _check_parse_error(exception: Exception, event_name: str = "", **_: Any) -> None:
    """A body botocore could not parse: ResponseParserError, or a KeyError or the like from a parser that met
    XML without the API's result element. Neither is a ClientError nor a BotoCoreError (a connection error,
    which stays what it is): name the operation."""
    if isinstance(exception, ClientError | BotoCoreError):
        return
    operation = event_name.rsplit(".", 1)[-1]
    detail = (str(exception).strip().splitlines() or [type(exception).__name__])[0][:120]
    raise UnreadableAnswer(f"{operation} answered a body that cannot be parsed ({type(exception).__name__}: "
                           f"{detail}): not an AWS answer") from exception


def guard(client: Any) -> Any:
    """Make every answer this client receives prove it is the API's answer (see `UnreadableAnswer`)."""
    client.meta.events.register("after-call", _check_answer, unique_id=_GUARD_ID)
    client.meta.events.register("after-call-error", _check_parse_error, unique_id=_GUARD_ID + "-parse")
    return client


def result(answer: dict[str, Any], key: str, operation: str) -> Any:
    """`answer[key]`, which the API always returns; its absence is an unreadable answer, never "nothing"."""
    if key not in answer:
        raise UnreadableAnswer(f"{operation} answered without {key}: not an AWS answer")
    return answer[key]


def parsed_items(items: Iterable[Any], parse: Callable[[Any], T], operation: str) -> Iterator[T]:
    """Each item through `parse`; an item without the fields the API always gives is an unreadable answer."""
    for item in items:
        try:
            yield parse(item)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise UnreadableAnswer(f"{operation} answered an item the pack cannot read ({error!r}): "
                                   "not an AWS answer") from None


def is_access_denied(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return "AccessDenied" in code or "UnauthorizedOperation" in code


def name_missing_permission(error: ClientError) -> ClientError:
    """An AccessDenied error with the IAM action it lacks at the front of its message (once)."""
    if is_access_denied(error):
        message = error.response["Error"].get("Message", "")
        prefix = f"missing permission {action_for(error.operation_name)}: "
        if not message.startswith(prefix):
            error.response["Error"]["Message"] = prefix + message
    return error


def send_in_batches(items: Sequence[T], size: int, send: Callable[[list[T]], list[T]]) -> list[T]:
    """`send` each batch of `size` (it returns the items refused); refused items are sent once more. Returns
    what was refused twice, stopping at the first batch with any (PutEvaluations, BatchImportFindings)."""
    for start in range(0, len(items), size):
        refused = send(list(items[start : start + size]))
        if refused:
            refused = send(refused)
        if refused:
            return refused
    return []


# ------------------------------------------------------------------------------------------ clients


class Clients:
    """One guarded client per service, each made once by `client_for(service_name)`, and the reads every
    audience shares: paginated listings and the caller's identity."""

    def __init__(self, client_for: Callable[[str], Any]):
        self._client_for = client_for
        self._clients: dict[str, Any] = {}
        self._identity: dict[str, str] | None = None

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = guard(self._client_for(service))
        return self._clients[service]

    @property
    def region(self) -> str:
        return self("sts").meta.region_name

    def answer_pages(self, service: str, operation: str, result_keys: tuple[str, ...], **kwargs: Any
                     ) -> Iterator[dict[str, Any]]:
        """The pages of a listing, each proven to carry its result keys."""
        client = self(service)
        name = client.meta.method_to_api_mapping.get(operation, operation)
        size = PAGE_SIZES.get(operation)
        paginator = client.get_paginator(operation)
        for page in paginator.paginate(**kwargs, **({"PaginationConfig": {"PageSize": size}} if size else {})):
            for key in result_keys:
                result(page, key, name)
            yield page

    def pages(self, service: str, operation: str, result_key: str, parse: Callable[[Any], T] | None = None,
              **kwargs: Any) -> Iterator[T]:
        """The items of a listing, through `parse` if given (an item it cannot read is an unreadable answer)."""
        name = self(service).meta.method_to_api_mapping.get(operation, operation)
        for page in self.answer_pages(service, operation, (result_key,), **kwargs):
            yield from parsed_items(page[result_key], parse or (lambda item: item), name)

    def caller_identity(self) -> dict[str, str]:
        """sts:GetCallerIdentity (Account, Arn, UserId), read once."""
        if self._identity is None:
            answer = self("sts").get_caller_identity()
            self._identity = {key: result(answer, key, "GetCallerIdentity") for key in ("Account", "Arn", "UserId")}
        return self._identity


def as_clients(clients: Clients | Callable[[str], Any]) -> Clients:
    return clients if isinstance(clients, Clients) else Clients(clients)
