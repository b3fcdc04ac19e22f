"""A small IAM identity-policy evaluator: does a set of policies allow an action on a set of resources?

Pure and typed; no AWS calls. It answers the question the ENI rule asks, conservatively: when the
answer depends on something a policy cannot tell us (a Condition on an Allow, a policy variable in an
Allow's resource), the grant is not counted; when a Deny might apply, it is counted.

Semantics followed (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements"):
- `Action`/`NotAction`, `Resource`/`NotResource`: a string or a list; exactly one of each pair.
- Action names are case-insensitive; `*` and `?` match any characters.
- Resource ARNs are case-sensitive; wildcards stay within one colon-separated ARN segment, except a `*`
  that ends a segment (or the whole pattern), which may extend across colons.
- A resource required as the bare string `*` means an action without resource-level permissions
  (ec2:Describe*): only a statement whose `Resource` matches the literal `*` applies to it.
- An explicit Deny overrides any Allow; a Deny that reaches any part of the required resources denies.
- With a permissions boundary, the action must also be allowed (and not denied) by the boundary.

Pattern questions are answered exactly or on the safe side, over glob tokens:
- `covers(p, q)`: every string q matches is matched by p (sound: a True answer is always right);
- `overlaps(p, q)`: some string is matched by both (exact).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

# Glob tokens: a literal character, one character, or a run of characters. `colon` says whether the
# wildcard may match ':' (actions: always; resources: only a `*` that ends an ARN segment).
Token = tuple[str, str, bool]  # (kind "lit" | "one" | "star", literal character, matches colon)
UNKNOWN = "\x00"  # stands for a policy variable in an Allow: matches no real resource character


class PolicyParseError(ValueError):
    """A policy document that is not valid IAM policy JSON; the message says what is wrong."""


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False  # actions hold NotAction patterns
    not_resource: bool = False  # resources hold NotResource patterns
    conditional: bool = False
    sid: str = ""

    @property
    def broad_ec2(self) -> bool:
        """Grants every EC2 action (`*`, `ec2:*`) or everything but a list (NotAction)."""
        return self.not_action or any(covers(_action_tokens(a), _action_tokens("ec2:*")) for a in self.actions)

    def matches_action(self, action: str) -> bool:
        hit = any(covers(_action_tokens(pattern), _action_tokens(action)) for pattern in self.actions)
        return hit != self.not_action

    def label(self, policy: str) -> str:
        return f"{policy}/{self.sid}" if self.sid else policy


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class ActionCheck:
    action: str
    allowed: bool
    reason: str = ""  # when not allowed: "missing" | "resource too narrow" | "denied" | "boundary"
    detail: str = ""
    conditional_grant_ignored: bool = False  # an Allow with a Condition would have granted
    overbroad: bool = False  # the grant comes from `*`, `ec2:*` or NotAction


# ---------------------------------------------------------------------------------------------- parsing


def _decode(document: Any) -> dict:
    if isinstance(document, dict):
        return document
    if not isinstance(document, str):
        raise PolicyParseError(f"expected a JSON object, got {type(document).__name__}")
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)  # IAM returns documents URL-encoded (RFC 3986)
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyParseError(f"not JSON ({error.msg} at position {error.pos})") from None
    if not isinstance(decoded, dict):
        raise PolicyParseError("the document is not a JSON object")
    return decoded


def _strings(value: Any, element: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyParseError(f"{element} must be a string or a non-empty list of strings")
    return tuple(values)


def _one_of(raw: dict, positive: str, negative: str, index: int) -> tuple[tuple[str, ...], bool]:
    if (positive in raw) == (negative in raw):
        raise PolicyParseError(f"statement {index} needs exactly one of {positive} and {negative}")
    key = positive if positive in raw else negative
    return _strings(raw[key], f"statement {index} {key}"), key == negative


def _statement(raw: Any, index: int) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyParseError(f"statement {index} is not an object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyParseError(f"statement {index} has Effect {effect!r}; expected Allow or Deny")
    actions, not_action = _one_of(raw, "Action", "NotAction", index)
    resources, not_resource = _one_of(raw, "Resource", "NotResource", index)
    condition = raw.get("Condition")
    if condition is not None and not isinstance(condition, dict):
        raise PolicyParseError(f"statement {index} Condition must be an object")
    sid = raw.get("Sid", "")
    sid = sid if isinstance(sid, str) else ""
    return Statement(effect, actions, resources, not_action, not_resource, bool(condition), sid)


def parse_policy(name: str, document: Any) -> Policy:
    """A policy from a document: a dict, JSON text, or URL-encoded JSON text as IAM returns it."""
    decoded = _decode(document)
    raw_statements = decoded.get("Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise PolicyParseError("the document has no Statement list")
    return Policy(name, tuple(_statement(raw, i) for i, raw in enumerate(raw_statements)))


# ------------------------------------------------------------------------------------- glob patterns


def _normalise(tokens: list[Token]) -> tuple[Token, ...]:
    """Within each run of wildcards, put one-character wildcards first and merge the stars: `*?` and
    `?*` mean the same, and the covering test below relies on the canonical order."""
    out: list[Token] = []
    run: list[Token] = []

    def flush() -> None:
        ones = [t for t in run if t[0] == "one"]
        stars = [t for t in run if t[0] == "star"]
        out.extend(ones)
        if stars:
            out.append(("star", "", any(t[2] for t in stars)))
        run.clear()

    for token in tokens:
        if token[0] == "lit":
            flush()
            out.append(token)
        else:
            run.append(token)
    flush()
    return tuple(out)


@cache
def _action_tokens(pattern: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    for char in pattern.lower():
        kind = {"*": "star", "?": "one"}.get(char, "lit")
        tokens.append((kind, char if kind == "lit" else "", kind != "lit"))
    return _normalise(tokens)


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@cache
def resource_tokens(pattern: str, variable: str = "unknown") -> tuple[Token, ...]:
    """Tokens of a policy's resource pattern. A policy variable (`${aws:username}`) is unknown here:
    `variable="unknown"` makes it match nothing (for Allows), `"any"` makes it match anything (for Denies)."""
    tokens: list[Token] = []
    position = 0
    for match in [*_VARIABLE.finditer(pattern), None]:
        end = match.start() if match else len(pattern)
        chunk = pattern[position:end]
        for offset, char in enumerate(chunk):
            if char in "*?":
                at = position + offset + 1
                ends_segment = at == len(pattern) or pattern[at] == ":"
                kind = "star" if char == "*" else "one"
                tokens.append((kind, "", kind == "star" and ends_segment))
            else:
                tokens.append(("lit", char, False))
        if match is None:
            break
        name = match.group(1)
        if name in _ESCAPES:
            tokens.append(("lit", _ESCAPES[name], False))
        elif variable == "any":
            tokens.append(("star", "", True))
        else:
            tokens.append(("lit", UNKNOWN, False))
        position = match.end()
    return _normalise(tokens)


@cache
def required_tokens(resource: str) -> tuple[Token, ...]:
    """A required resource: the bare `*` is the literal request resource of actions without
    resource-level permissions; anything else stands for every real ARN of that shape
    (`arn:aws:ec2:R:A:network-interface/*`), whose segments hold no colon, so its wildcards never span one."""
    if resource == "*":
        return (("lit", "*", False),)
    return tuple((kind, char, False) for kind, char, _ in resource_tokens(resource))


def _absorbs(wild: Token, token: Token) -> bool:
    """Can wildcard `wild` stand for (every expansion of) the single token `token`?"""
    if token[0] == "lit":
        return wild[2] or token[1] != ":"
    if token[0] == "one":
        return wild[2] or not token[2]
    return wild[0] == "star" and (wild[2] or not token[2])


@cache
def covers(outer: tuple[Token, ...], inner: tuple[Token, ...]) -> bool:
    """Sound test that every string `inner` matches is also matched by `outer` (token-wise embedding)."""
    n, m = len(outer), len(inner)
    # reach[i][j]: outer[:i] can stand for inner[:j]
    reach = [[False] * (m + 1) for _ in range(n + 1)]
    reach[0][0] = True
    for i in range(n + 1):
        for j in range(m + 1):
            if not reach[i][j] or i == n:
                continue
            token = outer[i]
            if token[0] == "star":
                reach[i + 1][j] = True  # the star stands for nothing
                if j < m and _absorbs(token, inner[j]):
                    reach[i][j + 1] = True  # ... or for one more inner token
            elif j < m:
                if token[0] == "lit":
                    reach[i + 1][j + 1] |= inner[j] == token
                else:
                    reach[i + 1][j + 1] |= inner[j][0] != "star" and _absorbs(token, inner[j])
    return reach[n][m]


def _can_emit_together(a: Token, b: Token) -> bool:
    """Is there one character both tokens can produce?"""
    if a[0] == "lit" and b[0] == "lit":
        return a[1] == b[1]
    if a[0] == "lit" or b[0] == "lit":
        literal, wild = (a, b) if a[0] == "lit" else (b, a)
        return literal[1] != ":" or wild[2]
    return True  # two wildcards share every non-colon character


@cache
def overlaps(a: tuple[Token, ...], b: tuple[Token, ...]) -> bool:
    """Exact test that some string is matched by both patterns (intersection of their languages)."""
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        moves = []
        if i < len(a) and a[i][0] == "star":
            moves.append((i + 1, j))
        if j < len(b) and b[j][0] == "star":
            moves.append((i, j + 1))
        if i < len(a) and j < len(b) and _can_emit_together(a[i], b[j]):
            next_i = i if a[i][0] == "star" else i + 1
            next_j = j if b[j][0] == "star" else j + 1
            if (next_i, next_j) != (i, j):
                moves.append((next_i, next_j))
        stack.extend(moves)
    return False


# ------------------------------------------------------------------------------------------ evaluation


def _allow_covers(statement: Statement, required: str) -> bool:
    need = required_tokens(required)
    if statement.not_resource:
        return not any(overlaps(resource_tokens(p, "any"), need) for p in statement.resources)
    return any(covers(resource_tokens(p), need) for p in statement.resources)


def _deny_reaches(statement: Statement, required: str) -> bool:
    need = required_tokens(required)
    if statement.not_resource:
        # denies all but the NotResource patterns: safe only if one of them covers the whole requirement
        return not any(covers(resource_tokens(p), need) for p in statement.resources)
    return any(overlaps(resource_tokens(p, "any"), need) for p in statement.resources)


@dataclass(frozen=True)
class _Outcome:
    allowed: bool
    reason: str = ""
    detail: str = ""
    conditional_grant_ignored: bool = False
    overbroad: bool = False


def _statements(policies: Iterable[Policy], action: str) -> list[tuple[str, Statement]]:
    return [(p.name, s) for p in policies for s in p.statements if s.matches_action(action)]


def _evaluate(policies: Sequence[Policy], action: str, required: Sequence[str]) -> _Outcome:
    applicable = _statements(policies, action)
    for policy, statement in applicable:
        if statement.effect == "Deny" and any(_deny_reaches(statement, r) for r in required):
            return _Outcome(False, "denied", f"by {statement.label(policy)}")
    allows = [(p, s) for p, s in applicable if s.effect == "Allow" and not s.conditional]
    conditional = [(p, s) for p, s in applicable if s.effect == "Allow" and s.conditional]
    uncovered = [r for r in required if not any(_allow_covers(s, r) for _, s in allows)]
    if not uncovered:
        granting = [s for _, s in allows if any(_allow_covers(s, r) for r in required)]
        return _Outcome(True, overbroad=any(s.broad_ec2 for s in granting))
    conditional_would_grant = all(any(_allow_covers(s, r) for _, s in allows + conditional) for r in required)
    if allows:
        return _Outcome(False, "resource too narrow", f"needs {', '.join(uncovered)}", conditional_would_grant)
    return _Outcome(False, "missing", "", conditional_would_grant)


def check_action(
    identity: Sequence[Policy], boundary: Sequence[Policy] | None, action: str, required: Sequence[str]
) -> ActionCheck:
    """Whether the identity policies, limited by the boundary (None: no boundary), allow `action` on
    every resource in `required`. Reasons, most decisive first: denied, boundary, resource too narrow, missing."""
    granted = _evaluate(identity, action, required)
    if not granted.allowed and granted.reason == "denied":
        return ActionCheck(action, False, "denied", granted.detail)
    if boundary is not None:
        limit = _evaluate(boundary, action, required)
        if not limit.allowed:
            detail = f"{', '.join(p.name for p in boundary)} {limit.reason}"
            return ActionCheck(action, False, "boundary", detail,
                               granted.conditional_grant_ignored or limit.conditional_grant_ignored)
    if not granted.allowed:
        return ActionCheck(action, False, granted.reason, granted.detail, granted.conditional_grant_ignored)
    return ActionCheck(action, True, overbroad=granted.overbroad)
