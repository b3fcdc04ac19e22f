"""The exceptions register in a rule handler: read once per invocation from the location the rule parameter
`ExceptionsRegister` names (aws.register), applied at the evaluation time.

The evaluation time is the invoking event's `notificationCreationTime` (when AWS Config asked), so a retried
or delayed invocation judges as of the notification; an event without a readable one is judged now. A register
that cannot be read or used raises (`RegisterError`, an AWS error): the handler answers with an error response
and puts nothing, never a verdict made without it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..aws.clients import Clients
from ..aws.register import PARAMETER, read_published
from ..core.exceptions import InForce
from .logs import log


def evaluation_time(invoking: dict[str, Any]) -> dt.datetime:
    text = invoking.get("notificationCreationTime")
    if isinstance(text, str):
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)


def in_force(raw_parameters: dict[str, Any], clients: Clients, invoking: dict[str, Any], rule: str
             ) -> InForce | None:
    """The register the rule parameter names, at the evaluation time; None when the parameter is absent or
    empty (no register)."""
    location = raw_parameters.get(PARAMETER)
    if location is None or (isinstance(location, str) and not location.strip()):
        return None
    register = read_published(clients, str(location))
    log("exceptions register", rule=rule, register=register.version, sha256=register.sha256,
        exceptions=len(register.entries))
    return InForce(register, evaluation_time(invoking))
