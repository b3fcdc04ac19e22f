"""An organization deployment rehearsed in moto: 300 accounts in two regions, an account that joins afterwards,
a re-run, a delegated administrator, failures, status and destroy. AWS's documented limits that moto does not
enforce are asserted on what deploy sent; where moto lacks an API or a behaviour, `org_support` answers with
AWS-shaped data checked against botocore's model."""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter

import boto3
import pytest

from aws_support import REGION
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.deploy import cli as deploy_cli
from lambda_vpc_rules.tooling.deploy.deploy import RegionalClients as Clients
from lambda_vpc_rules.tooling.deploy.preflight import (
    CONFIG_PRINCIPAL,
    CONFIG_RULES_PRINCIPAL,
    STACKSETS_PRINCIPAL,
)
from lambda_vpc_rules.tooling.packaging import TEMPLATE_BODY_LIMIT
from org_support import (
    ModelAnswers,
    RequestLog,
    all_allowed,
    buckets,
    config_recording,
    forwarded,
    functions_in,
    join_organization,
    organization_pack_overall,
    organization_pack_statuses,
    policy_sizes,
    stacksets_as_aws,
)

REGIONS = [REGION, "eu-west-1"]
BUCKET = "rule-artifacts-{region}"
DELEGATED_BUCKET = "delegated-artifacts-{region}"
PRINCIPALS = (STACKSETS_PRINCIPAL, CONFIG_RULES_PRINCIPAL, CONFIG_PRINCIPAL)
# Documented limits moto does not enforce
POLICY_LIMIT = 20 * 1024  # Lambda: a function's resource-based policy (Lambda quotas; not adjustable)
BUCKET_POLICY_LIMIT = 20 * 1024  # S3: a bucket policy
PARAMETER_VALUE_LIMIT = 4096  # CloudFormation: a parameter value
MAX_PARAMETERS = 200  # CloudFormation: parameters per template
EXCLUDED_LIMIT = 1000  # PutOrganizationConformancePack ExcludedAccounts
PACK_BODY_LIMIT = 51_200  # PutOrganizationConformancePack TemplateBody
STACKSET_CALLS = ("CreateStackSet", "UpdateStackSet", "DescribeStackSet", "ListStackInstances", "CreateStackInstances",
                  "UpdateStackInstances", "DescribeStackSetOperation", "DeleteStackInstances", "DeleteStackSet",
                  "ListStackSets", "ListStackSetOperations")
WRITES = re.compile(r"^(Create|Put|Update|Delete|Start|Register|Enable|Copy)")


class Org:
    """An organization in moto: the management account's session, the accounts, what deploy sent."""

    def __init__(self, members: int, regions: list[str] = REGIONS):
        self.session = boto3.Session(region_name=REGION)
        self.quiet = boto3.Session(region_name=REGION)  # the test's own reads: not in the log
        self.regions = regions
        organizations = self.session.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        for principal in PRINCIPALS:
            organizations.enable_aws_service_access(ServicePrincipal=principal)
        self.members = [organizations.create_account(AccountName=f"team-{i}", Email=f"team-{i}@example.com")[
            "CreateAccountStatus"]["AccountId"] for i in range(members)]
        self.management = organizations.describe_organization()["Organization"]["MasterAccountId"]
        buckets(self.session, BUCKET, regions, versioned=True)
        config_recording(self.session, regions)
        self.no_recorder: set[tuple[str, str]] = set()
        self.answers = ModelAnswers()
        self.answers.on("iam", "SimulatePrincipalPolicy", all_allowed)
        self.answers.on("config", "GetOrganizationConformancePackDetailedStatus",
                        organization_pack_statuses(self.quiet, self.no_recorder))
        self.answers.on("config", "DescribeOrganizationConformancePackStatuses",
                        organization_pack_overall(self.quiet, self.no_recorder))
        self.answers.on("config", "DescribeAggregateComplianceByConformancePacks", self._compliance)
        self.answers.on("config", "DescribeConfigRuleEvaluationStatus", self._evaluation_status)
        self.answers.install(self.session)
        self.history = RequestLog().install(self.session)  # everything
        self.log = RequestLog().install(self.session)  # the current step

    def clients(self, session: boto3.Session | None = None) -> Clients:
        session = session or self.session
        return Clients(lambda service, region: session.client(service, region_name=region), REGION)

    def cli(self, monkeypatch, capsys, *argv: str, session: boto3.Session | None = None) -> tuple[int, str, str]:
        monkeypatch.setattr(deploy_cli, "clients_for", lambda _session, _endpoint: self.clients(session))
        code = main([*argv, "--region", REGION, "--format", "json"])
        out, err = capsys.readouterr()
        return code, out, err

    def deploy(self, monkeypatch, capsys, *extra: str, session: boto3.Session | None = None):
        bucket = BUCKET if session is None else DELEGATED_BUCKET
        signing = () if "--signing-profile" in extra else ("--allow-unsigned",)
        return self.cli(monkeypatch, capsys, "deploy", "--organization", "--bucket", bucket, "--regions",
                        ",".join(self.regions), "--wait-delay", "0", *signing, *extra, session=session)

    def _compliance(self, params, region):
        """The aggregator's view: COMPLIANT for each account and region whose organization pack was created."""
        rows = []
        for each in self.regions:
            statuses = organization_pack_statuses(self.quiet, self.no_recorder)(
                {"OrganizationConformancePackName": "lambda-vpc-rules", "Limit": 10_000}, each)
            if isinstance(statuses, Exception):  # no such pack (there)
                continue
            for status in statuses.get("OrganizationConformancePackDetailedStatuses", []):
                if status["Status"] == "CREATE_SUCCESSFUL":
                    rows.append({"ConformancePackName": status["ConformancePackName"], "AccountId": status[
                        "AccountId"], "AwsRegion": each, "Compliance": {"ComplianceType": "COMPLIANT"}})
        start = int(params.get("NextToken") or 0)
        page = {"AggregateComplianceByConformancePacks": rows[start:start + params["Limit"]]}
        if start + params["Limit"] < len(rows):
            page["NextToken"] = str(start + params["Limit"])
        return page

    def _evaluation_status(self, params, region):
        names = [f"{rule.config_rule_name}-conformance-pack-abcdefgh" for rule in RULES]
        return {"ConfigRulesEvaluationStatus": [{
            "ConfigRuleName": name, "FirstEvaluationStarted": True,
            "LastSuccessfulEvaluationTime": "2026-11-24T12:00:00Z"} for name in names]}


@pytest.fixture
def org_aws():
    from moto import mock_aws

    with mock_aws(), stacksets_as_aws():
        yield


def _payload(out: str) -> dict:
    return json.loads(out)


SIZES: dict[str, dict] = {}  # calls by action, per organization size (the rehearsal, then three accounts)


# ------------------------------------------------------------------------------------------ the rehearsal


def test_an_organization_of_300_accounts_in_two_regions_then_one_more(org_aws, monkeypatch, capsys):
    org = Org(300)
    started = time.monotonic()
    code, out, err = org.deploy(monkeypatch, capsys)
    elapsed = time.monotonic() - started
    assert code == 0, err
    result = _payload(out)
    assert result["failures"] == [] and len(result["member_accounts"]) == 300
    assert len(result["placements"]) == 301 * 2  # the members, and the management account's own stacks
    assert all(not row["failed"] for row in result["placements"])
    sent = org.log.by_action()

    # Every member account runs its own functions, in both regions, invoked only by its own AWS Config.
    for member in org.members[::37]:
        for region in REGIONS:
            assert functions_in(member, region) >= {rule.function_name for rule in RULES}
            policy = json.loads(_policy(member, region, RULES[0].function_name))
            [statement] = policy["Statement"]
            assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == member
    # Nothing size-limited grows with the organization: a function's resource policy is the same size in every
    # account, far below Lambda's 20 KB; the StackSets' templates and parameters, the bucket policy and the pack's
    # request name no account.
    for function, sizes in policy_sizes(org.members + [org.management], REGIONS).items():
        assert len(sizes) == 301 * 2 and max(sizes) < POLICY_LIMIT and len(set(sizes)) == 1, function
    stack_set_requests = [r for r in org.log.requests if r.operation in ("CreateStackSet", "UpdateStackSet")]
    assert {r.params["StackSetName"] for r in stack_set_requests} == {
        "lambda-vpc-rules-iam", *(f"lambda-vpc-rules-{region}" for region in REGIONS)}
    for request in stack_set_requests:
        assert len(request.params["TemplateBody"].encode()) <= TEMPLATE_BODY_LIMIT
        assert len(request.params["Parameters"]) <= MAX_PARAMETERS
        assert all(len(p["ParameterValue"].encode()) <= PARAMETER_VALUE_LIMIT for p in request.params["Parameters"])
    for request in org.log.requests:
        if request.service in ("cloudformation", "s3", "config") and WRITES.match(request.operation):
            text = json.dumps(request.params, default=str)
            assert not [m for m in org.members if m in text], request.action
    for region in REGIONS:
        policy = org.quiet.client("s3", region_name=region).get_bucket_policy(Bucket=BUCKET.format(region=region))
        assert len(policy["Policy"].encode()) < BUCKET_POLICY_LIMIT
    for request in org.log.of("PutOrganizationConformancePack"):
        assert len(request.params["ExcludedAccounts"]) <= EXCLUDED_LIMIT
        assert len(request.params["TemplateBody"].encode()) <= PACK_BODY_LIMIT
    # The same calls for 300 accounts as for three (test_calls_do_not_grow_with_the_organization), but for pages:
    # on AWS, instance and status listings come 100 a page, accounts 20.
    # logged (pytest shows it with a failure, or with --log-cli-level=INFO), never into pytest's progress line
    logging.getLogger(__name__).info(
        "300 accounts x 2 regions: deploy took %.1f s in moto, %d calls (%d with AWS's page sizes): %s",
        elapsed, sum(sent.values()), org.log.aws_calls(), dict(sorted(sent.items())))
    SIZES["300"] = sent  # the time is logged, not asserted: calls are the budget (a loaded machine is not a bug)

    # An account created later: StackSets' automatic deployment gives it the role and the functions, the
    # organization pack its rules; deploy is not run again.
    org.log.clear()
    newcomer = join_organization(org.quiet, org.history, "newcomer")
    for region in REGIONS:
        assert functions_in(newcomer, region) >= {rule.function_name for rule in RULES}
        [statement] = json.loads(_policy(newcomer, region, RULES[0].function_name))["Statement"]
        assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == newcomer
    code, out, err = org.cli(monkeypatch, capsys, "status", "--organization", "--regions", ",".join(REGIONS))
    assert code == 0, err
    rows = {(row["account"], row["region"]): row for row in _payload(out)["placements"]}
    for region in REGIONS:
        row = rows[(newcomer, region)]
        assert (row["functions"], row["pack"], row["compliance"]) == ("SUCCEEDED", "CREATE_SUCCESSFUL", "COMPLIANT")
    assert rows[(newcomer, REGION)]["role"] == "SUCCEEDED"
    assert rows[(org.management, REGION)]["evaluations"] == f"{len(RULES)}/{len(RULES)} ok"
    assert not [r for r in org.log.requests if WRITES.match(r.operation)]  # status only reads

    # Re-running leaves everything alone: nothing uploaded, no StackSet updated, no instance created.
    org.log.clear()
    code, out, err = org.deploy(monkeypatch, capsys)
    assert code == 0, err
    writes = {r.action for r in org.log.requests if WRITES.match(r.operation)}
    assert writes == {"config:PutOrganizationConformancePack"}  # re-submitted as it is (see docs/deploying.md)
    assert "StackSet lambda-vpc-rules-iam: unchanged" in err


def _policy(account: str, region: str, function: str) -> str:
    from moto.awslambda.models import lambda_backends

    return json.loads(lambda_backends[account][region].get_policy(function, None))["Policy"]


# The calls a deploy makes, whatever the number of accounts: each listing counted once (its first page).
CALLS_FOR_TWO_REGIONS = {
    "cloudformation:CreateStack": 5, "cloudformation:CreateStackInstances": 3, "cloudformation:CreateStackSet": 3,
    "cloudformation:DescribeStackSet": 7, "cloudformation:DescribeStackSetOperation": 3,
    "cloudformation:DescribeStacks": 18, "cloudformation:ListStackInstances": 6,
    "config:DescribeConfigurationAggregators": 1, "config:DescribeConfigurationRecorderStatus": 2,
    "config:DescribeConfigurationRecorders": 2, "config:DescribeOrganizationConformancePackStatuses": 2,
    "config:GetOrganizationConformancePackDetailedStatus": 2, "config:PutConfigurationAggregator": 1,
    "config:PutOrganizationConformancePack": 2, "iam:SimulatePrincipalPolicy": 1,
    "organizations:DescribeOrganization": 1, "organizations:ListAWSServiceAccessForOrganization": 1,
    "organizations:ListAccounts": 1, "organizations:ListRoots": 1, "s3:GetBucketLocation": 2,
    "s3:GetBucketPolicy": 2, "s3:HeadBucket": 2, "s3:HeadObject": 11, "s3:PutBucketPolicy": 2, "s3:PutObject": 12,
    "s3:GetBucketVersioning": 2, "s3:GetObjectTagging": 1,
    "sts:GetCallerIdentity": 1,
}


def listings(log: RequestLog) -> dict[str, int]:
    return dict(Counter(r.action for r in log.requests if "NextToken" not in r.params))


def test_calls_do_not_grow_with_the_organization(org_aws, monkeypatch, capsys):
    """Three accounts make the calls 300 make (test above): only the pages of the listings differ."""
    org = Org(3)
    code, _, err = org.deploy(monkeypatch, capsys)
    assert code == 0, err
    assert listings(org.log) == CALLS_FOR_TWO_REGIONS


# ------------------------------------------------------------------------------------------ delegated admin


def _delegated(org: Org, account: str, registered: dict[str, list[str]]) -> boto3.Session:
    """A session in `account`, a delegated administrator: what moto cannot answer for it (the organization's
    listings, StackSets that live in the management account, delegated administrators for StackSets and AWS
    Config, which moto cannot register) is answered from the management account, as AWS does."""
    credentials = org.quiet.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="deploy")["Credentials"]
    session = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretAccessKey"],
                            aws_session_token=credentials["SessionToken"], region_name=REGION)
    quiet = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                          aws_secret_access_key=credentials["SecretAccessKey"],
                          aws_session_token=credentials["SessionToken"], region_name=REGION)
    buckets(session, DELEGATED_BUCKET, REGIONS, versioned=True)
    config_recording(session, REGIONS)
    answers = ModelAnswers().on("iam", "SimulatePrincipalPolicy", all_allowed)
    answers.on("config", "GetOrganizationConformancePackDetailedStatus",
               organization_pack_statuses(quiet, org.no_recorder, organization=org.quiet))
    answers.on("config", "DescribeOrganizationConformancePackStatuses",
               organization_pack_overall(quiet, org.no_recorder, organization=org.quiet))
    for operation in ("ListAccounts", "ListRoots", "ListAWSServiceAccessForOrganization"):
        answers.on("organizations", operation, forwarded(org.quiet, "organizations", operation))
    answers.on("organizations", "ListDelegatedAdministrators", lambda params, region: {"DelegatedAdministrators": [
        {"Id": a, "Arn": f"arn:aws:organizations::{org.management}:account/o-exampleorg/{a}", "Status": "ACTIVE",
         "JoinedMethod": "CREATED"} for a in registered.get(params["ServicePrincipal"], [])]})
    for operation in STACKSET_CALLS:
        answers.on("cloudformation", operation, forwarded(org.quiet, "cloudformation", operation, require_call_as=True))
    answers.install(session)
    org.delegated_log = RequestLog().install(session)
    return session


def test_a_delegated_administrator_deploys_with_call_as_on_every_stackset_call(org_aws, monkeypatch, capsys):
    org = Org(4)
    admin = org.members[0]
    session = _delegated(org, admin, {principal: [admin] for principal in PRINCIPALS})
    code, out, err = org.deploy(monkeypatch, capsys, "--delegated-admin", session=session)
    assert code == 0, err
    stack_set_requests = [r for r in org.delegated_log.requests if r.operation in STACKSET_CALLS]
    assert len(stack_set_requests) >= 10
    assert {r.params.get("CallAs") for r in stack_set_requests} == {"DELEGATED_ADMIN"}
    # The management account's functions are a stack only it can create: left out of the pack, said so.
    [pack, _] = org.delegated_log.of("PutOrganizationConformancePack")
    assert pack.params["ExcludedAccounts"] == [org.management]
    assert not org.delegated_log.of("CreateStack") or all(
        r.params["StackName"] in ("lambda-vpc-rules-aggregator-role", "lambda-vpc-rules-reconciler")
        for r in org.delegated_log.of("CreateStack"))
    placements = _payload(out)["placements"]
    assert {row["account"] for row in placements} == set(org.members)
    assert all(not row["failed"] for row in placements)
    for member in org.members:
        assert functions_in(member, "eu-west-1") >= {rule.function_name for rule in RULES}


def test_a_delegated_administrator_not_registered_changes_nothing(org_aws, monkeypatch, capsys):
    org = Org(2)
    admin = org.members[0]
    session = _delegated(org, admin, {CONFIG_RULES_PRINCIPAL: [admin]})
    code, out, err = org.deploy(monkeypatch, capsys, "--delegated-admin", session=session)
    assert code == 2 and out == ""
    failed = [line for line in err.splitlines() if line.startswith("lambda-vpc-rules: FAILED")]
    assert len(failed) == 2 and all("register-delegated-administrator" in line for line in failed)
    assert {STACKSETS_PRINCIPAL in err, CONFIG_PRINCIPAL in err} == {True}
    assert not [r for r in org.delegated_log.requests if WRITES.match(r.operation)]


# ------------------------------------------------------------------------------------------ pre-flight, failures


def test_preflight_names_every_problem_and_changes_nothing(org_aws, monkeypatch, capsys):
    org = Org(2)
    org.quiet.client("organizations").disable_aws_service_access(ServicePrincipal=CONFIG_RULES_PRINCIPAL)
    org.quiet.client("config", region_name="eu-west-1").stop_configuration_recorder(ConfigurationRecorderName="default")
    org.answers.handlers[("iam", "SimulatePrincipalPolicy")] = lambda params, region: {"EvaluationResults": [
        {"EvalActionName": a, "EvalResourceName": "*",
         "EvalDecision": "explicitDeny" if a == "cloudformation:CreateStackSet" else "allowed"}
        for a in params["ActionNames"]], "IsTruncated": False}
    code, out, err = org.cli(monkeypatch, capsys, "deploy", "--organization", "--bucket", "no-such-bucket-{region}",
                             "--regions", ",".join(REGIONS), "--wait-delay", "0", "--allow-unsigned")
    assert code == 2 and out == ""
    failed = [line for line in err.splitlines() if line.startswith("lambda-vpc-rules: FAILED")]
    assert len(failed) == 5, err
    assert [f for f in failed if CONFIG_RULES_PRINCIPAL in f and "enable-aws-service-access" in f]
    assert len([f for f in failed if "no-such-bucket-" in f and "does not exist" in f]) == 2
    assert [f for f in failed if "eu-west-1" in f and "not recording" in f]
    assert [f for f in failed if "lacks 1 permission(s): cloudformation:CreateStackSet" in f]
    assert "nothing was changed" in err
    assert not [r for r in org.log.requests if WRITES.match(r.operation)]


def test_an_account_and_region_that_fails_is_named_and_exits_2(org_aws, monkeypatch, capsys):
    org = Org(3)
    broken = org.members[1]
    org.no_recorder.add((broken, "eu-west-1"))
    code, out, err = org.deploy(monkeypatch, capsys)
    assert code == 2
    failed = [line for line in err.splitlines() if line.startswith("lambda-vpc-rules: FAILED")]
    assert failed == [f"lambda-vpc-rules: FAILED {broken} eu-west-1: pack CREATE_FAILED "
                      "(NoAvailableConfigurationRecorderException: There is no configuration recorder available to "
                      "record resources.)"]
    rows = [row for row in _payload(out)["placements"] if row["failed"]]
    assert [(row["account"], row["region"]) for row in rows] == [(broken, "eu-west-1")]
    # the table marks it
    org.log.clear()
    code, out, _ = org.cli(monkeypatch, capsys, "status", "--organization", "--regions", ",".join(REGIONS))
    assert code == 2
    monkeypatch.setattr(deploy_cli, "clients_for", lambda _session, _endpoint: org.clients())
    assert main(["status", "--organization", "--regions", ",".join(REGIONS), "--region", REGION, "--format",
                 "table"]) == 2
    table = capsys.readouterr().out
    [marked] = [line for line in table.splitlines() if line.startswith("!")]
    assert broken in marked and "eu-west-1" in marked and "CREATE_FAILED" in marked


def test_a_failed_stack_instance_is_retried_by_the_next_run(org_aws, monkeypatch, capsys):
    """A failed instance (moto cannot fail one: its status is set as AWS reports a failure) is named, and the next
    deploy re-runs it (UpdateStackInstances for that account), leaving the others alone."""
    from moto.cloudformation import models

    org = Org(3)
    broken = org.members[2]
    original = models.StackInstance.to_dict

    def to_dict(self):
        summary = original(self)
        if self.account_id == broken and self.region_name == "eu-west-1" and self.name.endswith("eu-west-1"):
            summary.update(Status="OUTDATED", StatusReason="ResourceLogicalId:LambdaVpcMultiAzFunction, "
                           "ResourceStatusReason:Resource handler returned message: access denied",
                           StackInstanceStatus={"DetailedStatus": "FAILED"})
        return summary

    monkeypatch.setattr(models.StackInstance, "to_dict", to_dict)
    code, out, err = org.deploy(monkeypatch, capsys)
    assert code == 2
    failed = [line for line in err.splitlines() if line.startswith("lambda-vpc-rules: FAILED")]
    assert len(failed) == 1 and failed[0].startswith(f"lambda-vpc-rules: FAILED {broken} eu-west-1: functions FAILED")
    org.log.clear()
    org.deploy(monkeypatch, capsys)
    [retry] = org.log.of("UpdateStackInstances")
    assert retry.params["DeploymentTargets"]["Accounts"] == [broken] and retry.params["Regions"] == ["eu-west-1"]
    assert not org.log.of("CreateStackInstances") and not org.log.of("UpdateStackSet")


# ------------------------------------------------------------------------------------------ more regions, destroy


def test_a_region_added_later_gets_its_stackset_the_rest_is_left_alone(org_aws, monkeypatch, capsys):
    org = Org(2, regions=[REGION])
    assert org.deploy(monkeypatch, capsys)[0] == 0
    buckets(org.quiet, BUCKET, ["eu-west-1"], versioned=True)
    config_recording(org.quiet, ["eu-west-1"], iam_in=None)
    org.regions = REGIONS
    org.log.clear()
    code, _, err = org.deploy(monkeypatch, capsys)
    assert code == 0, err
    assert [r.params["StackSetName"] for r in org.log.of("CreateStackSet")] == ["lambda-vpc-rules-eu-west-1"]
    assert not org.log.of("UpdateStackSet")
    assert {r.params["StackSetName"] for r in org.log.of("CreateStackInstances")} == {"lambda-vpc-rules-eu-west-1"}
    [aggregator] = org.log.of("PutConfigurationAggregator")
    assert aggregator.params["OrganizationAggregationSource"]["AwsRegions"] == sorted(REGIONS)
    for member in org.members:
        assert functions_in(member, "eu-west-1") >= {rule.function_name for rule in RULES}


def test_destroy_removes_everything_rules_first(org_aws, monkeypatch, capsys):
    org = Org(2)
    assert org.deploy(monkeypatch, capsys)[0] == 0
    org.log.clear()
    code, _, err = org.cli(monkeypatch, capsys, "destroy", "--organization", "--bucket", BUCKET, "--regions",
                           ",".join(REGIONS), "--wait-delay", "0")
    assert code == 0, err
    order = [r.operation for r in org.log.requests if r.operation.startswith("Delete")]
    assert order.index("DeleteOrganizationConformancePack") < order.index("DeleteStackInstances")
    assert order[-1] != "DeleteOrganizationConformancePack"
    cloudformation = org.quiet.client("cloudformation")
    summaries = cloudformation.list_stack_sets(Status="ACTIVE")["Summaries"]
    assert [s["StackSetName"] for s in summaries if s["Status"] == "ACTIVE"] == []  # moto lists deleted ones too
    for account in [*org.members, org.management]:
        for region in REGIONS:
            assert not functions_in(account, region) & {rule.function_name for rule in RULES}
    config = org.quiet.client("config")
    assert config.describe_organization_conformance_pack_statuses()["OrganizationConformancePackStatuses"] == []
    assert config.describe_configuration_aggregators()["ConfigurationAggregators"] == []
    for region in REGIONS:
        s3 = org.quiet.client("s3", region_name=region)
        assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET.format(region=region))
    # again: nothing left to do, nothing fails
    assert org.cli(monkeypatch, capsys, "destroy", "--organization", "--bucket", BUCKET, "--regions",
                   ",".join(REGIONS), "--wait-delay", "0")[0] == 0


# ------------------------------------------------------------------------------------------ permissions

OPERATION_ACTIONS = {"s3:HeadBucket": "s3:ListBucket", "s3:HeadObject": "s3:GetObject",
                     "s3:ListObjectsV2": "s3:ListBucket", "s3:DeleteObjects": "s3:DeleteObject"}


def iam_actions(log: RequestLog) -> set[str]:
    """The IAM actions behind the requests: the operation's own, and those its parameters add (S3 API reference:
    PutObject with Tagging needs s3:PutObjectTagging; a versioned GetObject / HeadObject s3:GetObjectVersion)."""
    actions = set()
    for request in log.requests:
        action = OPERATION_ACTIONS.get(request.action, request.action)
        if request.operation in ("GetObject", "HeadObject") and request.params.get("VersionId"):
            action = "s3:GetObjectVersion"
        actions.add(action)
        if request.operation in ("PutObject", "CopyObject") and request.params.get("Tagging"):
            actions.add("s3:PutObjectTagging")
        if request.operation == "PutConfigRule" and request.params.get("Tags"):
            actions.add("config:TagResource")
    return actions - {"sts:GetCallerIdentity"}


def test_the_deploying_identity_is_checked_for_exactly_the_actions_deploy_calls(org_aws, monkeypatch, capsys):
    """Every call a deploy makes (a first run, a change, a re-run) is an action pre-flight simulates, and every
    action pre-flight lists for the calls is made; CloudFormation's own for this account's stacks are added."""
    from lambda_vpc_rules.tooling.deploy.deploy import DeployOptions
    from lambda_vpc_rules.tooling.deploy.preflight import (
        AGGREGATOR_ACTIONS,
        MANAGEMENT_ACTIONS,
        ORGANIZATION_ACTIONS,
        RECONCILER_STACK_ACTIONS,
        STACK_RESOURCE_ACTIONS,
        required_actions,
    )

    org = Org(2)
    assert org.deploy(monkeypatch, capsys)[0] == 0
    assert org.deploy(monkeypatch, capsys, "--log-retention-days", "30")[0] == 0
    assert org.deploy(monkeypatch, capsys, "--log-retention-days", "30")[0] == 0
    required = required_actions(DeployOptions(BUCKET, organization=True), REGIONS)
    [simulated] = {tuple(r.params["ActionNames"]) for r in org.log.of("SimulatePrincipalPolicy")}
    assert set(simulated) == required
    made = iam_actions(org.log)
    assert made <= required
    # UpdateStackInstances retries a failed instance only (test above)
    assert made == (ORGANIZATION_ACTIONS | MANAGEMENT_ACTIONS | AGGREGATOR_ACTIONS) - {
        "cloudformation:UpdateStackInstances"}
    assert required - made <= STACK_RESOURCE_ACTIONS | RECONCILER_STACK_ACTIONS | {
        "cloudformation:UpdateStackInstances", "iam:CreateRole", "iam:AttachRolePolicy", "iam:PassRole"}


def test_excluded_accounts_get_no_instance_and_no_rules(org_aws, monkeypatch, capsys):
    org = Org(3)
    left_out = org.members[0]
    code, out, err = org.deploy(monkeypatch, capsys, "--excluded-accounts", left_out)
    assert code == 0, err
    for region in REGIONS:
        assert not functions_in(left_out, region)
    for request in org.log.of("CreateStackInstances"):
        assert request.params["DeploymentTargets"]["Accounts"] == [left_out]
        assert request.params["DeploymentTargets"]["AccountFilterType"] == "DIFFERENCE"
    assert {tuple(r.params["ExcludedAccounts"]) for r in org.log.of("PutOrganizationConformancePack")} == {
        (left_out,)}
    assert left_out not in {row["account"] for row in _payload(out)["placements"]}


def test_deploy_hook_goes_to_every_account_through_the_same_stacksets(org_aws, monkeypatch, capsys):
    """`deploy --organization --hook WARN`: each region's functions StackSet gets HookFailureMode and the version of
    the hook's bundle uploaded in that region (moto does not implement CloudFormation hooks: the StackSets'
    parameters are what is asserted, and the hook's function in a member account)."""
    from lambda_vpc_rules.hook.template import FUNCTION_NAME
    from lambda_vpc_rules.tooling.deploy.stacks import HOOK_BUNDLE

    org = Org(1, regions=[REGION])
    code, out, err = org.deploy(monkeypatch, capsys, "--hook", "WARN")
    assert code == 0, err
    [stack_set] = [r.params for r in org.log.of("CreateStackSet") if r.params["StackSetName"] == f"lambda-vpc-rules-"
                   f"{REGION}"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Parameters"]}
    assert parameters["HookFailureMode"] == "WARN"
    version = org.quiet.client("s3").head_object(Bucket=BUCKET.format(region=REGION),
                                                 Key=f"{_payload(out)['code_prefix']}{HOOK_BUNDLE}")["VersionId"]
    assert parameters["HookCodeObjectVersion"] == version
    assert FUNCTION_NAME in functions_in(org.members[0], REGION)
