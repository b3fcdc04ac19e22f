"""Structured logs: one JSON object per line (rule, account, resource, outcome), for CloudWatch Logs
Insights. Only identifiers, verdicts and error codes are logged: never policy documents or credentials."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

LOGGER = logging.getLogger("lambda_vpc_rules")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "message": record.getMessage(), **getattr(record, "fields", {})}
        return json.dumps(line, default=str, sort_keys=True)


def configure() -> None:
    """JSON lines on the pack's logger, at INFO (or LAMBDA_VPC_RULES_LOG_LEVEL), whatever handlers the Lambda
    runtime set up."""
    if not any(isinstance(h.formatter, JsonLines) for h in LOGGER.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLines())
        LOGGER.addHandler(handler)
    LOGGER.setLevel(os.environ.get("LAMBDA_VPC_RULES_LOG_LEVEL", "INFO").upper())
    LOGGER.propagate = False  # the runtime's root handler would print the line a second time


def log(message: str, level: int = logging.INFO, **fields: Any) -> None:
    LOGGER.log(level, message, extra={"fields": fields})
