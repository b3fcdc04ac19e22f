"""IAM policy `Condition` blocks, evaluated with three values against a partly known request context.

Pure; no AWS calls. A condition test is one operator and one key with its values (`{"StringEquals":
{"aws:RequestedRegion": ["us-east-1"]}}` is one test). Against a `RequestContext` whose keys are known,
known to be absent, or unknown, a test evaluates to TRUE (holds whatever the unknown keys are), FALSE
(holds for none of their values) or UNKNOWN (holds for some values and not others). Several tests in one
statement are ANDed; several values of one test are ORed (for negated operators: the key must match none
of them). IAM User Guide: "IAM JSON policy elements: Condition operators", "Creating a condition with
multiple keys or values", "Single-valued vs. multivalued context keys", "IAM policy elements: Variables
and tags".

| operator | key present with value v | key absent |
|---|---|---|
| `StringEquals` / `StringNotEquals` (`...IgnoreCase`) | v equals one value / none | FALSE / TRUE |
| `StringLike` / `StringNotLike` | v matches one glob (`*` any run, `?` one character) / none | FALSE / TRUE |
| `NumericEquals`, `...NotEquals`, `...LessThan(Equals)`, `...GreaterThan(Equals)` | compared as numbers | FALSE (`NotEquals`: TRUE) |
| `DateEquals` ... `DateGreaterThanEquals` | compared as instants (ISO 8601 or epoch seconds) | FALSE (`NotEquals`: TRUE) |
| `Bool` | v equals `true`/`false` (case-insensitive) | FALSE |
| `BinaryEquals` | v equals the base64 value | FALSE |
| `IpAddress` / `NotIpAddress` | v in one CIDR (an address without prefix is /32 or /128) / in none | FALSE / TRUE |
| `ArnEquals` = `ArnLike` / `ArnNotEquals` = `ArnNotLike` | v matches one ARN pattern, component by component (wildcards span colons only in the resource component, or the pattern's last one) / none | FALSE / TRUE |
| `Null` | value `false`: TRUE, `true`: FALSE | value `true`: TRUE, `false`: FALSE |
| any `...IfExists` (not `Null`) | as without `IfExists` | TRUE |
| `ForAllValues:` op | every request value satisfies op (no values: TRUE) | TRUE |
| `ForAnyValue:` op | some request value satisfies op | FALSE |
| unknown operator (or qualifier, or a policy value the operator cannot read) | UNKNOWN: its statement is undecidable | UNKNOWN |

A key whose value is unknown may be absent or hold any value (one value, unless a set qualifier says
it is multivalued: IAM's single-valued operators are for single-valued keys) (`Unknown(present=True)`: any value, never
absent; `maybe(v)`: absent or v); the test is TRUE or FALSE only if it is for every such value (`StringLikeIfExists` with `*`
holds for all). Policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, with a default
`${aws:username, 'none'}`) are resolved in String, ARN and Bool values: a known value is substituted
literally, an absent one takes its default or, without one, fails to match (IAM, "Variables and tags":
"if AWS cannot resolve a variable this might cause the entire statement to be invalid"): the value matches
no request value, and since the statement may also be void, the test is FALSE where it fails either way
and UNKNOWN otherwise (a negated test: UNKNOWN, never TRUE); an unknown one makes the test UNKNOWN. Key names are case-insensitive; tag keys (after `/`) are matched exactly,
and a tag known only under another case is UNKNOWN.
"""  # noqa: E501 (the table)

from __future__ import annotations

import base64
import binascii
import enum
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any


class Tri(enum.Enum):
    TRUE = "holds"
    FALSE = "does not hold"
    UNKNOWN = "cannot be known"

    def __invert__(self) -> Tri:
        return {Tri.TRUE: Tri.FALSE, Tri.FALSE: Tri.TRUE}.get(self, Tri.UNKNOWN)


def tri_and(values: Iterable[Tri]) -> Tri:
    result = Tri.TRUE
    for value in values:
        if value is Tri.FALSE:
            return Tri.FALSE
        if value is Tri.UNKNOWN:
            result = Tri.UNKNOWN
    return result


def tri_or(values: Iterable[Tri]) -> Tri:
    result = Tri.FALSE
    for value in values:
        if value is Tri.TRUE:
            return Tri.TRUE
        if value is Tri.UNKNOWN:
            result = Tri.UNKNOWN
    return result


def _tri(condition: bool) -> Tri:
    return Tri.TRUE if condition else Tri.FALSE


def _from_outcomes(outcomes: set[Tri]) -> Tri:
    return next(iter(outcomes)) if len(outcomes) == 1 else Tri.UNKNOWN


class _Absent:
    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()  # the key is known not to be in the request context


@dataclass(frozen=True)
class Unknown:
    """A key whose value is not known; `present`: known to be in the context (any value, never absent);
    `values`: not known to be present, but if it is, it holds exactly these values."""

    present: bool = False
    values: tuple[str, ...] | None = None


UNKNOWN = Unknown()
PRESENT_UNKNOWN = Unknown(present=True)


def maybe(*values: str) -> Unknown:
    """Absent, or present with exactly these values."""
    return Unknown(values=tuple(values))
Value = tuple[str, ...] | _Absent | Unknown  # known values: one for a single-valued key


@dataclass(frozen=True)
class RequestContext:
    """What is known of the request context IAM evaluates a request in.

    `values`: key (any case) -> known values, ABSENT or Unknown. `tags`: closed tag namespaces, a key
    prefix such as `aws:PrincipalTag/` -> the complete tags under it (a tag not listed is absent). Any
    other key is unknown."""

    values: Mapping[str, Value] = field(default_factory=dict)
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", {key.lower(): value for key, value in self.values.items()})
        object.__setattr__(self, "tags", {prefix.lower(): dict(tags) for prefix, tags in self.tags.items()})

    def get(self, key: str) -> Value:
        lowered = key.lower()
        if lowered in self.values:
            return self.values[lowered]
        head, slash, tag = key.partition("/")
        namespace = self.tags.get(head.lower() + "/") if slash else None
        if namespace is not None:
            if tag in namespace:
                return (namespace[tag],)
            if any(name.lower() == tag.lower() for name in namespace):
                return UNKNOWN  # IAM tag keys differ in case only by mistake: do not guess which applies
            return ABSENT
        return UNKNOWN

    def with_values(self, values: Mapping[str, Value], tags: Mapping[str, Mapping[str, str] | None] | None = None
                    ) -> RequestContext:
        """This context with more keys and closed tag namespaces (a namespace given as None: open again, its
        tags unknown); built without normalizing it all again."""
        derived = object.__new__(RequestContext)
        object.__setattr__(derived, "values", {**self.values, **{k.lower(): v for k, v in values.items()}})
        merged = dict(self.tags)
        for prefix, namespace in (tags or {}).items():
            if namespace is None:
                merged.pop(prefix.lower(), None)
            else:
                merged[prefix.lower()] = dict(namespace)
        object.__setattr__(derived, "tags", merged)
        return derived


# ------------------------------------------------------------------------------------------- parsing


class ConditionParseError(ValueError):
    """A Condition element that is not IAM's shape; the message says what is wrong."""


@dataclass(frozen=True)
class ConditionTest:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written, e.g. "aws:PrincipalTag/team"
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.operator} {self.key}"


def _value_text(value: Any, where: str) -> str:
    if isinstance(value, bool):  # JSON true/false, as in {"Bool": {"aws:SecureTransport": false}}
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise ConditionParseError(f"{where}: condition values must be strings, numbers or booleans")


def parse_conditions(raw: Any, where: str = "Condition") -> tuple[ConditionTest, ...]:
    """The tests of one statement's Condition element (None: no condition)."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConditionParseError(f"{where} must be an object")
    tests = []
    for operator, block in raw.items():
        if not isinstance(block, dict) or not block:
            raise ConditionParseError(f"{where} {operator} must be a non-empty object of condition keys")
        for key, values in block.items():
            items = values if isinstance(values, list) else [values]
            if not items:
                raise ConditionParseError(f"{where} {operator} {key} has no value")
            tests.append(ConditionTest(operator, key, tuple(_value_text(v, f"{where} {operator} {key}")
                                                            for v in items)))
    return tuple(tests)


# ------------------------------------------------------------------------------------------- operators


class Kind(enum.Enum):
    STRING = "String"
    STRING_CI = "StringIgnoreCase"
    STRING_LIKE = "StringLike"
    NUMERIC = "Numeric"
    DATE = "Date"
    BOOL = "Bool"
    BINARY = "Binary"
    IP = "IpAddress"
    ARN = "Arn"
    NULL = "Null"


# base operator -> (kind, comparison, negated)
_BASES: dict[str, tuple[Kind, str, bool]] = {
    "StringEquals": (Kind.STRING, "eq", False),
    "StringNotEquals": (Kind.STRING, "eq", True),
    "StringEqualsIgnoreCase": (Kind.STRING_CI, "eq", False),
    "StringNotEqualsIgnoreCase": (Kind.STRING_CI, "eq", True),
    "StringLike": (Kind.STRING_LIKE, "like", False),
    "StringNotLike": (Kind.STRING_LIKE, "like", True),
    "NumericEquals": (Kind.NUMERIC, "eq", False),
    "NumericNotEquals": (Kind.NUMERIC, "eq", True),
    "NumericLessThan": (Kind.NUMERIC, "lt", False),
    "NumericLessThanEquals": (Kind.NUMERIC, "le", False),
    "NumericGreaterThan": (Kind.NUMERIC, "gt", False),
    "NumericGreaterThanEquals": (Kind.NUMERIC, "ge", False),
    "DateEquals": (Kind.DATE, "eq", False),
    "DateNotEquals": (Kind.DATE, "eq", True),
    "DateLessThan": (Kind.DATE, "lt", False),
    "DateLessThanEquals": (Kind.DATE, "le", False),
    "DateGreaterThan": (Kind.DATE, "gt", False),
    "DateGreaterThanEquals": (Kind.DATE, "ge", False),
    "Bool": (Kind.BOOL, "eq", False),
    "BinaryEquals": (Kind.BINARY, "eq", False),
    "IpAddress": (Kind.IP, "in", False),
    "NotIpAddress": (Kind.IP, "in", True),
    "ArnEquals": (Kind.ARN, "like", False),
    "ArnLike": (Kind.ARN, "like", False),
    "ArnNotEquals": (Kind.ARN, "like", True),
    "ArnNotLike": (Kind.ARN, "like", True),
    "Null": (Kind.NULL, "null", False),
}
_BASES_BY_LOWER = {name.lower(): name for name in _BASES}
# Policy variables are allowed in String, ARN and Bool values only (IAM: "Condition operators").
_VARIABLE_KINDS = {Kind.STRING, Kind.STRING_CI, Kind.STRING_LIKE, Kind.ARN, Kind.BOOL}


@dataclass(frozen=True)
class Operator:
    base: str
    kind: Kind
    comparison: str
    negated: bool
    if_exists: bool = False
    qualifier: str | None = None  # "ForAllValues" | "ForAnyValue"


@cache
def parse_operator(name: str) -> Operator | None:
    """An operator name as IAM defines it, or None for one IAM does not define."""
    qualifier = None
    head, colon, rest = name.partition(":")
    if colon:
        qualifier = {"forallvalues": "ForAllValues", "foranyvalue": "ForAnyValue"}.get(head.lower())
        if qualifier is None:
            return None
        name = rest
    if_exists = name.lower().endswith("ifexists")
    base = _BASES_BY_LOWER.get((name[: -len("IfExists")] if if_exists else name).lower())
    if base is None:
        return None
    kind, comparison, negated = _BASES[base]
    if kind is Kind.NULL and (if_exists or qualifier):
        return None  # IAM: "...IfExists" applies to any operator except Null; sets of Null mean nothing
    return Operator(base, kind, comparison, negated, if_exists, qualifier)


# ---------------------------------------------------------------------------------------- policy values

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


class InvalidVariable(Exception):
    """A policy variable with no value and no default: its match fails, and its statement may be invalid."""


class _Unresolved(Exception):
    """A policy variable (or value) that is not known."""


def resolve_variable(name: str, context: RequestContext) -> str | None:
    """The value of the policy variable `${name}` (name may carry a default: `aws:username, 'none'`);
    None when it is not known. Raises InvalidVariable when it has no value and no default."""
    key, comma, default = name.partition(",")
    key = key.strip()
    value = context.get(key)
    if isinstance(value, tuple) and len(value) == 1:
        return value[0]
    if value is ABSENT:
        default = default.strip()
        if comma and len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        raise InvalidVariable(key)
    return None


def _variable_value(name: str, context: RequestContext) -> str:
    value = resolve_variable(name, context)
    if value is None:
        raise _Unresolved(f"${{{name.partition(',')[0].strip()}}}")
    return value


def substitute(text: str, context: RequestContext) -> list[tuple[str, bool]]:
    """`text` as parts (text, literal): policy text (wildcards active) and substituted values (literal).
    Raises InvalidVariable or _Unresolved."""
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        parts.append((text[position : match.start()], False))
        name = match.group(1)
        parts.append((_ESCAPES[name], True) if name in _ESCAPES else (_variable_value(name, context), True))
        position = match.end()
    parts.append((text[position:], False))
    return [part for part in parts if part[0]]


def _glob_regex(parts: list[tuple[str, bool]], arn: bool) -> re.Pattern:
    """StringLike: `*` and `?` match any characters. ArnLike (`arn`): the six colon-separated components
    are matched separately (IAM: `arn:aws:s:*:111:finance/*` does not match
    `arn:aws:s:us-east-2:999:store/abc:111:finance/x`); only in the last one (the resource, which may hold
    colons) or in a pattern's last component do wildcards span colons."""
    flat = [(char, literal) for text, literal in parts for char in text]
    components = 1 + sum(1 for char, _ in flat if char == ":")
    pieces, component = [], 0
    for char, literal in flat:
        if char == ":":
            component += 1
        spans = not arn or component >= 5 or component == components - 1
        if literal or char not in "*?":
            pieces.append(re.escape(char))
        elif char == "?":
            pieces.append("." if spans else "[^:]")
        else:
            pieces.append(".*" if spans else "[^:]*")
    return re.compile("".join(pieces), re.DOTALL)


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_date(text: str) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when no offset is given), or epoch seconds."""
    text = text.strip()
    number = _number(text)
    if number is not None:
        try:
            return datetime.fromtimestamp(float(number), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


_COMPARE = {"eq": lambda a, b: a == b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
            "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}


@dataclass(frozen=True)
class _PolicyValue:
    """One value of a test, ready to compare: `compare(request_value) -> Tri`, and whether it matches every
    possible request value (a glob of only `*`)."""

    compare: Any
    universal: bool = False


def _policy_value(operator: Operator, text: str, context: RequestContext) -> _PolicyValue:
    """Raises InvalidVariable (statement invalid) or _Unresolved (unknown variable)."""
    kind, comparison = operator.kind, operator.comparison
    if kind in _VARIABLE_KINDS:
        parts = substitute(text, context)
        resolved = "".join(part for part, _ in parts)
    else:
        parts, resolved = [(text, True)], text
    if kind in (Kind.STRING_LIKE, Kind.ARN):
        pattern = _glob_regex(parts, arn=kind is Kind.ARN)
        universal = bool(parts) and all(not literal and set(part) == {"*"} for part, literal in parts)
        return _PolicyValue(lambda v: _tri(pattern.fullmatch(v) is not None), universal)
    if kind is Kind.STRING:
        return _PolicyValue(lambda v: _tri(v == resolved))
    if kind is Kind.STRING_CI:
        return _PolicyValue(lambda v: _tri(v.casefold() == resolved.casefold()))
    if kind is Kind.BOOL:
        return _PolicyValue(lambda v: _tri(v.lower() == resolved.lower()))
    if kind is Kind.NUMERIC:
        bound = _number(resolved)
        if bound is None:
            raise _Unresolved(f"{text!r} (unreadable)")
        test = _COMPARE[comparison]
        return _PolicyValue(lambda v: _tri((n := _number(v)) is not None and test(n, bound)))
    if kind is Kind.DATE:
        moment = parse_date(resolved)
        if moment is None:
            raise _Unresolved(f"{text!r} (unreadable)")
        test = _COMPARE[comparison]
        return _PolicyValue(lambda v: _tri((d := parse_date(v)) is not None and test(d, moment)))
    if kind is Kind.IP:
        network = _network(resolved)
        if network is None:
            raise _Unresolved(f"{text!r} (unreadable)")

        def contains(v: str) -> Tri:
            try:
                address = ipaddress.ip_address(v.strip())
            except ValueError:
                return Tri.FALSE
            return _tri(address.version == network.version and address in network)

        return _PolicyValue(contains)
    if kind is Kind.BINARY:
        expected = _binary(resolved)
        if expected is None:
            raise _Unresolved(f"{text!r} (unreadable)")
        return _PolicyValue(lambda v: _tri(_binary(v) == expected))
    raise AssertionError(kind)


_NOTHING = _PolicyValue(lambda v: Tri.FALSE)  # a value whose variable has no value: matches no request value

# ------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class TestResult:
    value: Tri
    why: str = ""  # for UNKNOWN: "unknown operator X", "aws:SourceIp cannot be known"...


def _absent_result(operator: Operator, values: tuple[str, ...]) -> Tri:
    if operator.kind is Kind.NULL:
        return tri_or(Tri.TRUE if v.lower() == "true" else Tri.FALSE if v.lower() == "false" else Tri.UNKNOWN
                      for v in values)
    if operator.if_exists or operator.qualifier == "ForAllValues":
        return Tri.TRUE
    if operator.qualifier == "ForAnyValue":
        return Tri.FALSE
    return Tri.TRUE if operator.negated else Tri.FALSE


def _single(operator: Operator, compiled: list[_PolicyValue] | None, value: str) -> Tri:
    """The test for one request value: matches one policy value (negated: none). `compiled` None: a
    policy value is unknown."""
    if compiled is None:
        return Tri.UNKNOWN
    matched = tri_or(policy.compare(value) for policy in compiled)
    return ~matched if operator.negated else matched


def _single_possibilities(operator: Operator, compiled: list[_PolicyValue] | None) -> set[Tri]:
    """What the test can give for one request value nothing is known of."""
    if compiled is None:
        return {Tri.TRUE, Tri.FALSE}
    universal = any(policy.universal for policy in compiled)
    matched = {Tri.TRUE} if universal else {Tri.TRUE, Tri.FALSE}
    return {~m for m in matched} if operator.negated else matched


def _present_result(operator: Operator, compiled: list[_PolicyValue] | None, values: tuple[str, ...],
                    request: tuple[str, ...]) -> Tri:
    if operator.kind is Kind.NULL:
        return tri_or(Tri.TRUE if v.lower() == "false" else Tri.FALSE if v.lower() == "true" else Tri.UNKNOWN
                      for v in values)
    results = [_single(operator, compiled, value) for value in request]
    if operator.qualifier == "ForAllValues":
        return tri_and(results)
    if operator.qualifier == "ForAnyValue":
        return tri_or(results)
    return results[0] if len(results) == 1 else Tri.UNKNOWN  # a single-valued operator on several values


def _present_possibilities(operator: Operator, compiled: list[_PolicyValue] | None, values: tuple[str, ...]
                           ) -> set[Tri]:
    if operator.kind is Kind.NULL:
        return {_present_result(operator, compiled, values, ())}
    single = _single_possibilities(operator, compiled)
    if operator.qualifier == "ForAllValues":
        return single | {Tri.TRUE}  # no values at all: TRUE
    if operator.qualifier == "ForAnyValue":
        return single | {Tri.FALSE}
    return single


def evaluate_test(test: ConditionTest, context: RequestContext) -> TestResult:
    operator = parse_operator(test.operator)
    if operator is None:
        return TestResult(Tri.UNKNOWN, f"unknown operator {test.operator}")
    state = context.get(test.key)
    compiled: list[_PolicyValue] | None = []
    unresolved = invalid = ""
    if operator.kind is not Kind.NULL:
        for text in test.values:
            try:
                compiled.append(_policy_value(operator, text, context))
            except InvalidVariable as variable:
                # IAM: the match fails, and the statement "might" be invalid. The value matches nothing
                # here; below, the doubt about the whole statement makes any answer but FALSE unknown.
                invalid = invalid or f"${{{variable}}}"
                compiled.append(_NOTHING)
            except _Unresolved as what:
                unresolved = unresolved or str(what)
        compiled = None if unresolved else compiled
    outcomes: set[Tri] = set()
    if state is ABSENT or (isinstance(state, Unknown) and not state.present):
        outcomes.add(_absent_result(operator, test.values))
    if isinstance(state, tuple):
        outcomes.add(_present_result(operator, compiled, test.values, state))
    elif isinstance(state, Unknown) and state.values is not None:
        outcomes.add(_present_result(operator, compiled, test.values, state.values))
    elif isinstance(state, Unknown):
        outcomes |= _present_possibilities(operator, compiled, test.values)
    result = _from_outcomes(outcomes)
    if invalid and result is not Tri.FALSE:  # the statement may be invalid (applies to nothing), or not
        return TestResult(Tri.UNKNOWN, f"{invalid} has no value")
    if result is not Tri.UNKNOWN:
        return TestResult(result)
    if unresolved:
        return TestResult(result, f"the policy value {unresolved} cannot be known")
    return TestResult(result, f"{test.key} cannot be known")


@dataclass(frozen=True)
class ConditionResult:
    value: Tri
    deciding: ConditionTest | None = None  # the test that made it FALSE, or (first) UNKNOWN
    why: str = ""

    @property
    def key(self) -> str:
        return self.deciding.key if self.deciding else ""


def evaluate_conditions(tests: Iterable[ConditionTest], context: RequestContext) -> ConditionResult:
    """All tests must hold (AND); TRUE for no tests."""
    first_unknown: ConditionResult | None = None
    for test in tests:
        result = evaluate_test(test, context)
        if result.value is Tri.FALSE:
            return ConditionResult(Tri.FALSE, test, result.why)
        if result.value is Tri.UNKNOWN and first_unknown is None:
            first_unknown = ConditionResult(Tri.UNKNOWN, test, result.why)
    return first_unknown or ConditionResult(Tri.TRUE)
