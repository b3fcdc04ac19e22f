"""The published SCP chains in a rule handler: read once per invocation from the location the rule parameter
`ScpChains` names (aws.scp_chains), the invocation's account's chain taken at the evaluation time (the
invoking event's `notificationCreationTime`, as for the exceptions register). A document that cannot be read
or used raises (`ScpDocumentError`, an AWS error): an error response, never a verdict made without it."""

from __future__ import annotations

from typing import Any

from ..aws.clients import Clients
from ..aws.scp_chains import MAX_AGE, PARAMETER, read_published
from ..core.scp import ScpChain, published_chain
from .logs import log
from .register import evaluation_time


def chain_for(raw_parameters: dict[str, Any], clients: Clients, invoking: dict[str, Any], account_id: str,
              rule: str) -> ScpChain | None:
    """The account's published chain; None when the parameter is absent or empty (SCPs not read)."""
    location = raw_parameters.get(PARAMETER)
    if location is None or (isinstance(location, str) and not location.strip()):
        return None
    published, version = read_published(clients, str(location))
    log("scp chains", rule=rule, location=str(location), version=version, sha256=published.sha256,
        generated_at=published.generated_at.isoformat(), accounts=len(published.chains))
    return published_chain(published, account_id, evaluation_time(invoking), MAX_AGE, str(location))
