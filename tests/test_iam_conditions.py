"""IAM Condition blocks on their own (lambda_vpc_rules.core.iam_conditions): every operator and qualifier, with
the key known, known to be absent, or unknown; policy variables; then properties: a TRUE or FALSE answer
for an unknown key holds for every value the key could take (absence included)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_vpc_rules.core.iam_conditions import (
    ABSENT,
    PRESENT_UNKNOWN,
    UNKNOWN,
    ConditionParseError,
    ConditionTest,
    RequestContext,
    Tri,
    evaluate_conditions,
    evaluate_test,
    maybe,
    parse_conditions,
    parse_date,
    parse_operator,
)

T, F, U = Tri.TRUE, Tri.FALSE, Tri.UNKNOWN


def result(operator: str, values, state, key: str = "k", context: dict | None = None, tags: dict | None = None) -> Tri:
    values = values if isinstance(values, list) else [values]
    known = {key: state} if state is not None else {}
    test = ConditionTest(operator, key, tuple(values))
    return evaluate_test(test, RequestContext({**known, **(context or {})}, tags or {})).value


# Each row: operator, policy values, the key's state -> result. State: a tuple of values, ABSENT, or Unknown.
OPERATOR_ROWS = [
    # strings: exact, case-sensitive; negated operators over several values match none of them
    ("StringEquals", ["a", "b"], ("b",), T),
    ("StringEquals", "a", ("A",), F),
    ("StringEquals", "a*", ("abc",), F),  # no wildcards in StringEquals
    ("StringEquals", "a", ABSENT, F),
    ("StringNotEquals", ["a", "b"], ("b",), F),
    ("StringNotEquals", ["a", "b"], ("c",), T),
    ("StringNotEquals", "a", ABSENT, T),  # IAM: a negated operator holds when the key is absent
    ("StringEqualsIgnoreCase", "ABC", ("abc",), T),
    ("StringNotEqualsIgnoreCase", ["ABC", "x"], ("abc",), F),
    ("StringLike", "a*c", ("abbc",), T),
    ("StringLike", "a?c", ("abc",), T),
    ("StringLike", "a?c", ("ac",), F),
    ("StringLike", "arn:*:x", ("arn:a:b:x",), T),  # * crosses colons in StringLike
    ("StringLike", "a*", ABSENT, F),
    ("StringNotLike", ["a*", "b*"], ("bz",), F),
    ("StringNotLike", ["a*", "b*"], ("cz",), T),
    ("StringNotLike", "a*", ABSENT, T),
    # numbers
    ("NumericEquals", "10", ("10.0",), T),
    ("NumericNotEquals", ["1", "2"], ("2",), F),
    ("NumericLessThan", "10", ("9",), T),
    ("NumericLessThan", "10", ("10",), F),
    ("NumericLessThanEquals", "10", ("10",), T),
    ("NumericGreaterThan", "10", ("10.5",), T),
    ("NumericGreaterThanEquals", "10", ("9.99",), F),
    ("NumericEquals", "10", ("ten",), F),
    ("NumericEquals", "10", ABSENT, F),
    ("NumericNotEquals", "10", ABSENT, T),
    # dates: ISO 8601 or epoch seconds, on either side
    ("DateLessThan", "2020-01-01T00:00:00Z", ("2019-12-31T23:59:59Z",), T),
    ("DateLessThan", "2020-01-01", ("2020-01-01T00:00:01Z",), F),
    ("DateGreaterThan", "1577836800", ("2020-01-01T00:00:01Z",), T),
    ("DateEquals", "2020-01-01T01:00:00+01:00", ("2020-01-01T00:00:00Z",), T),
    ("DateNotEquals", ["2020-01-01T00:00:00Z"], ("1577836800",), F),
    ("DateLessThanEquals", "2020-01-01T00:00:00Z", ("1577836800",), T),
    ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", ABSENT, F),
    # booleans, binary
    ("Bool", "true", ("true",), T),
    ("Bool", "TRUE", ("true",), T),
    ("Bool", "false", ("true",), F),
    ("Bool", "false", ABSENT, F),
    ("BinaryEquals", "QmluYXJ5", ("QmluYXJ5",), T),
    ("BinaryEquals", "QmluYXJ5", ("QmluYXJ6",), F),
    # IP addresses: CIDRs, IPv4 and IPv6, an address alone is /32 or /128
    ("IpAddress", "203.0.113.0/24", ("203.0.113.9",), T),
    ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], ("2001:db8::1",), T),
    ("IpAddress", "203.0.113.7", ("203.0.113.8",), F),
    ("IpAddress", "203.0.113.0/24", ABSENT, F),
    ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], ("192.168.1.1",), F),
    ("NotIpAddress", ["10.0.0.0/8"], ("203.0.113.1",), T),
    ("NotIpAddress", "10.0.0.0/8", ABSENT, T),
    # ARNs: wildcards stay within a segment unless they end one
    ("ArnEquals", "arn:aws:lambda:*:123:function:f", ("arn:aws:lambda:us-east-1:123:function:f",), T),
    ("ArnLike", "arn:aws:lambda:*:123:function:*", ("arn:aws:lambda:us-east-1:123:function:f",), T),
    ("ArnLike", "arn:aws:s:*:111:finance/*", ("arn:aws:s:us-east-2:999:store/abc:111:finance/x",), F),
    ("ArnLike", "arn:aws:lambda:us-east-1:123:function:f", ABSENT, F),
    ("ArnNotEquals", "arn:aws:lambda:*:123:function:f", ("arn:aws:lambda:eu-west-1:123:function:f",), F),
    ("ArnNotLike", ["arn:aws:iam::*:role/a", "arn:aws:iam::*:role/b"], ("arn:aws:iam::1:role/c",), T),
    ("ArnNotLike", "arn:*", ABSENT, T),
    ("ArnLike", "arn:aws:ec2:*", ("arn:aws:ec2:us-east-1:1:subnet/s",), T),  # a last component spans the rest
    ("ArnLike", "*", ("arn:aws:ec2:us-east-1:1:subnet/s",), T),
    ("ArnLike", "arn:aws:ec2:us-east-?:1:*", ("arn:aws:ec2:us-east-1:1:a:b",), T),
    ("ArnLike", "arn:aws:ec2:us-east-??:1:*", ("arn:aws:ec2:us-east-1:1:a:b",), F),
    # Null: true when the key is absent
    ("Null", "true", ABSENT, T),
    ("Null", "true", ("x",), F),
    ("Null", "false", ("x",), T),
    ("Null", "false", ABSENT, F),
    ("Null", "false", PRESENT_UNKNOWN, T),
    ("Null", "true", UNKNOWN, U),
    # ...IfExists: true when absent, the operator otherwise
    ("StringEqualsIfExists", "a", ABSENT, T),
    ("StringEqualsIfExists", "a", ("b",), F),
    ("StringNotEqualsIfExists", "a", ("a",), F),
    ("ArnLikeIfExists", "arn:aws:ec2:*", ABSENT, T),
    ("NumericLessThanIfExists", "3", ("2",), T),
    # set qualifiers: every / some request value; no value: ForAllValues true, ForAnyValue false
    ("ForAllValues:StringEquals", ["a", "b"], ("a", "b"), T),
    ("ForAllValues:StringEquals", ["a", "b"], ("a", "c"), F),
    ("ForAllValues:StringEquals", ["a"], ABSENT, T),
    ("ForAnyValue:StringEquals", ["a"], ("c", "a"), T),
    ("ForAnyValue:StringEquals", ["a"], ABSENT, F),
    ("ForAllValues:StringNotEquals", ["a", "b"], ("c", "d"), T),
    ("ForAllValues:StringNotEquals", ["a", "b"], ("c", "a"), F),
    ("ForAnyValue:StringNotLike", ["a*"], ("ab", "cd"), T),
    ("ForAnyValue:StringLikeIfExists", ["a*"], ABSENT, T),
    ("StringEquals", "a", ("a", "b"), U),  # a single-valued operator on several values: not decided
    # unknown keys: decided only when every value (and absence) gives the same answer
    ("StringEquals", "a", UNKNOWN, U),
    ("StringLikeIfExists", "*", UNKNOWN, T),
    ("StringLike", "*", UNKNOWN, U),  # absent: false
    ("StringLike", "*", PRESENT_UNKNOWN, T),
    ("StringNotLike", "*", PRESENT_UNKNOWN, F),
    ("StringNotLike", ["**", "a"], UNKNOWN, U),
    ("StringEqualsIfExists", "a", maybe("a"), T),  # absent, or exactly "a"
    ("StringEquals", "a", maybe("a"), U),
    ("ForAllValues:StringEquals", ["a", "b"], maybe("a", "b"), T),
    ("ForAllValues:StringEquals", ["a"], UNKNOWN, U),
    ("ForAnyValue:StringEquals", ["a"], PRESENT_UNKNOWN, U),
    ("NumericLessThan", "3", PRESENT_UNKNOWN, U),
    # operators IAM does not define, values the operator cannot read: undecidable
    ("StringEqualsAnyCase", "a", ("a",), U),
    ("ForSomeValues:StringEquals", "a", ("a",), U),
    ("NullIfExists", "true", ABSENT, U),
    ("ForAllValues:Null", "true", ABSENT, U),
    ("NumericEquals", "ten", ("10",), U),
    ("DateLessThan", "soon", ("2020-01-01",), U),
    ("IpAddress", "not-an-ip", ("10.0.0.1",), U),
    ("BinaryEquals", "not base64!", ("QQ==",), U),
]


@pytest.mark.parametrize(("operator", "values", "state", "expected"), OPERATOR_ROWS,
                         ids=[f"{row[0]}-{i}" for i, row in enumerate(OPERATOR_ROWS)])
def test_operators(operator, values, state, expected):
    assert result(operator, values, state) is expected


def test_operator_names_and_qualifiers_ignore_case():
    assert result("stringequals", "a", ("a",)) is T
    assert result("forallvalues:StringEquals", ["a"], ("a",)) is T
    assert parse_operator("StringLikeIfExists").if_exists and parse_operator("ArnNotLike").negated


def test_key_names_ignore_case_tag_keys_do_not():
    context = RequestContext({"AWS:RequestedRegion": ("us-east-1",)}, {"aws:PrincipalTag/": {"Team": "pay"}})
    assert context.get("aws:requestedregion") == ("us-east-1",)
    assert context.get("AWS:PRINCIPALTAG/Team") == ("pay",)
    assert context.get("aws:PrincipalTag/team") is UNKNOWN  # the role has "Team": which one is meant?
    assert context.get("aws:PrincipalTag/cost") is ABSENT  # the complete tags are known
    assert context.get("aws:SourceIp") is UNKNOWN


@pytest.mark.parametrize(
    ("value", "context", "expected"),
    [
        ("${aws:PrincipalTag/team}", {"aws:PrincipalTag/team": ("pay",)}, T),
        ("${aws:PrincipalTag/team}", {"aws:PrincipalTag/team": ("ops",)}, F),
        ("${aws:username}", {"aws:username": ABSENT}, F),  # no value, no default: the statement is invalid
        ("${aws:username, 'pay'}", {"aws:username": ABSENT}, T),  # the default
        ("${aws:userid}", {}, U),
        ("p${*}y", {}, F),  # ${*} is a literal star, not a wildcard
    ],
)
def test_policy_variables_in_condition_values(value, context, expected):
    assert result("StringLike", value, ("pay",), context=context) is expected


def test_a_variable_without_value_fails_its_match_and_leaves_the_statement_in_doubt():
    """IAM ("Variables and tags"): "if AWS cannot resolve a variable this might cause the entire statement to
    be invalid". The match fails (a positive test is FALSE either way); a negated test would hold if only the
    match failed and the statement would be void if it is invalid: UNKNOWN, naming the variable."""
    absent = {"aws:username": ABSENT}
    assert result("StringEquals", "${aws:username}", ("x",), context=absent) is F
    assert result("StringNotEquals", "${aws:username}", ("x",), context=absent) is U
    assert result("StringEqualsIfExists", "${aws:username}", ABSENT, context=absent) is U
    assert result("StringEquals", ["${aws:username}", "x"], ("x",), context=absent) is U  # another value holds
    test = ConditionTest("StringNotEquals", "aws:PrincipalTag/team", ("${aws:username}",))
    assert evaluate_test(test, RequestContext(absent)).why == "${aws:username} has no value"


def test_variables_in_arn_values_and_literal_wildcards():
    context = {"aws:PrincipalAccount": ("123",)}
    assert result("ArnLike", "arn:aws:lambda:*:${aws:PrincipalAccount}:function:*",
                  ("arn:aws:lambda:us-east-1:123:function:f",), context=context) is T
    # a value that contains a wildcard character is matched literally
    assert result("StringLike", "${aws:PrincipalTag/p}", ("abc",), context={"aws:PrincipalTag/p": ("a*",)}) is F


def test_variables_are_not_read_in_numeric_values():
    assert result("NumericEquals", "${aws:EpochTime}", ("1",)) is U


def test_several_keys_all_must_hold_and_the_deciding_test_is_named():
    tests = parse_conditions({"StringEquals": {"a": "1", "b": "2"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    context = RequestContext({"a": ("1",), "b": ("2",)})
    unknown = evaluate_conditions(tests, context)
    assert (unknown.value, unknown.key) == (U, "aws:SourceIp")
    failed = evaluate_conditions(tests, RequestContext({"a": ("1",), "b": ("3",), "aws:SourceIp": ("10.1.1.1",)}))
    assert (failed.value, failed.key) == (F, "b")
    held = evaluate_conditions(tests, RequestContext({"a": ("1",), "b": ("2",), "aws:SourceIp": ("10.1.1.1",)}))
    assert held.value is T and held.deciding is None
    assert evaluate_conditions((), RequestContext()).value is T


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "must be an object"),
        ({"StringEquals": "x"}, "non-empty object"),
        ({"StringEquals": {}}, "non-empty object"),
        ({"StringEquals": {"k": []}}, "has no value"),
        ({"StringEquals": {"k": [None]}}, "strings, numbers or booleans"),
    ],
)
def test_malformed_conditions(raw, message):
    with pytest.raises(ConditionParseError, match=message):
        parse_conditions(raw)


def test_json_values_become_iam_strings():
    [flag, number] = parse_conditions({"Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"n": 10}})
    assert flag.values == ("false",) and number.values == ("10",)


def test_dates():
    assert parse_date("2020-01-01") == datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_date("1577836800") == datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_date("2020-01-01T00:00:00.5Z") == datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert parse_date("tomorrow") is None


# -------------------------------------------------------------------------------------------- properties

OPERATORS = [row[0] for row in OPERATOR_ROWS if parse_operator(row[0]) is not None]
WORDS = ["a", "b", "ab", "a*", "*", "?", "10", "2.5", "-1", "true", "false", "2020-01-01T00:00:00Z", "1577836800",
         "10.0.0.1", "10.0.0.0/8", "2001:db8::1", "QQ==", "arn:aws:ec2:us-east-1:1:subnet/s",
         "arn:aws:ec2:*:1:subnet/*", "${aws:username}", "${p}", "${p, 'a'}", ""]
request_values = st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(tuple)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(OPERATORS), st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
       st.sampled_from([UNKNOWN, PRESENT_UNKNOWN]), st.lists(request_values, min_size=1, max_size=6))
def test_a_decided_answer_for_an_unknown_key_holds_for_every_value(operator, values, unknown, samples):
    """Sound three-valued logic: when the unknown key gives TRUE (FALSE), every concrete value gives TRUE
    (FALSE), absence too unless the key is known to be present."""
    context = {"aws:username": ABSENT}
    answer = result(operator, values, unknown, context=context)
    if answer is U:
        return
    if not operator.startswith("For"):  # single-valued operators are for single-valued keys
        samples = [sample[:1] for sample in samples]
    concrete = [result(operator, values, sample, context=context) for sample in samples]
    if not unknown.present:
        concrete.append(result(operator, values, ABSENT, context=context))
    assert all(c is answer for c in concrete), (answer, concrete)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OPERATORS), st.lists(st.sampled_from(WORDS), min_size=1, max_size=3), request_values)
def test_maybe_is_absent_or_its_values(operator, values, request):
    context = {"aws:username": ABSENT}
    answer = result(operator, values, maybe(*request), context=context)
    present = result(operator, values, request, context=context)
    absent = result(operator, values, ABSENT, context=context)
    assert answer is (present if present is absent else U)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([op for op in OPERATORS if not op.startswith("For") and "IfExists" not in op and op != "Null"]),
       st.lists(st.sampled_from(WORDS[:12]), min_size=1, max_size=3), st.sampled_from(WORDS[:12]))
def test_a_negated_operator_is_the_negation_of_its_positive(operator, values, value):
    negations = {"StringEquals": "StringNotEquals", "StringEqualsIgnoreCase": "StringNotEqualsIgnoreCase",
                 "StringLike": "StringNotLike", "NumericEquals": "NumericNotEquals", "DateEquals": "DateNotEquals",
                 "IpAddress": "NotIpAddress", "ArnLike": "ArnNotLike", "ArnEquals": "ArnNotEquals"}
    if operator not in negations:
        return
    positive = result(operator, values, (value,))
    negative = result(negations[operator], values, (value,))
    assert negative is ~positive
    assert result(negations[operator], values, ABSENT) is T and result(operator, values, ABSENT) is F
