"""A small IAM identity-policy evaluator: do a set of policies allow an action in a given request?

Pure and typed; no AWS calls. A request is judged per resource it names (`Authorization`: the resource,
exactly or as a pattern standing for every ID it may have, and the request context IAM evaluates it in).
Each statement applies to it with three values (`iam_conditions.Tri`): its Resource and its Condition
(`iam_conditions`) both hold, cannot both hold, or cannot be known from what the context holds. An Allow
grants only if it applies whatever the unknown is (TRUE); a Deny denies if it may apply (TRUE or UNKNOWN).

Semantics followed (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements"):
- `Action`/`NotAction`, `Resource`/`NotResource`: a string or a list; exactly one of each pair.
- Action names are case-insensitive; `*` and `?` match any characters.
- Resource ARNs are case-sensitive; wildcards stay within one colon-separated ARN segment, except a `*`
  that ends a segment (or the whole pattern), which may extend across colons.
- A resource required as the bare string `*` means an action without resource-level permissions
  (ec2:Describe*): only a statement whose `Resource` matches the literal `*` applies to it.
- Policy variables in a resource take their value from the request context: known, substituted
  literally; absent, its default (`${aws:username, 'none'}`) or, without one, that entry matches nothing
  and the statement "might" be invalid (IAM, "Variables and tags"): the other entries are judged as usual,
  and where they reach the resource the statement's reach is UNKNOWN, never nothing (a Deny then denies,
  an Allow does not grant, and the detail names the variable); unknown, it may stand for anything
  (matches nothing for an Allow).
- An explicit Deny overrides any Allow; a Deny that may reach any of the request's resources denies.
- With a permissions boundary, the action must also be allowed (and not denied) by the boundary.

Pattern questions are answered exactly or on the safe side, over glob tokens:
- `covers(p, q)`: every string q matches is matched by p (sound: a True answer is always right);
- `overlaps(p, q)`: some string is matched by both (exact).
Statements are judged one by one: two Allows that only together cover a resource or a context (a
region list split over two statements) are not combined, and a Deny testing one unknown key twice
counts if each test could hold; both err on the safe side (not allowed, denied).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import unquote

from .iam_conditions import (
    ConditionParseError,
    ConditionResult,
    ConditionTest,
    InvalidVariable,
    Kind,
    RequestContext,
    Tri,
    evaluate_conditions,
    parse_conditions,
    parse_date,
    parse_operator,
    resolve_variable,
    tri_and,
)

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
    conditions: tuple[ConditionTest, ...] = ()
    sid: str = ""
    index: int = 0  # position in its policy (0-based), to name a statement without Sid

    @property
    def conditional(self) -> bool:
        return bool(self.conditions)

    @cached_property
    def broad_ec2(self) -> bool:
        """Grants every EC2 action (`*`, `ec2:*`) or everything but a list (NotAction)."""
        return self.not_action or any(_recall(_action_covers, a, "ec2:*") for a in self.actions)

    def matches_action(self, action: str) -> bool:
        hit = any(_recall(_action_covers, pattern, action) for pattern in self.actions)
        return hit != self.not_action

    def label(self, policy: str) -> str:
        return f"{policy}/{self.sid}" if self.sid else f"{policy}#{self.index + 1}"


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction matches `action`, remembered per action (a role's parsed
        policies serve all its functions)."""
        known = self.__dict__.setdefault("_by_action", {})
        if action not in known:
            known[action] = tuple(s for s in self.statements if s.matches_action(action))
        return known[action]


@dataclass(frozen=True)
class ActionCheck:
    action: str
    allowed: bool
    reason: str = ""  # when not allowed: one of REASONS
    detail: str = ""
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
    try:
        conditions = parse_conditions(raw.get("Condition"), f"statement {index} Condition")
    except ConditionParseError as error:
        raise PolicyParseError(str(error)) from None
    sid = raw.get("Sid", "")
    sid = sid if isinstance(sid, str) else ""
    return Statement(effect, actions, resources, not_action, not_resource, conditions, sid, index)


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
    return tuple(_interned(token) for token in out)


_TOKENS: dict[Token, Token] = {}


def _interned(token: Token) -> Token:
    """One object per distinct token (a few dozen: characters and wildcards), so that a memoised pattern holds
    references, not a new 3-tuple per character (eight times the memory)."""
    return _TOKENS.setdefault(token, token)


def _action_tokens(pattern: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    for char in pattern.lower():
        kind = {"*": "star", "?": "one"}.get(char, "lit")
        tokens.append((kind, char if kind == "lit" else "", kind != "lit"))
    return _normalise(tokens)


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


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


def required_tokens(resource: str) -> tuple[Token, ...]:
    """A required resource: the bare `*` is the literal request resource of actions without
    resource-level permissions; anything else stands for every real ARN of that shape
    (`arn:aws:ec2:R:A:network-interface/*`), whose segments hold no colon, so its wildcards never span one."""
    if resource == "*":
        return (("lit", "*", False),)
    return tuple(_interned((kind, char, False)) for kind, char, _ in resource_tokens(resource))


def _absorbs(wild: Token, token: Token) -> bool:
    """Can wildcard `wild` stand for (every expansion of) the single token `token`?"""
    if token[0] == "lit":
        return wild[2] or token[1] != ":"
    if token[0] == "one":
        return wild[2] or not token[2]
    return wild[0] == "star" and (wild[2] or not token[2])


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


# ----------------------------------------------------------------------------------- remembered matches

# The matches of one account-region's evaluation, remembered while `remembered_matches` runs (its functions
# share roles, subnets and security groups: the benchmark's 10,000 functions make 80,000 resource tests, 91 of
# them distinct) and forgotten after. Their keys hold
# account-specific ARNs, so a memo that outlived the account-region grew with every account an organization scan
# read (0.2 MB an account unbounded; an LRU bound still grew until it was full, docs/organization-scale.md).
_MATCHES: ContextVar[dict | None] = ContextVar("iam_pattern_matches", default=None)


@contextmanager
def remembered_matches() -> Iterator[None]:
    """Pattern matches remembered while the block runs, in this thread only (a context variable), and
    forgotten after; a block inside another shares the outer one's. Outside any block nothing is remembered
    (the answers are the same, only slower)."""
    if _MATCHES.get() is not None:
        yield
        return
    token = _MATCHES.set({})
    try:
        yield
    finally:
        _MATCHES.reset(token)


def _recall(compute: Callable[..., Any], *args: str) -> Any:
    """`compute(*args)`, remembered within `remembered_matches` (keys: the function and its string arguments,
    whose hashes Python keeps)."""
    memo = _MATCHES.get()
    if memo is None:
        return compute(*args)
    key = (compute, *args)
    try:
        return memo[key]
    except KeyError:
        memo[key] = value = compute(*args)
        return value


def _action_covers(pattern: str, action: str) -> bool:
    return covers(_recall(_action_tokens, pattern), _recall(_action_tokens, action))


def _resource_covers(pattern: str, required: str) -> bool:
    return covers(_recall(resource_tokens, pattern), _recall(required_tokens, required))


def _resource_overlaps(pattern: str, required: str) -> bool:
    return overlaps(_recall(resource_tokens, pattern, "any"), _recall(required_tokens, required))


# ------------------------------------------------------------------------------------------ evaluation

# Why an action is not allowed, most decisive first.
REASONS = ("denied", "boundary", "condition unknown", "variable without value", "condition not met",
           "resource too narrow", "missing")


@dataclass(frozen=True)
class Authorization:
    """One resource a request names and the request context IAM evaluates it in.

    `resource`: `*` (an action without resource-level permissions), an ARN, or an ARN pattern standing for
    every ID the resource may have (`.../network-interface/eni-*`: any interface Lambda made); `${*}` is
    a literal `*` (`.../network-interface/${*}`: the ARN IAM evaluates for an interface being created)."""

    resource: str
    context: RequestContext = field(default_factory=RequestContext)

    @property
    def shown(self) -> str:
        return self.resource.replace("${*}", "*")


@dataclass(frozen=True)
class Applies:
    """Whether a statement applies to one authorization, its Resource and its Condition apart."""

    value: Tri
    resource: Tri
    condition: ConditionResult | None = None  # None: not evaluated (the resource did not match)
    why: str = ""  # what made the resource UNKNOWN: a policy variable without value (`${aws:username}`)


_RESOURCE_ESCAPES = {"*": "${*}", "?": "${?}", "$": "${$}"}


def _resolved_resource(pattern: str, context: RequestContext) -> str:
    """The pattern with the policy variables whose value is known written in literally; unknown ones stay
    variables. Raises InvalidVariable for one without value or default (that entry matches nothing)."""

    if "${" not in pattern:
        return pattern

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name in _ESCAPES:
            return match.group(0)
        value = resolve_variable(name, context)
        return match.group(0) if value is None else "".join(_RESOURCE_ESCAPES.get(c, c) for c in value)

    return _VARIABLE.sub(replace, pattern)


def _resource_applies(statement: Statement, required: str, context: RequestContext) -> tuple[Tri, str]:
    """Whether the Resource (NotResource) reaches `required`, and the first variable without value. An entry
    with such a variable matches nothing; the statement itself may be void (IAM: "might cause the entire
    statement to be invalid"), so an answer other than FALSE becomes UNKNOWN."""
    patterns, invalid = [], ""
    for pattern in statement.resources:
        try:
            patterns.append(_resolved_resource(pattern, context))
        except InvalidVariable as variable:
            invalid = invalid or f"${{{variable}}}"
    covered = any(_recall(_resource_covers, p, required) for p in patterns)
    touched = covered or any(_recall(_resource_overlaps, p, required) for p in patterns)
    if statement.not_resource:  # applies to every resource but those
        reach = Tri.FALSE if covered else Tri.UNKNOWN if touched else Tri.TRUE
    else:
        reach = Tri.TRUE if covered else Tri.UNKNOWN if touched else Tri.FALSE
    if invalid and reach is not Tri.FALSE:
        return Tri.UNKNOWN, f"{invalid} has no value"
    return reach, ""


def applies(statement: Statement, authorization: Authorization) -> Applies:
    """Whether the statement's Resource and Condition hold for this resource and request context."""
    resource, why = _resource_applies(statement, authorization.resource, authorization.context)
    if resource is Tri.FALSE:
        return Applies(Tri.FALSE, resource)
    condition = evaluate_conditions(statement.conditions, authorization.context)
    return Applies(tri_and((resource, condition.value)), resource, condition, why)


def _condition_words(label: str, condition: ConditionResult, verb: str) -> str:
    """`label: <operator> <key> <verb>`, or what made it undecidable (an unknown operator, a policy value)."""
    test = condition.deciding
    if test is None:
        return f"{label}: its condition {verb}"
    if condition.why.startswith("unknown operator"):
        return f"{label}: {condition.why}"
    if condition.why.startswith(("the policy value", "${")):
        return f"{label}: {test.describe()}: {condition.why}"
    return f"{label}: {test.describe()} {verb}"


def _deny_detail(label: str, statement: Statement, result: Applies, authorization: Authorization) -> str:
    condition = result.condition
    if result.value is Tri.TRUE:
        if not statement.conditions:
            return f"by {label}"
        keys = ", ".join(dict.fromkeys(test.key for test in statement.conditions))
        return f"by {label}: its condition on {keys} holds"
    if result.why:  # a Resource entry whose variable has no value
        return f"by {label}: {result.why} (in its Resource), so it could apply"
    if condition is not None and condition.value is Tri.UNKNOWN:
        if condition.why.startswith("unknown operator"):
            return f"by {label}: {condition.why}, so it could apply"
        if condition.why.endswith("has no value"):
            return f"by {label}: {condition.deciding.describe()}: {condition.why}, so it could apply"
        return f"by {label}: conditional Deny on {condition.key} could apply"
    return f"by {label}: may reach {authorization.shown}"


@dataclass(frozen=True)
class _Outcome:
    allowed: bool
    reason: str = ""
    detail: str = ""
    overbroad: bool = False


def _statements(policies: Iterable[Policy], action: str) -> list[tuple[str, Statement]]:
    return [(p.name, s) for p in policies for s in p.statements_for(action)]


def _why_not(authorization: Authorization, allows: list[tuple[str, Statement, Applies]]) -> tuple[str, str]:
    """Why no Allow grants this authorization: (reason, detail)."""
    for policy, statement, result in allows:
        if result.value is Tri.UNKNOWN and (result.why or (result.condition and result.condition.value is Tri.UNKNOWN
                                                            and result.condition.why.endswith("has no value"))):
            why = result.why or f"{result.condition.deciding.describe()}: {result.condition.why}"
            return "variable without value", f"{statement.label(policy)}: {why}: the statement may be invalid"
    for wanted, reason in ((Tri.UNKNOWN, "condition unknown"), (Tri.FALSE, "condition not met")):
        for policy, statement, result in allows:
            if result.resource is Tri.TRUE and result.condition and result.condition.value is wanted:
                verb = "cannot be known" if wanted is Tri.UNKNOWN else "does not hold"
                return reason, _condition_words(statement.label(policy), result.condition, verb)
    if allows:
        return "resource too narrow", f"needs {authorization.shown}"
    return "missing", ""


_Part = tuple[str | None, list[Statement], tuple[str, str] | None]


def _one(applicable: list[tuple[str, Statement]], authorization: Authorization) -> _Part:
    """One authorization: the detail of the first Deny that may apply to it (None: none), the Allows that
    surely grant it, and why none does (None: some does)."""
    deny = None
    for policy, statement in applicable:
        if statement.effect == "Deny":
            result = applies(statement, authorization)
            if result.value is not Tri.FALSE:  # a Deny that may apply denies
                deny = _deny_detail(statement.label(policy), statement, result, authorization)
                break
    allows = [(p, s, applies(s, authorization)) for p, s in applicable if s.effect == "Allow"]
    grants = [s for _, s, result in allows if result.value is Tri.TRUE]
    return deny, grants, None if grants else _why_not(authorization, allows)


def _evaluate(policies: Sequence[Policy], action: str, authorizations: Sequence[Authorization],
              memo: dict | None = None, tag: str = "") -> _Outcome:
    """Denied by the first authorization (in order) a Deny may apply to; else allowed when an Allow surely
    grants every authorization, else the first of the gravest reasons (REASONS order)."""
    applicable = _statements(policies, action)
    parts = []
    for authorization in authorizations:
        if memo is None:
            parts.append(_one(applicable, authorization))
            continue
        key = (tag, action, authorization.resource)
        if key not in memo:
            memo[key] = _one(applicable, authorization)
        parts.append(memo[key])
    for deny, _, _ in parts:
        if deny is not None:
            return _Outcome(False, "denied", deny)
    granting: dict[int, Statement] = {}
    failures: list[tuple[str, str]] = []
    for _, grants, failure in parts:
        if grants:
            granting.update((id(s), s) for s in grants)
        else:
            failures.append(failure)
    if failures:
        reason, detail = min(failures, key=lambda failure: REASONS.index(failure[0]))
        return _Outcome(False, reason, detail)
    return _Outcome(True, overbroad=any(s.broad_ec2 for s in granting.values()))


def evaluate(policies: Sequence[Policy], action: str, required: Sequence[Authorization | str]) -> _Outcome:
    """One set of policies on its own (an SCP level): allowed for every authorization whatever the unknown
    keys are, and no Deny that may apply; else the reason (REASONS) and the deciding statement."""
    return _evaluate(policies, action, _authorizations(required))


def _authorizations(required: Sequence[Authorization | str]) -> list[Authorization]:
    """Plain resources (no context: every key unknown) or authorizations."""
    return [r if isinstance(r, Authorization) else Authorization(r) for r in required]


def check_action(
    identity: Sequence[Policy], boundary: Sequence[Policy] | None, action: str,
    required: Sequence[Authorization | str], memo: dict | None = None,
) -> ActionCheck:
    """Whether the identity policies, limited by the boundary (None: no boundary), allow `action` for every
    authorization in `required`, whatever the unknown keys of their contexts are. Reasons: REASONS.

    `memo`: each resource's outcome, shared by the calls for the same identity and boundary policies and
    action; only for authorizations whose context no statement reads (`reads_context` is False), where the
    outcome depends on the resource alone."""
    authorizations = _authorizations(required)
    granted = _evaluate(identity, action, authorizations, memo, "identity")
    if not granted.allowed and granted.reason == "denied":
        return ActionCheck(action, False, "denied", granted.detail)
    if boundary is not None:
        limit = _evaluate(boundary, action, authorizations, memo, "boundary")
        if not limit.allowed:
            detail = f"{', '.join(p.name for p in boundary)} {limit.reason}"
            return ActionCheck(action, False, "boundary", f"{detail}: {limit.detail}" if limit.detail else detail)
    if not granted.allowed:
        return ActionCheck(action, False, granted.reason, granted.detail)
    return ActionCheck(action, True, overbroad=granted.overbroad)


def reads_context(policies: Iterable[Policy]) -> bool:
    """Whether any statement of these policies reads the request context: a Condition, or a policy variable
    in its Resource (`${aws:username}`); otherwise whether a statement applies depends on the action and the
    resource alone."""
    return any(statement.conditions or any("${" in pattern for pattern in statement.resources)
               for policy in policies for statement in policy.statements)


def _may_allow(policies: Sequence[Policy], action: str, authorization: Authorization) -> str | None:
    """The label of an Allow that may grant this authorization with no Deny that surely applies; None."""
    applicable = _statements(policies, action)
    for _, statement in applicable:
        if statement.effect == "Deny" and applies(statement, authorization).value is Tri.TRUE:
            return None
    return next((statement.label(policy) for policy, statement in applicable
                 if statement.effect == "Allow" and applies(statement, authorization).value is not Tri.FALSE), None)


def may_allow(
    identity: Sequence[Policy], boundary: Sequence[Policy] | None, action: str,
    required: Sequence[Authorization | str],
) -> str | None:
    """Whether some request of this shape (each authorization's unknown keys taking some value) may be
    allowed: the label of an identity Allow that may grant it, or None when none can. Statements are judged
    one by one, so the answer errs towards "may" (two Denies that only together cover every value count
    as neither)."""
    label = None
    for authorization in _authorizations(required):
        found = _may_allow(identity, action, authorization)
        if found is None or (boundary is not None and _may_allow(boundary, action, authorization) is None):
            return None
        label = label or found
    return label


TIME_KEYS = ("aws:currenttime", "aws:epochtime")


def valid_until(policies: Iterable[Policy], actions: Iterable[str], now: datetime) -> datetime | None:
    """The first moment after `now` at which a Date or Numeric test on aws:CurrentTime / aws:EpochTime of a
    statement for `actions` may change its answer (its policy value); None when none lies ahead. Verdicts
    judged at `now` hold until then."""
    actions = tuple(actions)
    earliest = None
    for policy in policies:
        for statement in {id(s): s for a in actions for s in policy.statements_for(a)}.values():
            for test in statement.conditions:
                operator = parse_operator(test.operator)
                if (test.key.lower() not in TIME_KEYS or operator is None
                        or operator.kind not in (Kind.DATE, Kind.NUMERIC)):
                    continue
                for value in test.values:
                    moment = parse_date(value)
                    if moment is not None and moment > now and (earliest is None or moment < earliest):
                        earliest = moment
    return earliest
