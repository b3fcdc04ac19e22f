"""The IAM policy evaluator on its own: parsing, wildcard and ARN-segment matching, Deny, NotAction,
NotResource, Conditions, policy variables, boundaries; then properties checked against a brute-force
reference and invariants of the ENI rule built on it."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_vpc_rules.core.iam_conditions import ABSENT, RequestContext, Tri
from lambda_vpc_rules.core.iam_policy import (
    Authorization,
    PolicyParseError,
    applies,
    check_action,
    covers,
    may_allow,
    overlaps,
    parse_policy,
    required_tokens,
    resource_tokens,
)
from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, Role, Subnet
from lambda_vpc_rules.core.rules import get_rule

ACCOUNT, REGION = "123456789012", "us-east-1"
ENIS = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*"
SUBNETS = f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/*"


def policy(*statements: dict, name: str = "p"):
    return parse_policy(name, {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def check(statements, action="ec2:DeleteNetworkInterface", required=(ENIS,), boundary=None):
    return check_action([policy(*statements)], None if boundary is None else [policy(*boundary, name="b")],
                        action, required)


# ------------------------------------------------------------------------------------------ parsing


def test_parses_url_encoded_document_as_iam_returns_it():
    text = quote(json.dumps({"Version": "2012-10-17", "Statement": allow("ec2:*")}))
    parsed = parse_policy("encoded", text)
    assert parsed.statements[0].actions == ("ec2:*",)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        (42, "expected a JSON object"),
        ({"Version": "2012-10-17"}, "no Statement"),
        ({"Statement": ["x"]}, "statement 0 is not an object"),
        ({"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}, "Effect 'allow'"),
        ({"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}]}, "exactly one"),
        ({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "Resource and NotResource"),
        ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "non-empty list"),
        ({"Statement": [{"Effect": "Allow", "Action": [1], "Resource": "*"}]}, "list of strings"),
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "x"}]}, "Condition"),
    ],
)
def test_rejects_malformed_documents_with_a_reason(document, message):
    with pytest.raises(PolicyParseError, match=message):
        parse_policy("bad", document)


def test_single_statement_object_and_string_elements():
    parsed = parse_policy("p", {"Statement": {"Effect": "Deny", "NotAction": "s3:*", "NotResource": "arn:x"}})
    [statement] = parsed.statements
    assert statement.not_action and statement.not_resource and statement.effect == "Deny"


# ------------------------------------------------------------------------------------------ actions


@pytest.mark.parametrize(
    ("pattern", "granted"),
    [
        ("ec2:DeleteNetworkInterface", True),
        ("EC2:deletenetworkinterface", True),  # action names are case-insensitive
        ("ec2:Delete*", True),
        ("ec2:*NetworkInterface*", True),
        ("ec2:DeleteNetworkInterfac?", True),
        ("ec2:DeleteNetworkInterface?", False),  # ? is exactly one character
        ("ec2:DeleteNetworkInterfacePermission", False),
        ("ec2:Describe*", False),
        ("*", True),
    ],
)
def test_action_patterns(pattern, granted):
    assert check([allow(pattern)]).allowed is granted


def test_not_action_allow_grants_everything_else():
    assert check([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]).allowed
    assert not check([{"Effect": "Allow", "NotAction": "ec2:Delete*", "Resource": "*"}]).allowed


# ---------------------------------------------------------------------------------------- resources


@pytest.mark.parametrize(
    ("resource", "granted"),
    [
        ("*", True),
        (ENIS, True),
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:*", True),
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:*/*", True),
        ("arn:aws:ec2:*:*:network-interface/*", True),
        ("arn:aws:ec2:us-*:*:network-interface/*", True),
        ("arn:aws:ec2:*", True),  # a * that ends a segment may extend across colons
        ("arn:aws*", True),
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-*", False),
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-0123", False),
        (f"arn:aws:ec2:eu-west-1:{ACCOUNT}:network-interface/*", False),
        (f"arn:aws:ec2:{REGION}:999999999999:network-interface/*", False),
        (f"arn:aws:ec2:{REGION}*network-interface/*", False),  # a * inside a segment stops at colons
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/*", False),
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/${{aws:username}}", False),  # unknown variable
    ],
)
def test_resource_patterns_for_all_network_interfaces(resource, granted):
    result = check([allow("ec2:DeleteNetworkInterface", resource)])
    assert result.allowed is granted
    if not granted:
        assert result.reason == "resource too narrow" and ENIS in result.detail


def test_segment_wildcards_follow_the_iam_docs():
    eni = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-1"
    assert covers(resource_tokens("arn:aws:ec2:*"), resource_tokens(eni))
    assert not covers(resource_tokens(f"arn:aws:ec2:{REGION}*eni-1"), resource_tokens(eni))
    assert not overlaps(resource_tokens(f"arn:aws:ec2:{REGION}*eni-1", "any"), required_tokens(eni))
    assert covers(resource_tokens("arn:aws:ec2:us-?ast-1:*"), resource_tokens(eni))
    assert covers(resource_tokens("a/${*}"), resource_tokens("a/${*}")) and resource_tokens("a/${*}")[-1][1] == "*"


@pytest.mark.parametrize(
    ("resource", "granted"),
    [("*", True), ("arn:aws:ec2:*:*:*", False), ("arn:*", False), (SUBNETS, False), ("arn:aws:ec2:*", False)],
)
def test_describe_actions_work_only_on_star(resource, granted):
    assert check([allow("ec2:DescribeSubnets", resource)], "ec2:DescribeSubnets", ("*",)).allowed is granted


def test_create_needs_every_resource_type():
    partial = check([allow("ec2:CreateNetworkInterface", [ENIS, SUBNETS])], "ec2:CreateNetworkInterface",
                    (ENIS, SUBNETS, ENIS.replace("network-interface", "security-group")))
    assert partial.reason == "resource too narrow" and "security-group/*" in partial.detail
    split = check([allow("ec2:CreateNetworkInterface", ENIS), allow("ec2:CreateNetworkInterface", SUBNETS)],
                  "ec2:CreateNetworkInterface", (ENIS, SUBNETS))
    assert split.allowed  # different statements may cover different resources


def test_not_resource_allow():
    assert check([{"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:s3:::*"}]).allowed
    excluded = check([{"Effect": "Allow", "Action": "ec2:*", "NotResource": ENIS.replace("*", "eni-1")}])
    assert excluded.reason == "resource too narrow"
    describe = [{"Effect": "Allow", "Action": "ec2:DescribeSubnets", "NotResource": "arn:aws:ec2:*"}]
    assert check(describe, "ec2:DescribeSubnets", ("*",)).allowed


# ------------------------------------------------------------------------------------- deny, condition


@pytest.mark.parametrize(
    ("denial", "denied"),
    [
        (deny("ec2:DeleteNetworkInterface"), True),
        (deny("ec2:*", ENIS.replace("*", "eni-1")), True),  # a Deny on part of the resources counts
        (deny("ec2:*", "arn:aws:ec2:*:*:subnet/*"), False),
        (deny("ec2:*", "arn:aws:ec2:*:*:network-interface/${aws:PrincipalTag/team}"), True),  # might apply
        (deny("ec2:Delete*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}), True),
        (deny("s3:*"), False),
        ({"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"}, True),
        ({"Effect": "Deny", "Action": "ec2:*", "NotResource": "arn:aws:ec2:*"}, False),
        ({"Effect": "Deny", "Action": "ec2:*", "NotResource": ENIS.replace("*", "eni-1")}, True),
    ],
)
def test_deny(denial, denied):
    result = check([allow("ec2:*"), denial])
    assert (result.reason == "denied") is denied and result.allowed is not denied
    if denied:
        assert "p" in result.detail


def test_deny_on_an_arn_does_not_reach_describe_actions():
    result = check([allow("ec2:Describe*"), deny("ec2:*", "arn:aws:ec2:*:*:*")], "ec2:DescribeSubnets", ("*",))
    assert result.allowed


def test_conditional_allow_counts_only_when_its_condition_holds_in_the_context():
    region = {"StringEquals": {"aws:RequestedRegion": REGION}}
    unknown = check([allow("ec2:*", Sid="InRegion", Condition=region)])  # a bare resource: nothing known
    assert (unknown.allowed, unknown.reason) == (False, "condition unknown")
    assert unknown.detail == "p/InRegion: StringEquals aws:RequestedRegion cannot be known"
    here = Authorization(ENIS, RequestContext({"aws:RequestedRegion": (REGION,)}))
    assert check([allow("ec2:*", Condition=region)], required=(here,)).allowed
    elsewhere = Authorization(ENIS, RequestContext({"aws:RequestedRegion": ("eu-west-1",)}))
    missed = check([allow("ec2:*", Condition=region)], required=(elsewhere,))
    assert (missed.reason, missed.detail) == (
        "condition not met", "p#1: StringEquals aws:RequestedRegion does not hold")
    narrow = check([allow("ec2:*", ENIS.replace("*", "eni-1")), allow("ec2:*", Condition={"Bool": {"x": "y"}})])
    assert narrow.reason == "condition unknown"  # the conditional grant is the one that might have granted
    plain = check([allow("ec2:Describe*")])
    assert plain.reason == "missing"


def test_deny_names_the_key_that_decided():
    known = Authorization(ENIS, RequestContext({"aws:RequestedRegion": (REGION,)}))
    lock = deny("*", Sid="Lock", Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}})
    assert check([allow("ec2:*"), lock], required=(known,)).detail == (
        "by p/Lock: its condition on aws:RequestedRegion holds")
    assert check([allow("ec2:*"), {**lock, "Condition": {"StringNotEquals": {"aws:RequestedRegion": REGION}}}],
                 required=(known,)).allowed
    source = deny("*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert check([allow("ec2:*"), source], required=(known,)).detail == (
        "by p#2: conditional Deny on aws:SourceIp could apply")


@pytest.mark.parametrize(
    ("resource", "context", "effect_applies"),
    [
        # a variable with a known value is written in literally (its `*` is no wildcard)
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/${{aws:PrincipalTag/eni}}", {"eni": "eni-1"}, "exact"),
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/${{aws:PrincipalTag/eni}}", {"eni": "*"}, "no"),
        # absent without default: the statement is invalid; with a default: the default is used
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/${{aws:username}}", {}, "no"),
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/${{aws:username, 'eni-1'}}", {}, "exact"),
        # unknown: may stand for anything
        (f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/${{aws:userid}}", {}, "maybe"),
    ],
)
def test_policy_variables_in_resources(resource, context, effect_applies):
    one_eni = ENIS.replace("*", "eni-1")
    tags = RequestContext({"aws:username": ABSENT}, {"aws:PrincipalTag/": context})
    granted = check([allow("ec2:*", resource)], required=(Authorization(one_eni, tags),))
    denied = check([allow("ec2:*"), deny("ec2:*", resource)], required=(Authorization(one_eni, tags),))
    assert granted.allowed is (effect_applies == "exact")
    assert (denied.reason == "denied") is (effect_applies != "no")


def test_a_literal_star_is_only_matched_by_a_wildcard_in_its_place():
    """A network interface being created is `network-interface/*` with a literal `*` (it has no ID yet)."""
    new = Authorization(f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/${{*}}")
    assert check([allow("ec2:*", ENIS)], required=(new,)).allowed
    narrow = check([allow("ec2:*", ENIS.replace("*", "eni-*"))], required=(new,))
    assert (narrow.reason, narrow.detail) == ("resource too narrow", f"needs {ENIS}")
    assert check([allow("ec2:*"), deny("ec2:*", ENIS.replace("*", "eni-*"))], required=(new,)).allowed


def test_may_allow_answers_for_some_request_of_the_shape():
    anywhere = Authorization("arn:aws:ec2:*:123456789012:network-interface/eni-*",
                             RequestContext({"lambda:SourceFunctionArn": ("arn:aws:lambda:us-east-1:1:function:f",)}))
    guard = deny("ec2:*", Condition={"ArnEquals": {"lambda:SourceFunctionArn": "arn:aws:lambda:*:*:function:*"}})
    narrow = allow("ec2:*", ENIS, Sid="OwnRegion")
    assert may_allow([policy(narrow)], None, "ec2:DeleteNetworkInterface", [anywhere]) == "p/OwnRegion"
    assert may_allow([policy(narrow, guard)], None, "ec2:DeleteNetworkInterface", [anywhere]) is None
    assert may_allow([policy(narrow)], [policy(allow("s3:*"), name="b")], "ec2:DeleteNetworkInterface",
                     [anywhere]) is None
    # a Deny that only may apply does not keep every request out
    maybe = deny("ec2:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert may_allow([policy(narrow, maybe)], None, "ec2:DeleteNetworkInterface", [anywhere]) == "p/OwnRegion"


# ------------------------------------------------------------------------------------------ boundary


@pytest.mark.parametrize(
    ("boundary", "reason"),
    [
        ([allow("*")], ""),
        ([allow("ec2:Describe*")], "boundary"),
        ([allow("ec2:*"), deny("ec2:Delete*")], "boundary"),
        ([allow("ec2:*", "arn:aws:ec2:*:*:subnet/*")], "boundary"),
        ([allow("ec2:*", Condition={"Bool": {"x": "y"}})], "boundary"),
    ],
)
def test_boundary_must_also_allow(boundary, reason):
    result = check([allow("ec2:*")], boundary=boundary)
    assert result.reason == reason and result.allowed is (reason == "")


def test_reason_precedence():
    assert check([deny("ec2:*")], boundary=[allow("s3:*")]).reason == "denied"
    assert check([allow("s3:*")], boundary=[allow("s3:*")]).reason == "boundary"
    assert check([allow("ec2:*", SUBNETS)]).reason == "resource too narrow"
    assert check([allow("s3:*", ENIS)]).reason == "missing"


@pytest.mark.parametrize(
    ("statement", "overbroad"),
    [
        (allow("*"), True),
        (allow("ec2:*"), True),
        (allow("EC2:*"), True),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, True),
        (allow("ec2:*NetworkInterface"), False),
        (allow("ec2:DeleteNetworkInterface"), False),
    ],
)
def test_overbroad_grants(statement, overbroad):
    assert check([statement]).overbroad is overbroad


# ------------------------------------------------------------------------ patterns vs brute force

ALPHABET = "ab:"
STRINGS = ["".join(chars) for n in range(9) for chars in itertools.product(ALPHABET, repeat=n)]
patterns = st.text(alphabet="ab:*?", max_size=4)


def reference_regex(pattern: str) -> re.Pattern:
    """The IAM docs' resource rule, written independently: ? and * stay within a colon-separated segment,
    except a * that ends a segment."""
    parts = []
    for index, char in enumerate(pattern):
        if char == "*":
            ends_segment = index + 1 == len(pattern) or pattern[index + 1] == ":"
            parts.append(".*" if ends_segment else "[^:]*")
        else:
            parts.append("[^:]" if char == "?" else re.escape(char))
    return re.compile("".join(parts))


@settings(max_examples=300, deadline=None)
@given(patterns, patterns)
def test_covers_is_sound(outer, inner):
    if covers(resource_tokens(outer), resource_tokens(inner)):
        outer_re, inner_re = reference_regex(outer), reference_regex(inner)
        assert all(outer_re.fullmatch(s) for s in STRINGS if inner_re.fullmatch(s))


@settings(max_examples=300, deadline=None)
@given(patterns, st.text(alphabet=ALPHABET, max_size=6))
def test_covers_is_exact_for_concrete_strings(pattern, value):
    assert covers(resource_tokens(pattern), resource_tokens(value)) == bool(reference_regex(pattern).fullmatch(value))


@settings(max_examples=300, deadline=None)
@given(patterns, patterns)
def test_overlaps_is_exact(a, b):
    a_re, b_re = reference_regex(a), reference_regex(b)
    # a shortest common string is at most len(a) + len(b) long, so STRINGS holds one if any exists
    expected = any(a_re.fullmatch(s) and b_re.fullmatch(s) for s in STRINGS)
    assert overlaps(resource_tokens(a, "any"), resource_tokens(b, "any")) is expected


@settings(max_examples=200, deadline=None)
@given(patterns, patterns)
def test_covers_implies_overlaps(outer, inner):
    if covers(resource_tokens(outer), resource_tokens(inner)):
        assert overlaps(resource_tokens(outer), resource_tokens(inner))


def test_covers_normalises_wildcard_runs():
    assert covers(resource_tokens("?*"), resource_tokens("*?"))
    assert covers(resource_tokens("a*?b"), resource_tokens("a?*b"))


# ----------------------------------------------------------------- invariants of the ENI rule on top

RULE = get_rule("lambda-vpc-eni-permissions")
FUNCTION = LambdaFunction("fn", arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn",
                          role_arn=f"arn:aws:iam::{ACCOUNT}:role/r", subnet_ids=("subnet-1", "subnet-2"),
                          security_group_ids=("sg-1",))
FACTS_SUBNETS = {sid: Subnet(sid, "vpc-1", availability_zone=f"{REGION}a", tags={"tier": "app"})
                 for sid in FUNCTION.subnet_ids}
NOW = datetime(2026, 11, 27, tzinfo=UTC)
ACTIONS = ["*", "ec2:*", "ec2:Describe*", "ec2:*NetworkInterface*", "ec2:CreateNetworkInterface",
           "ec2:DeleteNetworkInterface", "ec2:?ssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
           "EC2:DESCRIBESUBNETS", "logs:*", "s3:GetObject"]
EC2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
RESOURCES = ["*", ENIS, SUBNETS, f"{EC2}:*/*", "arn:aws:ec2:*", "arn:aws:s3:::b/*", ENIS.replace("*", "eni-1"),
             f"arn:aws:ec2:*:{ACCOUNT}:security-group/*", ENIS.replace("*", "eni-*"), f"{EC2}:subnet/subnet-1",
             f"{EC2}:subnet/subnet-2", f"{EC2}:security-group/sg-1", f"{EC2}:network-interface/${{aws:username}}",
             f"{EC2}:subnet/${{aws:PrincipalTag/subnet}}"]
# Conditions that hold in every context the rule judges (Lambda's own requests) ...
ALWAYS = [{"StringEquals": {"aws:RequestedRegion": REGION}}, {"StringLikeIfExists": {"aws:SourceIp": "*"}},
          {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, {"Null": {"lambda:SourceFunctionArn": "true"}},
          {"StringEquals": {"aws:PrincipalType": "AssumedRole", "aws:PrincipalAccount": ACCOUNT}},
          {"ForAllValues:StringEquals": {"ec2:SubnetID": ["subnet-1", "subnet-2"]}}]
# ... that hold in none (also not in the requests of the function's code) ...
NEVER_FOR_ANYONE = [{"Null": {"aws:PrincipalArn": "true"}}, {"StringEquals": {"aws:username": "x"}},
                    {"Bool": {"aws:PrincipalTag/never": "true"}}, {"StringEquals": {"aws:PrincipalAccount": "9"}}]
NEVER = [*NEVER_FOR_ANYONE, {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
         {"ArnEquals": {"lambda:SourceFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"}}]
# ... and that depend on what is not known, or on the resource
SOMETIMES = [{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"StringEquals": {"ec2:SubnetID": "subnet-1"}},
             {"StringEquals": {"ec2:ResourceTag/tier": "app"}}, {"StringNotEqualsIfExists": {"ec2:Vpc": "x"}},
             {"Null": {"lambda:SourceFunctionArn": "false"}}]
CONDITIONS = [None, None, None, *ALWAYS, *NEVER, *SOMETIMES]
PARAMETER_SETS = [{}, {"FlagOverbroadEc2": "true"}, {"RequireFunctionCodeGuard": "true"}]
SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
GUARD = deny(SIX, Condition={"Null": {"lambda:SourceFunctionArn": "false"}})
# Roles start from nothing, a grant of the six actions, a least-privilege grant, or either with the guard,
# so that compliant roles are common enough for the properties to bite.
BASES = [[], [allow(SIX)], [allow(SIX[1:3]), allow(SIX[3:], ENIS.replace("*", "eni-*")), allow(SIX[0], [
    ENIS, f"{EC2}:subnet/subnet-1", f"{EC2}:subnet/subnet-2", f"{EC2}:security-group/sg-1"])]]
BASES += [[*base, GUARD] for base in BASES[1:]]


def roles():
    return st.tuples(st.sampled_from(BASES), st.lists(statements(), max_size=4)).map(lambda t: [*t[0], *t[1]])


@st.composite
def statements(draw, effect=None, conditions=CONDITIONS):
    statement = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    statement[draw(st.sampled_from(["Action", "NotAction"]))] = draw(
        st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3))
    statement[draw(st.sampled_from(["Resource", "Resource", "NotResource"]))] = draw(
        st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=3))
    condition = draw(st.sampled_from(conditions))
    if condition is not None:
        statement["Condition"] = condition
    return statement


def verdict(statement_list: list[dict], flag: bool = False, **parameters: str) -> Compliance:
    role = Role("r", f"arn:aws:iam::{ACCOUNT}:role/r", {"p": {"Version": "2012-10-17", "Statement": statement_list}},
                tags={"subnet": "subnet-1"})
    parameters = RULE.parse_parameters({"FlagOverbroadEc2": str(flag).lower(), **parameters})
    facts = Facts(subnets=FACTS_SUBNETS, roles={"r": role}, evaluated_at=NOW)
    return RULE.evaluate(FUNCTION, facts, parameters).compliance


@settings(max_examples=300, deadline=None)
@given(roles(), statements(effect="Deny"), st.booleans())
def test_adding_a_deny_never_makes_a_role_compliant(existing, denial, flag):
    """For Lambda's own permissions (with RequireFunctionCodeGuard a Deny is exactly what complies)."""
    if verdict(existing, flag) is not Compliance.COMPLIANT:
        assert verdict([*existing, denial], flag) is not Compliance.COMPLIANT


@settings(max_examples=300, deadline=None)
@given(roles(), statements(effect="Allow", conditions=[None, *ALWAYS]))
def test_an_allow_that_always_holds_never_makes_a_role_non_compliant(existing, grant):
    if verdict(existing) is Compliance.COMPLIANT:
        assert verdict([*existing, grant]) is Compliance.COMPLIANT


@settings(max_examples=300, deadline=None)
@given(roles(), statements(effect="Deny", conditions=NEVER), st.booleans())
def test_a_deny_that_cannot_hold_never_changes_a_verdict(existing, denial, flag):
    assert verdict([*existing, denial], flag) is verdict(existing, flag)


@settings(max_examples=200, deadline=None)
@given(roles(), statements(effect="Deny", conditions=NEVER_FOR_ANYONE))
def test_a_deny_that_cannot_hold_for_the_code_either_never_changes_the_guard_verdict(existing, denial):
    guard = {"RequireFunctionCodeGuard": "true"}
    assert verdict([*existing, denial], **guard) is verdict(existing, **guard)


@settings(max_examples=200, deadline=None)
@given(roles().flatmap(lambda items: st.tuples(st.just(items), st.permutations(items))))
def test_statement_order_does_not_matter(pair):
    original, shuffled = pair
    for parameters in PARAMETER_SETS:
        assert verdict(original, **parameters) is verdict(list(shuffled), **parameters)


WITHOUT_VALUE = [f"{EC2}:network-interface/${{aws:username}}", f"{EC2}:subnet/${{aws:PrincipalTag/none}}",
                 "arn:aws:ec2:*:*:${aws:referer}/*", "${aws:username}"]


@settings(max_examples=300, deadline=None)
@given(roles(), statements(effect="Deny"), st.sampled_from(WITHOUT_VALUE), st.sampled_from(PARAMETER_SETS))
def test_an_entry_without_value_added_to_a_deny_never_makes_a_role_compliant(existing, denial, entry, parameters):
    """IAM ("Variables and tags"): a variable AWS cannot resolve "might cause the entire statement to be
    invalid", so the entry leaves the Deny's reach in doubt: never a reason for COMPLIANT."""
    key = "NotResource" if "NotResource" in denial else "Resource"
    widened = {**denial, key: [*denial[key], entry]}
    if verdict([*existing, denial], **parameters) is Compliance.NON_COMPLIANT:
        assert verdict([*existing, widened], **parameters) is Compliance.NON_COMPLIANT


@pytest.mark.parametrize(
    ("resources", "not_resource", "expected"),
    [
        ([ENIS, f"{EC2}:network-interface/${{aws:username}}"], False, Tri.UNKNOWN),  # the other entry reaches it
        ([SUBNETS, f"{EC2}:network-interface/${{aws:username}}"], False, Tri.FALSE),  # nothing else reaches it
        ([f"{EC2}:network-interface/${{aws:username}}"], False, Tri.FALSE),
        ([f"{EC2}:network-interface/${{aws:username}}"], True, Tri.UNKNOWN),  # all but nothing, or void
        ([ENIS, f"{EC2}:network-interface/${{aws:username}}"], True, Tri.FALSE),  # excluded either way
    ],
)
def test_an_entry_without_value_leaves_the_reach_unknown_never_nothing(resources, not_resource, expected):
    statement = parse_policy("p", {"Statement": [{"Effect": "Deny", "Action": "ec2:*",
                                                  ("NotResource" if not_resource else "Resource"): resources}]})
    context = RequestContext({"aws:username": ABSENT})
    result = applies(statement.statements[0], Authorization(ENIS.replace("*", "eni-1"), context))
    assert result.value is expected
    assert (result.why == "${aws:username} has no value") is (expected is Tri.UNKNOWN)
