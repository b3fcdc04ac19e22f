"""Event checks: what AWS Config sends a custom rule Lambda, and what makes an event unlike it.

rdklib 0.3.10 would raise on an event of the wrong shape (KeyError, JSONDecodeError) or misread the rule
parameters it reads itself; these checks run first, so such an event is answered, not a crash.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.model import LAMBDA_RESOURCE_TYPE
from ..errors import PackError


class MalformedEvent(PackError):
    """An event, or the configuration item it leads to, unlike what AWS Config sends: `InvalidEvent`."""


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
    elif not isinstance(invoking.get("notificationCreationTime"), str):
        return "ScheduledNotification without a notificationCreationTime string"
    return None


def item_problem(item: dict[str, Any]) -> str | None:
    """What is missing from a function's configuration item that AWS Config always sends, or None. Without
    `configuration`, a function that exists would look like one outside any VPC: NOT_APPLICABLE, invented."""
    if item.get("resourceType") != LAMBDA_RESOURCE_TYPE or not exists(item):
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
    role = parameters.get("ExecutionRoleName")  # empty: no role to assume (the single-account pack)
    if role and not re.fullmatch(r"[\w+=,.@-]{1,64}", role, flags=re.ASCII):
        # IAM role names: alphanumerics and +=,.@_- up to 64 characters (IAM CreateRole, RoleName)
        return f"ExecutionRoleName: invalid value {role!r}: expected an IAM role name"
    region = parameters.get("ExecutionRoleRegion")  # rdklib would use "" as a region name
    if region is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", region):
        return f"ExecutionRoleRegion: invalid value {region!r}: expected a region name such as us-east-1"
    return None


def exists(item: dict[str, Any]) -> bool:
    return item.get("configurationItemStatus") in ("OK", "ResourceDiscovered")
