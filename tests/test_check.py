"""`check`: the corpus (tests/iac_corpus/) judged before deployment gives the verdicts `scan` gives once the
stack exists. Each template is deployed into moto's CloudFormation once per module (a SAM template after
aws-sam-translator's transform: moto has no SAM transform), then scanned; `check` runs offline and with
the account's reads (moto), and every verdict it establishes must equal the scan's.

moto gaps, worked around or left out here (and not in `check`):
- moto's CloudFormation has no `Fn::Cidr` (a `!Select` over it fails): the corpus writes CIDRs with
  `Fn::Sub` + `Fn::FindInMap`; `Fn::Cidr` is tested on the resolver alone.
- moto reports an AWS::EC2::SubnetRouteTableAssociation created but leaves the subnet unassociated: the
  fixture associates each through AssociateRouteTable, as the template says.
- moto creates an AWS::IAM::Role without its ManagedPolicyArns: the fixture attaches them (AttachRolePolicy).
- moto stores an AWS::IAM::Role's inline `Policies` as an object, and then cannot answer
  GetAccountAuthorizationDetails (TypeError): the fixture writes each such policy back through
  PutRolePolicy, the same document as a JSON string, as IAM holds it (with a Version where SAM wrote none:
  moto refuses it without).
"""

from __future__ import annotations

import json
import pathlib

import boto3
import pytest
from moto import mock_aws
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends

from conftest import ACCOUNT, FAKE_ENVIRONMENT, REGION
from lambda_vpc_rules.aws.account import scan_session
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.aws.facts import FactReader
from lambda_vpc_rules.core.model import Compliance
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.iac.check import check_paths, load
from lambda_vpc_rules.iac.resolve import Context, Resolver
from lambda_vpc_rules.iac.sam import plain, transform
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

CORPUS = pathlib.Path(__file__).parent / "iac_corpus"
NETWORK, SAM = CORPUS / "network.yaml", CORPUS / "sam.yaml"
# synthesized by `node app.js` with aws-cdk-lib 2.276.0 (tests/iac_corpus/cdk/app.js), environment-agnostic
CDK = CORPUS / "cdk" / "CdkCorpus.template.json"


def _associate_route_tables(session, stack: str, template: dict) -> None:
    """Make the stack's AWS::EC2::SubnetRouteTableAssociation resources real (moto reports them created but
    leaves the subnets unassociated), through AssociateRouteTable."""
    cfn, ec2 = session.client("cloudformation"), session.client("ec2")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::EC2::SubnetRouteTableAssociation":
            props = resource["Properties"]
            ec2.associate_route_table(SubnetId=physical[props["SubnetId"]["Ref"]],
                                      RouteTableId=physical[props["RouteTableId"]["Ref"]])


def _attach_managed_policies(session, stack: str, template: dict) -> None:
    """Attach each role's ManagedPolicyArns (moto creates the role without them), through AttachRolePolicy."""
    cfn, iam = session.client("cloudformation"), session.client("iam")
    resolver = Resolver(template, Context(region=REGION, account_id=ACCOUNT))
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for arn in resource["Properties"].get("ManagedPolicyArns", []):
                if isinstance(arn, dict):  # a Ref to the stack's policy, or an ARN built with Fn::Join (CDK)
                    arn = physical[arn["Ref"]] if "Ref" in arn else resolver.value(arn)
                iam.attach_role_policy(RoleName=physical[logical_id], PolicyArn=arn)


def _aws_managed_policies(session, *names: str) -> None:
    """The AWS managed policies the corpus's roles attach (SAM and CDK attach these two), from moto's copy of
    AWS's documents: every account has them. moto's option to load all of them (about 1,300) makes one
    GetAccountAuthorizationDetails take seconds."""
    session.client("iam").list_roles()  # the backend exists
    backend = iam_backends[ACCOUNT]["global"]
    data = json.loads(aws_managed_policies_data)
    for name in names:
        policy = AWSManagedPolicy.from_data(name, ACCOUNT, "us-east-1", data[name])
        backend.managed_policies[policy.arn] = policy


def _fix_moto_inline_policies(iam) -> None:
    for role in iam_backends[ACCOUNT]["global"].roles.values():
        for name, document in list(role.policies.items()):
            if not isinstance(document, str):
                # moto refuses a document without Version (IAM takes it as 2008-10-17, which differs only in
                # policy variables: the corpus's inline policies have none)
                document = {"Version": "2012-10-17", **document}
                iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document))


@pytest.fixture(scope="module")
def deployed():
    """The corpus deployed into moto and scanned: (clients, {(function, rule): compliance})."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_ENVIRONMENT.items():
            patch.setenv(key, value)
        with mock_aws(), moto_as_aws_answers():
            session = boto3.Session(region_name=REGION)
            _aws_managed_policies(session, "AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole")
            cfn = session.client("cloudformation")
            sam_template = transform(load(SAM).data, {}, REGION)
            # CDK's bootstrap check reads this SSM parameter (the CDK bootstrap stack writes it)
            session.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
            for name, body, template in (("network", NETWORK.read_text(), plain(load(NETWORK).data)),
                                         ("sam", json.dumps(sam_template), sam_template),
                                         ("cdk", CDK.read_text(), json.loads(CDK.read_text()))):
                cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])
                assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
                _associate_route_tables(session, name, template)
                _attach_managed_policies(session, name, template)
            _fix_moto_inline_policies(session.client("iam"))
            report = scan_session(session)
            verdicts = {(r.resource_id, r.rule): r.compliance for r in report.evaluations}
            yield Clients(session_clients(session)), verdicts


def _rows(paths, reader=None, region=None, account=None, iam_client=None):
    context = Context(region=region, account_id=account)
    return check_paths([str(p) for p in paths], RULES, {}, context, reader, iam_client).rows


def test_plain_cloudformation_offline_gives_the_scans_verdicts(deployed):
    _, scanned = deployed
    rows = _rows([NETWORK])
    assert rows and all(row.established for row in rows)  # the template defines all its functions depend on
    checked = {(row.result.resource_id, row.result.rule): row.result.compliance for row in rows}
    assert checked == {key: value for key, value in scanned.items() if key[0].startswith("corpus-")}
    # the function whose Condition is false is not created, so not judged (moto creates it: a moto gap)
    assert not any(row.logical_id == "DevOnlyFunction" for row in rows)


def test_every_rule_passes_and_fails_somewhere_in_the_corpus(deployed):
    rows = _rows([NETWORK])
    for rule in RULES:
        seen = {row.result.compliance for row in rows if row.result.rule == rule.config_rule_name}
        assert {Compliance.COMPLIANT, Compliance.NON_COMPLIANT, Compliance.NOT_APPLICABLE} <= seen, rule.name


def test_sam_with_the_accounts_reads_gives_the_scans_verdicts(deployed):
    clients, scanned = deployed
    rows = _rows([SAM], FactReader(clients), REGION, ACCOUNT, clients("iam"))  # moto: the fixture's, still on
    assert rows and all(row.established for row in rows)
    checked = {(row.result.resource_id, row.result.rule): row.result.compliance for row in rows}
    assert checked == {key: value for key, value in scanned.items() if key[0].startswith("sam-")}
    fails = {rule for (_, rule), verdict in checked.items() if verdict is Compliance.NON_COMPLIANT}
    assert fails == {"lambda-vpc-eni-permissions", "lambda-vpc-private-subnet-nat", "lambda-vpc-multi-az"}


def test_sam_offline_establishes_what_the_template_holds_and_says_what_it_cannot(deployed):
    _, scanned = deployed
    rows = _rows([SAM])
    for row in rows:
        key = (row.result.resource_id, row.result.rule)
        if row.established:
            assert row.result.compliance is scanned[key], key
        else:  # never COMPLIANT on what is unknown; the annotation says what
            assert row.result.compliance is Compliance.NON_COMPLIANT
            assert row.result.annotation.startswith("Not established before deployment: ")
    unestablished = {row.result.rule for row in rows if not row.established}
    # AWS managed policies (SAM's AWSLambdaBasicExecutionRole) are not read offline; the zones come from
    # ${AWS::Region}, unknown offline
    assert unestablished == {"lambda-vpc-eni-permissions", "lambda-vpc-multi-az"}
    assert "AWSLambdaBasicExecutionRole" in next(r.result.annotation for r in rows if not r.established
                                                   and r.result.rule == "lambda-vpc-eni-permissions")


def test_cdk_synthesized_template_gives_the_scans_verdicts(deployed):
    clients, scanned = deployed
    rows = _rows([CDK], FactReader(clients), REGION, ACCOUNT, clients("iam"))
    assert rows and all(row.established for row in rows)
    checked = {(row.result.resource_id, row.result.rule): row.result.compliance for row in rows}
    assert checked == {key: value for key, value in scanned.items() if key[0].startswith("cdk-")}
    fails = {(name, rule) for (name, rule), verdict in checked.items() if verdict is Compliance.NON_COMPLIANT}
    assert fails == {("cdk-public-subnets", "lambda-vpc-private-subnet-nat"), ("cdk-one-zone", "lambda-vpc-multi-az"),
                     ("cdk-no-eni-permissions", "lambda-vpc-eni-permissions")}
    offline = _rows([CDK])  # CDK attaches AWS managed policies to the roles it makes: unknown offline
    assert {row.result.rule for row in offline if not row.established} == {"lambda-vpc-eni-permissions"}


def test_lines_point_at_the_function_resources():
    rows = _rows([NETWORK])
    text = NETWORK.read_text().splitlines()
    for row in rows:
        assert text[row.line - 1].strip() == f"{row.logical_id}:"





def test_terraform_plan_gives_the_verdicts_of_the_same_estate_deployed(deployed):
    """The plan (tests/iac_corpus/terraform-plan.json, `terraform show -json` format 1.2) describes the estate
    of network.yaml with `tf-` names: every verdict it establishes is the scan's of the deployed twin."""
    _, scanned = deployed
    rows = _rows([CORPUS / "terraform-plan.json"])
    twins = {}
    for row in rows:
        if row.result.resource_id == "tf-existing-subnet":  # a subnet ID the plan names, not defines
            assert not row.established and "subnet-0a1b2c3d4e5f60718 is not defined" in row.result.annotation
            continue
        assert row.established and row.line is None and row.logical_id.startswith("aws_lambda_function.")
        twins[(row.result.resource_id.replace("tf-", "corpus-", 1), row.result.rule)] = row.result.compliance
    assert twins == {key: value for key, value in scanned.items() if key[0].startswith("corpus-")}
