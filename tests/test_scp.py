"""Service control policies through the pure core (`core.scp`) and the ENI rule: every level must allow,
any Deny that may apply denies (AWS Organizations, "SCP evaluation"); the organization scan in moto is in
test_organization_policies.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, Role, Subnet
from lambda_vpc_rules.core.rules import get_rule
from lambda_vpc_rules.core.scp import ScpChain, ScpLevel, check_scps

RULE = get_rule("lambda-vpc-eni-permissions")
ACCOUNT, REGION = "111122223333", "us-east-1"
SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
FULL = ("FullAWSAccess", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def scp(name: str, *statements: dict) -> tuple[str, dict]:
    return name, {"Version": "2012-10-17", "Statement": list(statements)}


def chain(root=(FULL,), ou=(FULL,), account=(FULL,), **extra) -> ScpChain:
    return ScpChain(ACCOUNT, (ScpLevel("root r-1", tuple(root)), ScpLevel("OU ou-1-prod", tuple(ou)),
                              ScpLevel(f"account {ACCOUNT}", tuple(account))), **extra)


DENY_ENI = {"Sid": "NoEnis", "Effect": "Deny", "Action": "ec2:CreateNetworkInterface", "Resource": "*"}
# The data perimeter examples' network perimeter (aws-samples/data-perimeter-policy-examples, the SCP
# EnforceNetworkPerimeterSourceVPC / SourceIP shape): Lambda's ENI requests carry no aws:SourceIp or
# aws:SourceVpc the pack can know, and aws:ViaAWSService is not known for them either (the request table).
PERIMETER = {"Sid": "EnforceNetworkPerimeter", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
             "Condition": {"NotIpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"},
                           "StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-0perimeter"},
                           "BoolIfExists": {"aws:ViaAWSService": "false"}}}
EXEMPT_LAMBDA_ROLES = {**PERIMETER, "Sid": "EnforceNetworkPerimeterExceptLambda",
                       "Condition": {**PERIMETER["Condition"],
                                     "ArnNotLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:role/lambda-*"}}}
ORG_PERIMETER = {"Sid": "OwnOrgOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
                 "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-own12345"}}}
ALLOW_LIST = scp("AllowListed", {"Effect": "Allow", "Action": ["ec2:*", "logs:*"], "Resource": "*"})
ALLOW_DESCRIBE = scp("DescribeOnly", {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})

# name, chain, role name, compliance, words; each row of the SCP part of the ENI rule's table
ROWS = [
    ("full-aws-access-everywhere", chain(), "lambda-app", Compliance.COMPLIANT, ["SCP chain (3 levels) allows"]),
    ("deny-at-the-account", chain(account=(FULL, scp("deny-eni", DENY_ENI))), "lambda-app", Compliance.NON_COMPLIANT,
     [f"Service control policies of account {ACCOUNT}", "ec2:CreateNetworkInterface denied by SCP deny-eni/NoEnis",
      f"(account {ACCOUNT})"]),
    ("deny-at-the-root", chain(root=(FULL, scp("deny-eni", DENY_ENI))), "lambda-app", Compliance.NON_COMPLIANT,
     ["denied by SCP deny-eni/NoEnis (root r-1)"]),
    ("allow-list-at-the-ou", chain(ou=(ALLOW_LIST,)), "lambda-app", Compliance.COMPLIANT, []),
    ("allow-list-too-short", chain(ou=(ALLOW_DESCRIBE,)), "lambda-app", Compliance.NON_COMPLIANT,
     ["ec2:CreateNetworkInterface, ec2:DeleteNetworkInterface",
      "not allowed at OU ou-1-prod (no SCP there allows it)"]),
    ("full-access-detached", chain(account=()), "lambda-app", Compliance.NON_COMPLIANT,
     ["all 6 ENI actions not allowed at account"]),
    ("network-perimeter", chain(root=(FULL, scp("perimeter", PERIMETER))), "lambda-app", Compliance.NON_COMPLIANT,
     ["denied by SCP perimeter/EnforceNetworkPerimeter: conditional Deny on aws:SourceIp could apply"]),
    ("perimeter-exempting-lambda-roles", chain(root=(FULL, scp("perimeter", EXEMPT_LAMBDA_ROLES))), "lambda-app",
     Compliance.COMPLIANT, []),
    ("perimeter-exempting-other-roles", chain(root=(FULL, scp("perimeter", EXEMPT_LAMBDA_ROLES))), "app",
     Compliance.NON_COMPLIANT, ["EnforceNetworkPerimeterExceptLambda"]),
    ("region-lock-with-the-region", chain(root=(FULL, scp("regions", {
        "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": [REGION, "eu-west-1"]}}}))), "lambda-app",
     Compliance.COMPLIANT, []),
    ("region-lock-without-it", chain(root=(FULL, scp("regions", {
        "Sid": "EuOnly", "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}}))), "lambda-app",
     Compliance.NON_COMPLIANT, ["denied by SCP regions/EuOnly: its condition on aws:RequestedRegion holds"]),
    ("deny-until-a-date", chain(root=(FULL, scp("freeze", {**DENY_ENI, "Condition": {
        "DateGreaterThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}}))), "lambda-app", Compliance.COMPLIANT,
     ["valid until 2099-01-01T00:00:00Z"]),
    ("unparseable-scp", chain(ou=(FULL, ("broken", "{not json"))), "lambda-app", Compliance.NON_COMPLIANT,
     ["SCP broken (OU ou-1-prod) cannot be parsed"]),
    ("management-account", chain(account=(scp("deny-eni", DENY_ENI),), management=True), "lambda-app",
     Compliance.COMPLIANT, ["do not apply in the management account"]),
    ("chain-not-read", ScpChain(ACCOUNT, unread="access denied: organizations:ListParents was refused"),
     "lambda-app", Compliance.COMPLIANT, ["not considered (access denied: organizations:ListParents"]),
    ("single-account", None, "lambda-app", Compliance.COMPLIANT, ["Service control policies were not considered"]),
    # an identity perimeter on the principal's organization: aws:PrincipalOrgID is the chain's organization
    ("org-perimeter-own-organization", chain(root=(FULL, scp("org", ORG_PERIMETER)), organization_id="o-own12345"),
     "lambda-app", Compliance.COMPLIANT, []),
    ("org-perimeter-other-organization", chain(root=(FULL, scp("org", ORG_PERIMETER)), organization_id="o-else6789"),
     "lambda-app", Compliance.NON_COMPLIANT,
     ["denied by SCP org/OwnOrgOnly: its condition on aws:PrincipalOrgID holds"]),
    ("org-perimeter-organization-not-known", chain(root=(FULL, scp("org", ORG_PERIMETER))), "lambda-app",
     Compliance.NON_COMPLIANT, ["conditional Deny on aws:PrincipalOrgID could apply"]),
    ("org-perimeter-stale-chain", chain(root=(FULL, scp("org", ORG_PERIMETER)), organization_id="o-own12345",
                                        stale="chains published 2026-11-20T00:00:00Z, over 48 h old"),
     "lambda-app", Compliance.NON_COMPLIANT, ["conditional Deny on aws:PrincipalOrgID could apply"]),
]


def evaluate(scps: ScpChain | None, role_name: str):
    role = Role(role_name, f"arn:aws:iam::{ACCOUNT}:role/{role_name}",
                {"eni": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": SIX, "Resource": "*"}]}})
    function = LambdaFunction("fn", arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn", role_arn=role.arn,
                              subnet_ids=("subnet-1",), security_group_ids=("sg-1",))
    facts = Facts(subnets={"subnet-1": Subnet("subnet-1", "vpc-1", availability_zone=f"{REGION}a")},
                  roles={role_name: role}, evaluated_at=NOW, scp_chain=scps)
    return RULE.evaluate(function, facts, RULE.parse_parameters({}))


@pytest.mark.parametrize(("scps", "role_name", "compliance", "words"), [row[1:] for row in ROWS],
                         ids=[row[0] for row in ROWS])
def test_scp_rows(scps, role_name, compliance, words):
    verdict = evaluate(scps, role_name)
    assert verdict.compliance is compliance, verdict.annotation
    for word in words:
        assert word in verdict.annotation
    assert len(verdict.annotation) <= 256


def test_a_role_that_fails_on_its_own_is_reported_for_its_role():
    """The role's own failure comes first; the SCPs are judged for a role that would work."""
    role = Role("r", f"arn:aws:iam::{ACCOUNT}:role/r", {})
    function = LambdaFunction("fn", arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn", role_arn=role.arn,
                              subnet_ids=("subnet-1",))
    verdict = RULE.evaluate(function, Facts(roles={"r": role}, scp_chain=chain(account=())), RULE.parse_parameters({}))
    assert verdict.compliance is Compliance.NON_COMPLIANT and "Role r cannot manage ENIs" in verdict.annotation


def test_every_level_must_allow_and_a_deny_anywhere_wins():
    allowed = check_scps(chain(), "ec2:DescribeSubnets", ["*"])
    assert allowed.allowed and not allowed.detail
    denied = check_scps(chain(root=(scp("deny-eni", DENY_ENI),)), "ec2:CreateNetworkInterface", ["*"])
    # the Deny is named before the root's missing Allow
    assert not denied.allowed and denied.detail.startswith("denied by SCP deny-eni/NoEnis")
    assert check_scps(chain(root=(scp("deny-eni", DENY_ENI),)), "ec2:DescribeSubnets", ["*"]).detail == (
        "not allowed at root r-1 (no SCP there allows it)")


def test_the_organization_is_the_role_accounts_only():
    """aws:PrincipalOrgID comes from the chain of the role's own account: a chain of another account names
    nothing about the role's principal."""
    from lambda_vpc_rules.core.rules.eni_requests import principal_context

    own = Role("r", f"arn:aws:iam::{ACCOUNT}:role/r")
    other = Role("r", "arn:aws:iam::999988887777:role/r")
    known = chain(organization_id="o-own12345")
    assert principal_context(own, NOW, known).get("aws:PrincipalOrgID") == ("o-own12345",)
    for role, scps in ((other, known), (own, chain()), (own, None),
                       (own, ScpChain(ACCOUNT, unread="refused", organization_id="o-own12345"))):
        assert "aws:principalorgid" not in principal_context(role, NOW, scps).values  # unknown: any value


def test_the_published_document_carries_the_organization():
    from lambda_vpc_rules.core.scp import ScpDocumentError, chains_document, chains_from_document

    chains = [chain(organization_id="o-own12345"), ScpChain("444455556666", unread="refused")]
    document = chains_document(chains, NOW)
    assert document["organization_id"] == "o-own12345"
    published = chains_from_document(document)
    assert published.chains[ACCOUNT].organization_id == "o-own12345"
    assert published.chains["444455556666"].organization_id == ""  # unread: nothing known of it
    # a document published before the organization was written: read, the organization unknown
    older = chains_document([chain()], NOW)
    assert "organization_id" not in older and chains_from_document(older).chains[ACCOUNT].organization_id == ""
    with pytest.raises(ScpDocumentError, match="two organizations"):
        chains_document([chain(organization_id="o-own12345"), ScpChain("444455556666", organization_id="o-x")], NOW)
