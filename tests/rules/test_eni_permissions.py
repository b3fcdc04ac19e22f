"""LAMBDA_VPC_ENI_PERMISSIONS through the pure core: every row of the rule table, on policy shapes teams
really write (the IAM semantics themselves are tested in test_iam_policy.py and test_iam_conditions.py;
the shapes that depend on the request context are shared with the moto tests: eni_shapes.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from eni_shapes import SHAPES, SUBNET_TAGS, Env, Shape, all_six_if
from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, ManagedPolicy, Role, Subnet
from lambda_vpc_rules.core.rules import InvalidParameter, get_rule

RULE = get_rule("lambda-vpc-eni-permissions")
ACCOUNT, REGION = "123456789012", "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
ENI = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*"
SIX = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
MANAGED_ARN = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
MANAGED_DOC = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AWSLambdaVPCAccessExecutionPermissions",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", *SIX],
            "Resource": "*",
        }
    ],
}


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def evaluate(inline=None, attached=(), boundary=None, policies=None, role_exists=True, **raw):
    policies = {MANAGED_ARN: ManagedPolicy(MANAGED_ARN, "AWSLambdaVPCAccessExecutionRole", MANAGED_DOC),
                **(policies or {})}
    roles = {}
    if role_exists:
        roles["app-role"] = Role("app-role", f"arn:aws:iam::{ACCOUNT}:role/app-role", inline or {}, tuple(attached),
                                 boundary)
    fn = LambdaFunction("fn", arn=FUNCTION_ARN, role_arn=f"arn:aws:iam::{ACCOUNT}:role/service-role/app-role",
                        subnet_ids=("subnet-1",))
    return RULE.evaluate(fn, Facts(roles=roles, policies=policies), RULE.parse_parameters(raw))


def customer(name: str, document) -> dict:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    return {arn: ManagedPolicy(arn, name, document)}


CUSTOM = f"arn:aws:iam::{ACCOUNT}:policy/custom"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundary"

TABLE = [
    ("managed-policy", dict(attached=[MANAGED_ARN]), Compliance.COMPLIANT, ["all 6"]),
    ("inline-six-on-star", dict(inline={"eni": doc(allow(SIX))}), Compliance.COMPLIANT, []),
    ("wildcard-actions", dict(inline={"eni": doc(allow(["ec2:*NetworkInterface*", "ec2:Describe*",
                                                        "ec2:*PrivateIpAddresses"]))}), Compliance.COMPLIANT, []),
    ("lower-case-actions", dict(inline={"eni": doc(allow([a.lower() for a in SIX]))}), Compliance.COMPLIANT, []),
    ("scoped-arns-enough", dict(inline={"eni": doc(
        allow(["ec2:Describe*"]),
        allow(["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
               "ec2:UnassignPrivateIpAddresses"], f"arn:aws:ec2:{REGION}:{ACCOUNT}:*/*"))}),
     Compliance.COMPLIANT, []),
    ("missing-action", dict(inline={"eni": doc(allow(SIX[:-1]))}), Compliance.NON_COMPLIANT,
     ["ec2:UnassignPrivateIpAddresses", "missing"]),
    ("describe-on-narrow-resource", dict(inline={"eni": doc(allow(SIX[:1] + SIX[3:]),
                                                            allow(SIX[1:3], ENI))}),
     Compliance.NON_COMPLIANT, ["ec2:DescribeNetworkInterfaces", "resource too narrow"]),
    ("delete-one-eni-only", dict(inline={"eni": doc(allow([a for a in SIX if a != "ec2:DeleteNetworkInterface"]),
                                                    allow("ec2:DeleteNetworkInterface",
                                                          ENI.replace("*", "eni-0123456789abcdef0")))}),
     Compliance.NON_COMPLIANT, ["ec2:DeleteNetworkInterface", "resource too narrow"]),
    ("create-without-subnets", dict(inline={"eni": doc(allow(SIX[1:]), allow(SIX[0], ENI))}),
     Compliance.NON_COMPLIANT, ["ec2:CreateNetworkInterface", "resource too narrow"]),
    ("explicit-deny", dict(attached=[MANAGED_ARN], inline={"guard": doc(deny("ec2:DeleteNetworkInterface"))}),
     Compliance.NON_COMPLIANT, ["ec2:DeleteNetworkInterface", "denied"]),
    ("deny-part-of-resources", dict(attached=[MANAGED_ARN], inline={"guard": doc(
        deny("ec2:DeleteNetworkInterface", ENI.replace("*", "eni-1")))}), Compliance.NON_COMPLIANT, ["denied"]),
    ("deny-outside-eu", dict(attached=[MANAGED_ARN], inline={"guard": doc(
        deny("ec2:*", Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}))}),
     Compliance.NON_COMPLIANT, ["denied", "aws:RequestedRegion holds"]),
    ("allow-in-own-region", dict(inline={"eni": doc(
        allow(SIX, Condition={"StringEquals": {"aws:RequestedRegion": REGION}}))}), Compliance.COMPLIANT, []),
    ("allow-in-other-region", dict(inline={"eni": doc(
        allow(SIX, Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}))}),
     Compliance.NON_COMPLIANT, ["condition not met", "StringEquals aws:RequestedRegion does not hold"]),
    ("notaction-allow", dict(inline={"broad": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}),
     Compliance.COMPLIANT, []),
    ("notaction-deny", dict(attached=[MANAGED_ARN], inline={"guard": doc(
        {"Effect": "Deny", "NotAction": ["logs:*", "ec2:Describe*"], "Resource": "*"})}),
     Compliance.NON_COMPLIANT, ["ec2:CreateNetworkInterface", "denied"]),
    ("boundary-allows", dict(attached=[MANAGED_ARN], boundary=BOUNDARY,
                             policies=customer("boundary", doc(allow(["ec2:*", "logs:*"])))), Compliance.COMPLIANT,
     []),
    ("boundary-lacks-action", dict(attached=[MANAGED_ARN], boundary=BOUNDARY,
                                   policies=customer("boundary", doc(allow(["ec2:Describe*", "logs:*"])))),
     Compliance.NON_COMPLIANT, ["ec2:CreateNetworkInterface", "boundary"]),
    ("boundary-entry-without-value", dict(attached=[MANAGED_ARN], boundary=BOUNDARY, policies=customer(
        "boundary", doc(allow(["ec2:*", "logs:*"], ["*", f"arn:aws:ec2:*:{ACCOUNT}:subnet/${{aws:username}}"])))),
     Compliance.NON_COMPLIANT, ["boundary variable without value", "${aws:username} has no value"]),
    ("customer-managed-default-version", dict(attached=[CUSTOM], policies=customer("custom", doc(allow(SIX)))),
     Compliance.COMPLIANT, []),
    ("url-encoded-document", dict(inline={"eni": quote(json.dumps(doc(allow(SIX))))}), Compliance.COMPLIANT, []),
    ("role-missing", dict(role_exists=False), Compliance.NON_COMPLIANT, ["app-role", "missing"]),
    ("attached-policy-missing", dict(attached=[f"arn:aws:iam::{ACCOUNT}:policy/gone"]), Compliance.NON_COMPLIANT,
     ["policy/gone", "not found"]),
    ("unparseable-policy", dict(attached=[CUSTOM], policies=customer("custom", "{not json")),
     Compliance.NON_COMPLIANT, ["custom", "cannot be parsed"]),
    ("unparseable-inline", dict(inline={"bad": doc({"Effect": "Perhaps", "Action": "*", "Resource": "*"})}),
     Compliance.NON_COMPLIANT, ["bad", "cannot be parsed"]),
    ("no-policies", dict(), Compliance.NON_COMPLIANT, ["missing"]),
    ("overbroad-accepted-by-default", dict(inline={"admin": doc(allow("*"))}), Compliance.COMPLIANT, []),
    ("overbroad-flagged", dict(inline={"admin": doc(allow("ec2:*"))}, FlagOverbroadEc2="true"),
     Compliance.NON_COMPLIANT, ["FlagOverbroadEc2"]),
    ("star-flagged", dict(inline={"admin": doc(allow("*"))}, FlagOverbroadEc2="TRUE"), Compliance.NON_COMPLIANT,
     ["code gets the same EC2 permissions"]),
    ("precise-not-flagged", dict(attached=[MANAGED_ARN], FlagOverbroadEc2="true"), Compliance.COMPLIANT, []),
]


@pytest.mark.parametrize(("kwargs", "compliance", "words"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_rule_table(kwargs, compliance, words):
    result = evaluate(**kwargs)
    assert result.compliance is compliance, result.annotation
    for word in words:
        assert word in result.annotation
    assert len(result.annotation) <= 256


def test_not_applicable_without_vpc():
    fn = LambdaFunction("fn", arn=FUNCTION_ARN, role_arn=f"arn:aws:iam::{ACCOUNT}:role/app-role")
    assert RULE.evaluate(fn, Facts(), RULE.parse_parameters({})).compliance is Compliance.NOT_APPLICABLE


def test_every_failing_action_is_listed():
    result = evaluate(inline={"eni": doc(allow("ec2:DescribeSubnets"))})
    for action in SIX:
        if action != "ec2:DescribeSubnets":
            assert action in result.annotation


@pytest.mark.parametrize("name", ["FlagOverbroadEc2", "RequireFunctionCodeGuard"])
def test_bad_parameter_names_it(name):
    with pytest.raises(InvalidParameter, match=name):
        RULE.parse_parameters({name: "sometimes"})


# ----------------------------------------------------- rows that depend on the request context (eni_shapes)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ENV = Env(FUNCTION_ARN, "vpc-0a1", ("subnet-0a1", "subnet-0b2"), ("sg-0c3",))


def shape_facts(shape: Shape, env: Env = ENV, subnets: dict | None = None, evaluated_at=NOW) -> Facts:
    role = Role("app-role", f"arn:aws:iam::{ACCOUNT}:role/service-role/app-role",
                {"eni": doc(*shape.statements(env))}, (MANAGED_ARN,) if shape.managed else (),
                tags=dict(shape.role_tags))
    subnets = subnets if subnets is not None else {
        sid: Subnet(sid, env.vpc_id, availability_zone=f"{REGION}{zone}", tags=SUBNET_TAGS)
        for sid, zone in zip(env.subnet_ids, "ab", strict=False)}
    return Facts(subnets=subnets, roles={"app-role": role},
                 policies={MANAGED_ARN: ManagedPolicy(MANAGED_ARN, "AWSLambdaVPCAccessExecutionRole", MANAGED_DOC)},
                 evaluated_at=evaluated_at)


def shape_function(env: Env = ENV) -> LambdaFunction:
    return LambdaFunction("fn", arn=env.function_arn, role_arn=f"arn:aws:iam::{ACCOUNT}:role/service-role/app-role",
                          subnet_ids=env.subnet_ids, security_group_ids=env.group_ids)


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_context_rows(shape):
    result = RULE.evaluate(shape_function(), shape_facts(shape), RULE.parse_parameters(dict(shape.parameters)))
    assert result.compliance.value == shape.compliance, result.annotation
    for word in shape.words:
        assert word in result.annotation
    assert len(result.annotation) <= 256


def shape(name: str) -> Shape:
    return next(s for s in SHAPES if s.name == name)


def test_without_the_clock_time_conditions_are_unknown():
    facts = shape_facts(shape("allow-on-known-keys"), evaluated_at=None)
    result = RULE.evaluate(shape_function(), facts, RULE.parse_parameters({}))
    assert result.compliance is Compliance.NON_COMPLIANT
    assert "DateLessThan aws:CurrentTime cannot be known" in result.annotation


def test_a_subnet_not_found_leaves_its_keys_unknown():
    """Its VPC, zone and tags are not known: a grant that depends on them does not count, one that does not
    still does (whether Lambda can attach to a subnet that is gone is not this rule's question)."""
    gone = {ENV.subnet_ids[0]: Subnet(ENV.subnet_ids[0], ENV.vpc_id, tags=SUBNET_TAGS)}
    tier = RULE.evaluate(shape_function(), shape_facts(shape("subnet-tier"), subnets=gone), RULE.parse_parameters({}))
    assert tier.compliance is Compliance.NON_COMPLIANT and "ec2:ResourceTag/tier cannot be known" in tier.annotation
    plain = RULE.evaluate(shape_function(), shape_facts(shape("least-privilege"), subnets={}),
                          RULE.parse_parameters({}))
    assert plain.compliance is Compliance.COMPLIANT


def test_no_security_group_listed_needs_the_default_group():
    """EC2 gives the interface the VPC's default group, whose ID is not read: a grant naming the function's
    groups cannot cover it, one on every group can."""
    env = Env(FUNCTION_ARN, ENV.vpc_id, ENV.subnet_ids, ())
    narrow = RULE.evaluate(shape_function(env), shape_facts(shape("least-privilege"), env), RULE.parse_parameters({}))
    assert narrow.compliance is Compliance.NON_COMPLIANT and "security-group/sg-*" in narrow.annotation
    wide = RULE.evaluate(shape_function(env), shape_facts(shape("account-wide-create"), env), RULE.parse_parameters({}))
    assert wide.compliance is Compliance.COMPLIANT


def test_verdicts_are_shared_only_between_functions_with_the_same_inputs():
    """Two functions of one role: one in the subnets the role may use, one elsewhere; with the guard
    parameter, the function's ARN matters too."""
    facts = shape_facts(shape("least-privilege"))
    other = LambdaFunction("other", arn=FUNCTION_ARN.replace(":fn", ":other"), role_arn=shape_function().role_arn,
                           subnet_ids=("subnet-elsewhere",), security_group_ids=ENV.group_ids)
    parameters = RULE.parse_parameters({})
    assert RULE.evaluate(shape_function(), facts, parameters).compliance is Compliance.COMPLIANT
    assert RULE.evaluate(other, facts, parameters).compliance is Compliance.NON_COMPLIANT
    moved = LambdaFunction("fn", arn=FUNCTION_ARN, role_arn=shape_function().role_arn, subnet_ids=ENV.subnet_ids,
                           security_group_ids=("sg-other",))
    assert RULE.evaluate(moved, facts, parameters).compliance is Compliance.NON_COMPLIANT
    guarded = shape_facts(shape("guarded"))
    twin = LambdaFunction("twin", arn=FUNCTION_ARN.replace(":fn", ":twin"), role_arn=shape_function().role_arn,
                          subnet_ids=ENV.subnet_ids, security_group_ids=ENV.group_ids)
    with_guard = RULE.parse_parameters({"RequireFunctionCodeGuard": "true"})
    assert RULE.evaluate(shape_function(), guarded, with_guard).compliance is Compliance.COMPLIANT
    assert RULE.evaluate(twin, guarded, with_guard).compliance is Compliance.NON_COMPLIANT  # the guard names fn only


def test_a_time_bound_verdict_changes_when_its_moment_passes():
    """aws:CurrentTime / aws:EpochTime are the evaluation time: the verdict says until when it holds, and
    past that moment it is judged anew (and no longer says so when nothing lies ahead)."""
    later = datetime(2099, 1, 1, tzinfo=UTC)
    for name in ("grant-until-a-date", "denied-from-a-date"):
        before = RULE.evaluate(shape_function(), shape_facts(shape(name)), RULE.parse_parameters({}))
        after = RULE.evaluate(shape_function(), shape_facts(shape(name), evaluated_at=later), RULE.parse_parameters({}))
        assert before.compliance is Compliance.COMPLIANT and "valid until 2099-01-01T00:00:00Z" in before.annotation
        assert after.compliance is Compliance.NON_COMPLIANT and "valid until" not in after.annotation


def test_valid_until_survives_a_long_annotation():
    sid = "S" * 220
    shape_ = Shape("long", lambda env: all_six_if(sid, {"DateLessThan": {"aws:CurrentTime": "2099-01-01"},
                                                        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), "NON_COMPLIANT")
    result = RULE.evaluate(shape_function(), shape_facts(shape_), RULE.parse_parameters({}))
    assert result.compliance is Compliance.NON_COMPLIANT and sid[:100] in result.annotation
    assert len(result.annotation) == 256 and result.annotation.endswith("... (valid until 2099-01-01T00:00:00Z)")
