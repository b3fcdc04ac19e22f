"""`check`: the CLI (formats, exit codes, errors), SARIF against the SARIF 2.1.0 schema, the resolver, the
safe-side narrowing of policies, the unknown verdict table (core.unknown), and what the account reads add."""

from __future__ import annotations

import json
import pathlib

import boto3
import jsonschema
import pytest

from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.aws.facts import FactReader
from lambda_vpc_rules.core.model import Compliance, Fact, compliant, non_compliant, not_applicable
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.core.unknown import PREFIX, Unknowns, qualify
from lambda_vpc_rules.iac.check import check_paths
from lambda_vpc_rules.iac.policies import allow_only_known
from lambda_vpc_rules.iac.resolve import Context, Resolver, TemplateError, Unknown, ZoneOfRegion
from lambda_vpc_rules.tooling.cli import main

HERE = pathlib.Path(__file__).parent
CORPUS = HERE / "iac_corpus"
SCHEMA = json.loads((HERE / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())


# ------------------------------------------------------------------ CLI and formats


def test_sarif_validates_against_the_schema_with_file_and_line(tmp_path):
    out = tmp_path / "check.sarif"
    code = main(["check", str(CORPUS / "network.yaml"), str(CORPUS / "sam.yaml"), "--format", "sarif",
                 "--output", str(out)])
    assert code == 2  # offline, SAM's AWS managed policies cannot be read: not established
    document = json.loads(out.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    results = document["runs"][0]["results"]
    errors = [r for r in results if r["level"] == "error"]
    warnings = [r for r in results if r["level"] == "warning"]
    assert errors and warnings
    lines = (CORPUS / "network.yaml").read_text().splitlines()
    for result in results:
        location = result["locations"][0]
        name = location["logicalLocations"][0]["name"]
        if location["physicalLocation"]["artifactLocation"]["uri"].endswith("network.yaml"):
            assert lines[location["physicalLocation"]["region"]["startLine"] - 1].strip() == f"{name}:"
    assert {r["ruleId"] for r in errors} == {rule.config_rule_name for rule in RULES}


def test_exit_codes_as_scan(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    text = (CORPUS / "network.yaml").read_text()
    good.write_text(text)
    assert main(["check", str(good), "--format", "json", "--rule", "lambda-vpc-default-tenancy",
                 "--param", "MinAvailabilityZones=2"]) == 2  # a parameter of another rule: an error
    assert "MinAvailabilityZones" in capsys.readouterr().err
    assert main(["check", str(good), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["NON_COMPLIANT"] == 7 and document["summary"]["not_established"] == 0
    first = document["evaluations"][0]
    assert first["compliance"] == "NON_COMPLIANT" and first["line"] and first["established"] is True
    one = tmp_path / "one.yaml"
    one.write_text("Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Role: arn:aws:iam::1"
                   "11111111111:role/r\n      Code: {ZipFile: x}\n")
    assert main(["check", str(one), "--format", "table"]) == 0  # no VPC: NOT_APPLICABLE only
    assert "NOT_APPLICABLE" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ("Resources: [", "not a CloudFormation template"),
    ("Description: no resources\n", "no Resources"),
    ("Resources:\n  Fn:\n    Properties: {}\n", "has no Type"),
    ("Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Role: !Ref Nowhere\n",
     "no such parameter or resource"),
    ("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
     "    Properties: {Runtime: 7}\n", "SAM transform"),
])
def test_bad_templates_are_errors_not_verdicts(tmp_path, capsys, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_a_directory_is_checked_file_by_file_and_what_is_no_template_is_skipped_and_named(tmp_path, capsys):
    """`check DIR`: the template-like files under it (sorted; hidden directories such as .aws-sam's build copies and
    node_modules left out). A file there that is read but is neither template nor plan (a CDK manifest, a CI
    workflow, Kubernetes manifests) is skipped and named, never silently; one that cannot be parsed is an error."""
    infra = tmp_path / "infra"
    (infra / "stacks").mkdir(parents=True)
    (infra / "stacks" / "network.yaml").write_text((CORPUS / "network.yaml").read_text())
    (infra / "cdk.out").mkdir()
    (infra / "cdk.out" / "App.template.json").write_text(json.dumps({"Resources": {"Fn": {  # no VPC: established
        "Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::111111111111:role/r",
                                                         "Code": {"ZipFile": "x"}}}}}))
    (infra / "cdk.out" / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {}}))
    (infra / "ci.yml").write_text("name: ci\non:\n  push: {}\njobs: {}\n")
    (infra / "k8s.yaml").write_text("kind: Service\n---\nkind: Deployment\n")
    (infra / "README.md").write_text("not searched: not a template's suffix\n")
    for ignored in (".aws-sam/build", "node_modules/pkg"):
        (infra / ignored).mkdir(parents=True)
        (infra / ignored / "template.yaml").write_text("Resources: [")  # would be an error if read
    code = main(["check", str(infra), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err  # network.yaml has NON_COMPLIANT functions
    document = json.loads(captured.out)
    assert document["files"] == [str(infra / "cdk.out" / "App.template.json"),
                                 str(infra / "stacks" / "network.yaml")]
    assert document["skipped"] == [str(infra / name) for name in ("cdk.out/manifest.json", "ci.yml", "k8s.yaml")]
    assert {e["path"] for e in document["evaluations"]} == set(document["files"])
    assert "checked 2 template(s) or plan(s); skipped 3 file(s) that are neither" in captured.err
    # the same files named one by one give the same verdicts
    assert main(["check", *document["files"], "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["evaluations"] == document["evaluations"]

    (infra / "broken.yaml").write_text("Resources: [")  # may be a template: an error, not a skip
    assert main(["check", str(infra)]) == 2
    assert "broken.yaml: not a CloudFormation template" in capsys.readouterr().err


@pytest.mark.parametrize("files, message", [
    ({}, "no file that could be a template or plan"),
    ({"manifest.json": "{}", "ci.yml": "name: ci\n"}, "no CloudFormation template or Terraform plan among 2 file(s)"),
])
def test_a_directory_without_templates_is_an_error(tmp_path, capsys, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["check", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_a_file_named_on_its_own_that_is_no_template_stays_an_error(tmp_path, capsys):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"version": "36.0.0"}))
    assert main(["check", str(path)]) == 2
    assert "not a CloudFormation template or Terraform plan (no Resources)" in capsys.readouterr().err


# ------------------------------------------------------------------ resolver


def _resolver(template: dict, **context) -> Resolver:
    return Resolver({"Resources": {}, **template}, Context(**context))


def test_intrinsics_resolve_as_documented():
    r = _resolver({
        "Parameters": {"Env": {"Type": "String", "Default": "prod"}, "Ids": {"Type": "List<AWS::EC2::Subnet::Id>"}},
        "Mappings": {"M": {"prod": {"Bits": "8"}}},
        "Conditions": {"Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
                      "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", "Path": "/p/"}}},
    }, region="eu-west-1", account_id="111122223333")
    bits = {"Fn::FindInMap": ["M", {"Ref": "Env"}, "Bits"]}
    cidrs = {"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, 4, bits]}
    assert r.value({"Fn::Select": [1, cidrs]}) == "10.0.1.0/24"
    assert r.value({"Fn::Sub": "${AWS::Region}-${Vpc}-${!Literal}"}) == "eu-west-1-vpc-Vpc-${Literal}"
    assert r.value({"Fn::If": ["Prod", "a", "b"]}) == "a"
    assert r.value({"Fn::GetAtt": ["Role", "Arn"]}) == "arn:aws:iam::111122223333:role/p/r"
    assert r.value({"Fn::Join": ["-", ["a", {"Ref": "AWS::AccountId"}]]}) == "a-111122223333"
    assert r.value({"Fn::Select": [2, {"Fn::GetAZs": ""}]}) == ZoneOfRegion(2)
    assert isinstance(r.value({"Ref": "Ids"}), Unknown)  # no default
    assert isinstance(r.value({"Fn::ImportValue": "shared-subnet"}), Unknown)  # offline
    assert r.value([{"Ref": "AWS::NoValue"}, "x"]) == ["x"]


def test_unknowns_propagate_and_name_their_cause():
    r = _resolver({})
    value = r.value({"Fn::Sub": "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:*"})
    assert isinstance(value, Unknown) and "region" in value.reason
    assert isinstance(r.value({"Fn::Join": [",", [{"Fn::ImportValue": "x"}]]}), Unknown)
    with pytest.raises(TemplateError):
        r.value({"Fn::Select": [3, ["a"]]})


# ------------------------------------------------------------------ policies narrowed on the safe side


def test_allow_statements_lose_unknown_values_a_deny_with_one_is_unknown():
    unknown = Unknown("the account ID")
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": ["*", unknown]},
        {"Sid": "C", "Effect": "Allow", "Action": "s3:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalAccount": unknown}}},
    ]}
    kept, what = allow_only_known(document)
    assert kept["Statement"] == [{"Effect": "Allow", "Action": "ec2:*", "Resource": ["*"]}]
    assert "C left out" in what and "statement 1 narrowed" in what
    deny = {"Statement": {"Effect": "Deny", "Action": "ec2:*", "Resource": unknown}}
    assert allow_only_known(deny)[0] is None


# ------------------------------------------------------------------ core.unknown: the verdict table


@pytest.mark.parametrize("verdict, unknown, narrowed, expected, established", [
    (not_applicable("no VPC"), ["x"], [], Compliance.NOT_APPLICABLE, True),
    (compliant("ok"), [], [], Compliance.COMPLIANT, True),
    (compliant("ok"), [], ["dropped"], Compliance.COMPLIANT, True),
    (compliant("ok"), ["subnet"], [], Compliance.NON_COMPLIANT, False),
    (non_compliant("bad"), [], [], Compliance.NON_COMPLIANT, True),
    (non_compliant("bad"), ["subnet"], [], Compliance.NON_COMPLIANT, False),
    (non_compliant("bad"), [], ["dropped"], Compliance.NON_COMPLIANT, False),
])
def test_unknown_verdict_table(verdict, unknown, narrowed, expected, established):
    result, ok = qualify(verdict, unknown, narrowed)
    assert (result.compliance, ok) == (expected, established)
    if not ok:
        assert result.annotation.startswith(PREFIX) and verdict.annotation[:20] in result.annotation
        assert len(result.annotation) <= 256


def test_notes_affect_only_the_rules_that_read_them():
    notes = Unknowns()
    notes.add(Fact.IAM, "role r")
    notes.add("lambda-vpc-multi-az", "zone of subnet s")
    assert notes.affecting("lambda-vpc-default-tenancy", frozenset({Fact.SUBNETS, Fact.VPCS})) == ([], [])
    assert notes.affecting("lambda-vpc-multi-az", frozenset({Fact.SUBNETS})) == (["zone of subnet s"], [])
    assert notes.affecting("lambda-vpc-eni-permissions", frozenset({Fact.IAM}))[0] == ["role r"]


# ------------------------------------------------------------------ what the template names but does not define


def _existing_subnet(session) -> tuple[str, str]:
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", InstanceTenancy="dedicated")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    return vpc, subnet["SubnetId"]


def test_an_existing_subnet_is_read_with_credentials_and_unknown_offline(aws, tmp_path):
    _, subnet = _existing_subnet(aws)
    template = tmp_path / "existing.yaml"
    template.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      FunctionName: f\n"
        "      Role: arn:aws:iam::123456789012:role/missing\n      Code: {ZipFile: x}\n"
        f"      VpcConfig: {{SubnetIds: [{subnet}], SecurityGroupIds: [sg-1]}}\n")
    rule = [r for r in RULES if r.name == "lambda-vpc-default-tenancy"]
    offline = check_paths([str(template)], rule, {}, Context()).rows
    assert [(r.result.compliance, r.established) for r in offline] == [(Compliance.NON_COMPLIANT, False)]
    assert f"subnet {subnet} is not defined in the file" in offline[0].result.annotation
    clients = Clients(session_clients(boto3.Session(region_name="us-east-1")))
    online = check_paths([str(template)], rule, {}, Context(region="us-east-1", account_id="123456789012"),
                         FactReader(clients)).rows
    assert [(r.result.compliance, r.established) for r in online] == [(Compliance.NON_COMPLIANT, True)]
    assert "dedicated" in online[0].result.annotation
    # the role the template names is read too: it does not exist, so the ENI rule says so, established
    eni = check_paths([str(template)], [RULES[0]], {}, Context(region="us-east-1", account_id="123456789012"),
                      FactReader(clients)).rows
    assert eni[0].established and "missing" in eni[0].result.annotation


# ------------------------------------------------------------------ Terraform: a main route table the plan manages


def _change(address: str, after: dict, unknown: dict | None = None) -> dict:
    kind, name = address.split(".")
    return {"address": address, "mode": "managed", "type": kind, "name": name,
            "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown or {}}}


def test_terraform_default_route_table_is_the_main_table_of_its_vpc(tmp_path):
    """A subnet without association uses its VPC's main route table; aws_default_route_table gives it routes
    (here to an internet gateway: the subnet is public, not 'no route')."""
    plan = {"format_version": "1.2", "resource_changes": [
        _change("aws_vpc.v", {"cidr_block": "10.1.0.0/16", "instance_tenancy": "default"}, {"id": True}),
        _change("aws_internet_gateway.g", {}, {"id": True, "vpc_id": True}),
        _change("aws_subnet.s", {"cidr_block": "10.1.1.0/24", "availability_zone": "us-east-1a"},
                {"id": True, "vpc_id": True}),
        _change("aws_default_route_table.d", {"route": [{"cidr_block": "0.0.0.0/0", "gateway_id": None}]},
                {"id": True, "default_route_table_id": True, "route": [{"gateway_id": True}]}),
        _change("aws_lambda_function.f", {"function_name": "f", "vpc_config": [
            {"subnet_ids": None, "security_group_ids": ["sg-1"]}]},
                {"role": True, "vpc_config": [{"subnet_ids": True}]}),
    ], "configuration": {"root_module": {"resources": [
        {"address": "aws_internet_gateway.g", "expressions": {"vpc_id": {"references": ["aws_vpc.v.id"]}}},
        {"address": "aws_subnet.s", "expressions": {"vpc_id": {"references": ["aws_vpc.v.id", "aws_vpc.v"]}}},
        {"address": "aws_default_route_table.d", "expressions": {
            "default_route_table_id": {"references": ["aws_vpc.v.default_route_table_id", "aws_vpc.v"]},
            "route": [{"gateway_id": {"references": ["aws_internet_gateway.g.id"]}}]}},
        {"address": "aws_lambda_function.f", "expressions": {
            "role": {"references": ["var.role_arn"]},
            "vpc_config": [{"subnet_ids": {"references": ["aws_subnet.s.id", "aws_subnet.s"]}}]}},
    ]}}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    rule = [r for r in RULES if r.name == "lambda-vpc-private-subnet-nat"]
    [row] = check_paths([str(path)], rule, {}, Context()).rows
    assert row.established and row.result.compliance is Compliance.NON_COMPLIANT
    assert "is public (0.0.0.0/0 -> igw-AwsInternetGatewayG)" in row.result.annotation
    # the role comes from a variable, known only after apply: the ENI rule is not established
    [eni] = check_paths([str(path)], [RULES[0]], {}, Context()).rows
    assert not eni.established and "var.role_arn" in eni.result.annotation


def test_template_network_in_an_existing_vpc_gets_its_local_routes_from_the_account(aws, tmp_path):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    template = tmp_path / "in-existing-vpc.yaml"
    template.write_text(f"""Resources:
  Sub:
    Type: AWS::EC2::Subnet
    Properties: {{VpcId: {vpc}, CidrBlock: 10.8.1.0/24, AvailabilityZone: us-east-1a}}
  Rt:
    Type: AWS::EC2::RouteTable
    Properties: {{VpcId: {vpc}}}
  Out:
    Type: AWS::EC2::Route
    Properties: {{RouteTableId: !Ref Rt, DestinationCidrBlock: 0.0.0.0/0, GatewayId: {igw}}}
  Assoc:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {{SubnetId: !Ref Sub, RouteTableId: !Ref Rt}}
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties: {{GroupDescription: fn, VpcId: {vpc}, Tags: [{{Key: team, Value: !ImportValue team}}]}}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Role: arn:aws:iam::123456789012:role/r
      Code: {{ZipFile: x}}
      VpcConfig: {{SubnetIds: [!Ref Sub], SecurityGroupIds: [!GetAtt Sg.GroupId]}}
""")
    rules = [r for r in RULES if r.name in ("lambda-vpc-private-subnet-nat", "lambda-vpc-default-tenancy")]
    offline = {r.result.rule: r for r in check_paths([str(template)], rules, {}, Context()).rows}
    assert not offline["lambda-vpc-private-subnet-nat"].established
    assert "local routes of route table rtb-Rt" in offline["lambda-vpc-private-subnet-nat"].result.annotation
    assert not offline["lambda-vpc-default-tenancy"].established
    clients = Clients(session_clients(boto3.Session(region_name="us-east-1")))
    online = check_paths([str(template)], rules, {}, Context(region="us-east-1", account_id="123456789012"),
                         FactReader(clients)).rows
    assert all(row.established for row in online)
    verdicts = {row.result.rule: row.result for row in online}
    assert verdicts["lambda-vpc-default-tenancy"].compliance is Compliance.COMPLIANT
    assert f"0.0.0.0/0 -> {igw}" in verdicts["lambda-vpc-private-subnet-nat"].annotation


def test_security_groups_by_getatt_are_known():
    r = _resolver({"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"VpcId": "vpc-1"}}}})
    assert r.value({"Fn::GetAtt": ["Sg", "GroupId"]}) == "sg-Sg"
    assert r.value({"Fn::GetAtt": "Sg.VpcId"}) == "vpc-1"


def test_cli_with_region_reads_the_account_and_its_exports(aws, tmp_path, capsys):
    """--region: the subnet a template imports from another stack's export is read from the account."""
    _, subnet = _existing_subnet(aws)
    aws.client("cloudformation").create_stack(StackName="shared", TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"Subnet": {"Value": subnet, "Export": {"Name": "shared-subnet"}}}}))
    template = tmp_path / "imports.yaml"
    template.write_text("Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n"
                        "      Role: arn:aws:iam::123456789012:role/r\n      Code: {ZipFile: x}\n"
                        "      VpcConfig: {SubnetIds: [!ImportValue shared-subnet], SecurityGroupIds: [sg-1]}\n")
    args = ["check", str(template), "--format", "json", "--rule", "lambda-vpc-default-tenancy"]
    assert main(args) == 2  # offline: the export is unknown
    offline = json.loads(capsys.readouterr().out)["evaluations"][0]
    assert not offline["established"] and any("shared-subnet" in why for why in offline["not_established_because"])
    assert main([*args, "--region", "us-east-1"]) == 1  # read: the subnet's VPC is dedicated
    online = json.loads(capsys.readouterr().out)["evaluations"][0]
    assert online["established"] and "dedicated instance tenancy" in online["annotation"]


def test_a_subnet_whose_ipv6_block_hangs_on_an_unknown_condition_is_not_judged_dual_stack(tmp_path):
    template = tmp_path / "conditional-ipv6.yaml"
    template.write_text("""Parameters:
  Ipv6: {Type: String}
Conditions:
  WithIpv6: !Equals [!Ref Ipv6, 'yes']
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  A:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.1.0/24
      Ipv6CidrBlock: !If [WithIpv6, '2600:1f18::/64', !Ref AWS::NoValue]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Role: arn:aws:iam::123456789012:role/r
      Code: {ZipFile: x}
      VpcConfig: {SubnetIds: [!Ref A], SecurityGroupIds: [sg-1], Ipv6AllowedForDualStack: true}
""")
    rule = [r for r in RULES if r.name == "lambda-vpc-ipv6-dual-stack"]
    [row] = check_paths([str(template)], rule, {}, Context()).rows
    assert not row.established and "whether subnet subnet-A has an IPv6 CIDR" in row.result.annotation
    [given] = check_paths([str(template)], rule, {}, Context(parameters={"Ipv6": "yes"})).rows
    assert given.established and given.result.compliance is Compliance.COMPLIANT


def test_the_exceptions_register_applies_as_in_the_deployed_rules(tmp_path, capsys):
    """`check --exceptions FILE`: every NON_COMPLIANT verdict of network.yaml excepted stays NON_COMPLIANT, names
    the exception, and no longer fails the run; --only-failing then lists none."""
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    register = {"version": "1", "exceptions": [{
        "id": "EX-3", "rules": ["*"], "scope": {"accounts": ["*"]}, "reason": "greenfield stack, fixed before go-live",
        "owner": "platform", "approver": "ciso", "ticket": "https://tickets.example.com/3",
        "approved": today.isoformat(), "expires": (today + dt.timedelta(days=5)).isoformat()}]}
    path = tmp_path / "register.json"
    path.write_text(json.dumps(register))
    template = str(CORPUS / "network.yaml")
    assert main(["check", template, "--format", "json", "--exceptions", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    failing = [e for e in document["evaluations"] if e["compliance"] == "NON_COMPLIANT"]
    assert len(failing) == 7 and all(e["annotation"].startswith("excepted by EX-3 until") for e in failing)
    assert main(["check", template, "--format", "json", "--exceptions", str(path), "--only-failing"]) == 0
    assert json.loads(capsys.readouterr().out)["evaluations"] == []
    assert main(["check", template, "--format", "json"]) == 1  # without the register: the same verdicts fail
