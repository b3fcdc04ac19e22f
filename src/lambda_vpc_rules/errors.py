"""The errors the pack reports. None of them is a verdict: `scan` exits 2 on them, a rule handler answers
with an error response and puts nothing."""

from __future__ import annotations


class PackError(Exception):
    """Base of every error the pack reports to a person; the message says what failed and, where it can,
    what to do."""


class UnreadableAnswer(PackError):
    """An AWS answer that is not the answer the API documents: a body botocore cannot parse (an HTML page
    from a proxy or captive portal, a body cut short), or one without the result the API always returns.
    Never read as an empty result."""


class InvalidSetting(PackError):
    """A setting from the environment the pack cannot use (LAMBDA_VPC_RULES_MAX_ATTEMPTS=abc)."""
