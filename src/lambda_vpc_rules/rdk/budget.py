"""The time budget of one invocation, read from the Lambda context (`get_remaining_time_in_millis`).

A rule function has at most 15 minutes (its Timeout). A scheduled run of a very large account can need more;
killed by the timeout it would put nothing, and the asynchronous invocation would run it twice more to the
same end. So every AWS read the handler's clients make is checked first: once less than the margin is left,
no read starts (`OutOfTime`), and the margin is kept for PutEvaluations, which is never refused here. The
handler then puts what it has evaluated, skips the scheduled clean-up (its listing of held verdicts was not
read whole), logs what was and was not put, and fails the invocation.

The margin: `LAMBDA_VPC_RULES_PUT_MARGIN_SECONDS` (default 60 s: 100 PutEvaluations calls of 100 evaluations,
a 10,000-function account, with room for retries). Without a context (a test, `rdk test-local`) there is no
budget.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidSetting, PackError

MARGIN_ENV = "LAMBDA_VPC_RULES_PUT_MARGIN_SECONDS"
DEFAULT_MARGIN_SECONDS = 60
UNCHECKED = frozenset({"PutEvaluations"})  # what the margin is kept for
_HOOK_ID = "lambda-vpc-rules-time-budget"


class OutOfTime(PackError):
    """Less than the margin is left: no further read is started."""


def margin_seconds() -> int:
    text = os.environ.get(MARGIN_ENV, str(DEFAULT_MARGIN_SECONDS))
    if not text.strip().isdigit():
        raise InvalidSetting(f"{MARGIN_ENV}={text!r}: expected a whole number of seconds, 0 or more")
    return int(text)


class Deadline:
    """The invocation's remaining time, and the margin kept for putting evaluations."""

    def __init__(self, context: Any, margin: int):
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._remaining = remaining if callable(remaining) else None
        self.margin_ms = margin * 1000

    def remaining_ms(self) -> int | None:
        return None if self._remaining is None else int(self._remaining())

    def check(self, operation: str) -> None:
        left = self.remaining_ms()
        if left is not None and left < self.margin_ms:
            raise OutOfTime(f"{left / 1000:.1f} s left of the invocation, less than the {self.margin_ms // 1000} s "
                            f"kept to put evaluations: {operation} and every later read not started")

    def guard(self, client: Any) -> Any:
        """Check the budget before every call of `client` but PutEvaluations."""

        def before_call(model: Any, **_: Any) -> None:
            if model.name not in UNCHECKED:
                self.check(model.name)

        # before-parameter-build: the first event of every call, before any handler could answer it
        client.meta.events.register_first("before-parameter-build", before_call, unique_id=_HOOK_ID)
        return client
