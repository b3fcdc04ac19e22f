"""The organization scan reads each account's SCP chain (root, each OU, the account) and the ENI rule judges
Lambda's requests against it, in moto's Organizations: SCPs attached at the root, an OU and an account. The
pure semantics are in test_scp.py."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from aws_support import REGION, AwsError, CallRecorder, Estate
from conftest import FAKE_ENVIRONMENT
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.aws.organization import Fleet, Selection, scan_many
from lambda_vpc_rules.aws.organization_policies import OrganizationPolicies
from lambda_vpc_rules.core.rules import get_rule
from test_organization import InRegion, assumed

ROLE = "lambda-vpc-rules-audit"
ENI = get_rule("lambda-vpc-eni-permissions")
MANAGEMENT = "123456789012"
SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# root: a network perimeter that exempts Lambda execution roles by aws:PrincipalArn (data perimeter pattern)
PERIMETER = document({"Sid": "NetworkPerimeterExceptLambda", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"],
                      "Resource": "*", "Condition": {
                          "NotIpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"},
                          "BoolIfExists": {"aws:ViaAWSService": "false"},
                          "ArnNotLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:role/lambda-*"}}})
# the OU: a region lock that lists the functions' region
REGIONS = document({"Sid": "ApprovedRegions", "Effect": "Deny", "NotAction": ["iam:*", "organizations:*"],
                    "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": [REGION, "eu-west-1"]}}})
# one account: no network interfaces at all
NO_ENIS = document({"Sid": "NoNetworkInterfaces", "Effect": "Deny", "Action": "ec2:CreateNetworkInterface",
                    "Resource": "*"})


def _estate(account: str, role_name: str) -> None:
    session = assumed(account)
    estate = Estate(InRegion(session, REGION))
    role = estate.role(role_name)
    estate.iam.put_role_policy(RoleName=role_name, PolicyName="eni", PolicyDocument=document(
        {"Effect": "Allow", "Action": SIX, "Resource": "*"}))
    vpc = estate.vpc()
    subnet = estate.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")
    estate.function("fn", [subnet["Subnet"]["SubnetId"]], role=role)


@pytest.fixture(scope="module")
def organization():
    """The management account and three members in OU prod: `denied` has the account SCP NoNetworkInterfaces,
    `exempt` runs its function with a lambda-* role (exempt from the root's perimeter), `perimeter` with a role
    the perimeter does not exempt."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for key, value in FAKE_ENVIRONMENT.items():
            patch.setenv(key, value)
        org = boto3.client("organizations", region_name=REGION)
        org.create_organization(FeatureSet="ALL")
        root = org.list_roots()["Roots"][0]["Id"]
        prod = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
        members = {}
        for name in ("denied", "exempt", "perimeter"):
            account = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"][
                "AccountId"]
            org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=prod)
            members[name] = account

        def attach(name: str, content: str, target: str) -> str:
            policy = org.create_policy(Content=content, Description=name, Name=name, Type="SERVICE_CONTROL_POLICY")
            org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=target)
            return policy["Policy"]["PolicySummary"]["Id"]

        attach("perimeter", PERIMETER, root)
        attach("approved-regions", REGIONS, prod)
        attach("no-enis", NO_ENIS, members["denied"])
        _estate(MANAGEMENT, "app-role")  # the perimeter would catch it, but SCPs do not apply here
        _estate(members["denied"], "lambda-app")
        _estate(members["exempt"], "lambda-app")
        _estate(members["perimeter"], "app-role")
        yield {**members, "root": root, "prod": prod}


def scan(selection_accounts, recorder: CallRecorder | None = None, errors=()):
    caller = boto3.Session(region_name=REGION)
    for error in errors:
        error.install(caller)
    if recorder:
        recorder.install(caller)
    fleet = Fleet(caller, Selection((REGION,), selection_accounts, ROLE))
    report = scan_many(fleet, rules=[ENI], concurrency=2)
    return {e.account_id: e for e in report.evaluations}


@pytest.fixture(scope="module")
def scanned(organization):
    """One organization scan, its verdicts by account and its calls (the tests below only read them)."""
    recorder = CallRecorder()
    return scan("all", recorder), recorder.by_operation()


def test_an_account_scp_that_denies_create_network_interface_is_named(organization, scanned):
    verdicts, _ = scanned
    denied = verdicts[organization["denied"]]
    assert denied.compliance.value == "NON_COMPLIANT", denied.annotation
    assert (f"Service control policies of account {organization['denied']} stop Lambda's ENI requests: "
            f"ec2:CreateNetworkInterface denied by SCP no-enis/NoNetworkInterfaces (account "
            f"{organization['denied']})") in denied.annotation


def test_a_perimeter_that_exempts_lambda_roles_lets_them_through_every_level(organization, scanned):
    verdicts, _ = scanned
    exempt = verdicts[organization["exempt"]]
    assert exempt.compliance.value == "COMPLIANT", exempt.annotation
    assert "The SCP chain (3 levels) allows them." in exempt.annotation  # root, OU prod, the account
    perimeter = verdicts[organization["perimeter"]]
    assert perimeter.compliance.value == "NON_COMPLIANT"
    assert "denied by SCP perimeter/NetworkPerimeterExceptLambda: conditional Deny on aws:SourceIp could apply " \
           f"(root {organization['root']})" in perimeter.annotation
    management = verdicts[MANAGEMENT]
    assert management.compliance.value == "COMPLIANT"
    assert "do not apply in the management account" in management.annotation


def test_the_chain_is_read_once_per_organization_unit_and_policy(scanned):
    _, calls = scanned
    # 4 accounts (3 in OU prod): ListParents for each account and for prod; each target's SCPs once;
    # each distinct SCP once (FullAWSAccess, perimeter, approved-regions, no-enis)
    assert calls["organizations:DescribeOrganization"] == 1
    assert calls["organizations:ListParents"] == 4 + 1
    assert calls["organizations:ListPoliciesForTarget"] == 4 + 2
    assert calls["organizations:DescribePolicy"] == 4


def test_the_chain_levels_as_read(organization):
    chain = OrganizationPolicies(Clients(session_clients(boto3.Session(region_name=REGION)))).chain(
        organization["denied"])
    assert [level.target for level in chain.levels] == [
        f"root {organization['root']}", f"OU {organization['prod']}", f"account {organization['denied']}"]
    assert [[name for name, _ in level.policies] for level in chain.levels] == [
        ["FullAWSAccess", "perimeter"], ["FullAWSAccess", "approved-regions"], ["FullAWSAccess", "no-enis"]]
    assert not chain.management and not chain.unread
    organization_id = boto3.client("organizations", region_name=REGION).describe_organization()["Organization"]["Id"]
    assert chain.organization_id == organization_id and organization_id.startswith("o-")  # aws:PrincipalOrgID


def test_the_reader_remembers_organization_units_and_policies_not_accounts(organization):
    """A reader shared by a whole organization scan must not grow with its accounts: what is an account's own
    (its parent, its SCPs) is read for each chain asked for; the OUs, the root and the documents once."""
    recorder = CallRecorder()
    caller = boto3.Session(region_name=REGION)
    recorder.install(caller)
    reader = OrganizationPolicies(Clients(session_clients(caller)))
    first = reader.chain(organization["denied"])
    read_first = recorder.by_operation()
    assert read_first["organizations:ListParents"] == 2 and read_first["organizations:ListPoliciesForTarget"] == 3
    for account in (organization["exempt"], organization["denied"]):  # same OU; the first one again
        assert reader.chain(account).levels[:2] == first.levels[:2]
    calls = recorder.by_operation()
    assert calls["organizations:ListParents"] - read_first["organizations:ListParents"] == 2  # one per chain
    assert calls["organizations:ListPoliciesForTarget"] - read_first["organizations:ListPoliciesForTarget"] == 2
    assert calls["organizations:DescribePolicy"] == read_first["organizations:DescribePolicy"]  # documents once
    assert reader.chain(organization["denied"]) == first


def test_scps_that_cannot_be_read_are_said_not_considered(organization):
    refused = AwsError("organizations", "ListParents", "AccessDeniedException", status=400)
    verdicts = scan((organization["exempt"],), errors=[refused])
    exempt = verdicts[organization["exempt"]]
    assert exempt.compliance.value == "COMPLIANT"
    assert ("Service control policies were not considered (SCPs not read: access denied: "
            "organizations:ListParents was refused") in exempt.annotation


def test_a_single_account_scan_does_not_read_scps(organization):
    from lambda_vpc_rules.aws.account import scan_session

    recorder = CallRecorder()
    member = assumed(organization["denied"])
    recorder.install(member)
    report = scan_session(member, rules=[ENI])
    assert not any(op.startswith("organizations:") for op in recorder.by_operation())
    (verdict,) = [e for e in report.evaluations if e.resource_id == "fn"]
    assert verdict.compliance.value == "COMPLIANT"
    assert "Service control policies were not considered (not read)." in verdict.annotation
