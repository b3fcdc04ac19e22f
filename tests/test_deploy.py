"""A deployment rehearsed end to end against a moto server: `lambda-vpc-rules deploy` uploads the bundles,
creates the central stack (functions, role, permissions) and registers the rules read from the conformance
pack; then each deployed bundle, unzipped beside nothing but rdklib and boto3, handles a Config event.
The organization path and the conformance-pack path are rehearsed too."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

from aws_support import REGION, EndpointSession, Estate, build_network, change_event, configuration_item
from conftest import FAKE_ENVIRONMENT, ROOT
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers
from lambda_vpc_rules.tooling.deploy import DeployError, DeployOptions, config_rules_from_pack, deploy
from lambda_vpc_rules.tooling.packaging import conformance_pack

BUCKET = "rule-bundles"
SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


@pytest.fixture(scope="module")
def server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    with moto_as_aws_answers():  # the server runs in this process: AWS's answers where moto's differ
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


def _rdklib_layer_zip() -> bytes:
    buffer = io.BytesIO()
    package = Path(importlib.util.find_spec("rdklib").origin).parent
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in package.rglob("*.py"):
            archive.write(path, f"python/rdklib/{path.relative_to(package)}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def deployed(server, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # module scope: set up before the per-test environment
        for key, value in FAKE_ENVIRONMENT.items():
            patch.setenv(key, value)
        aws = EndpointSession(server)
        aws.client("s3").create_bucket(Bucket=BUCKET)
        layer = aws.client("lambda").publish_layer_version(LayerName="rdklib-layer",
                                                           Content={"ZipFile": _rdklib_layer_zip()})
        stdout = io.StringIO()
        patch.setattr(sys, "stdout", stdout)
        code = main(["deploy", "--bucket", BUCKET, "--rdklib-layer-arn", layer["LayerVersionArn"], "--mode", "rules",
                     "--endpoint-url", server, "--region", REGION, "--root", str(ROOT),
                     "--dist", str(tmp_path_factory.mktemp("dist"))])
    assert code == 0
    return aws, json.loads(stdout.getvalue()), layer["LayerVersionArn"]


def test_functions_run_the_uploaded_bundles_with_the_rdklib_layer(deployed):
    aws, result, layer = deployed
    lam = aws.client("lambda")
    for rule in RULES:
        configuration = lam.get_function(FunctionName=rule.function_name)["Configuration"]
        assert configuration["FunctionArn"] == result["functions"][rule.config_rule_name]
        assert configuration["Handler"] == f"{rule.rdk_name}.lambda_handler"
        assert configuration["Runtime"] == "python3.12"
        assert configuration["Role"].endswith(":role/lambda-vpc-rules-function")
        policy = json.loads(lam.get_policy(FunctionName=rule.function_name)["Policy"])
        [statement] = policy["Statement"]
        assert statement["Principal"] == {"Service": "config.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == result["account_id"]
    # moto's CloudFormation drops a function's Layers: check what the stack was given instead
    stack = aws.client("cloudformation").describe_stacks(StackName="lambda-vpc-rules")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["RdklibLayerArn"] == layer


def test_config_rules_are_the_conformance_packs(deployed):
    aws, result, _ = deployed
    pack = yaml.safe_load((ROOT / "conformance-pack.yaml").read_text())
    registered = {r["ConfigRuleName"]: r for r in aws.client("config").describe_config_rules()["ConfigRules"]}
    expected = [r["Properties"] for r in pack["Resources"].values() if r["Type"] == "AWS::Config::ConfigRule"]
    assert sorted(registered) == sorted(p["ConfigRuleName"] for p in expected)
    for rule in RULES:
        config_rule = registered[rule.config_rule_name]
        assert config_rule["Source"]["SourceIdentifier"] == result["functions"][rule.config_rule_name]
        assert len(config_rule["Source"]["SourceDetails"]) == 3
        inputs = json.loads(config_rule["InputParameters"])
        assert inputs.pop("AssumeRoleMode") == "false" and "ExecutionRoleName" not in inputs
        assert inputs == {p.name: p.default for p in rule.parameters}


def _runtime_dir(tmp: Path) -> Path:
    """rdklib and boto3 (with the packages boto3 itself needs), as the Lambda runtime and layer give them."""
    runtime = tmp / "runtime"
    if runtime.exists():
        return runtime
    runtime.mkdir()
    for name in ("rdklib", "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def _run_bundle(bundle: bytes, rule_dir: str, event: dict, endpoint: str, tmp: Path) -> list[dict]:
    task = tmp / rule_dir
    zipfile.ZipFile(io.BytesIO(bundle)).extractall(task)
    script = (
        "import json, sys\n"
        f"import {rule_dir} as handler, lambda_vpc_rules\n"
        f"assert lambda_vpc_rules.__file__.startswith({str(task)!r}), lambda_vpc_rules.__file__\n"
        "print(json.dumps(handler.lambda_handler(json.loads(sys.stdin.read()), None), default=str))\n"
    )
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{task}{os.pathsep}{_runtime_dir(tmp)}",
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                   "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint}
    # -S: no site-packages, so only the bundle and the runtime directory can be imported
    result = subprocess.run([sys.executable, "-S", "-c", script], input=json.dumps(event), capture_output=True,
                            text=True, env=environment, cwd=task, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_each_deployed_bundle_handles_a_config_event_on_its_own(deployed, server, tmp_path):
    aws, result, _ = deployed
    estate = Estate(aws)
    ids = build_network(estate)
    role = estate.role("app-role")
    estate.iam.put_role_policy(RoleName="app-role", PolicyName="eni", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": SIX, "Resource": "*"}]}))
    function = estate.function("orders-api", [ids["private-a"], ids["private-b"]], role=role, ipv6=False)
    registered = {r["ConfigRuleName"]: r for r in aws.client("config").describe_config_rules()["ConfigRules"]}
    s3 = aws.client("s3")
    for rule in RULES:
        bundle = s3.get_object(Bucket=BUCKET, Key=f"{result['code_prefix']}{rule.rdk_name}.zip")["Body"].read()
        event = change_event(configuration_item(function), rule.config_rule_name,
                             json.loads(registered[rule.config_rule_name]["InputParameters"]))
        event["resultToken"] = "TESTMODE"  # rdklib's test mode: moto accepts PutEvaluations only so
        [evaluation] = _run_bundle(bundle, rule.rdk_name, event, server, tmp_path)
        assert (evaluation["ComplianceResourceId"], evaluation["ComplianceType"]) == ("orders-api", "COMPLIANT"), (
            rule.rdk_name, evaluation.get("Annotation"))


def test_redeploy_updates_in_place(deployed, server, tmp_path, capsys):
    aws, result, layer = deployed
    code = main(["deploy", "--bucket", BUCKET, "--rdklib-layer-arn", layer, "--mode", "rules", "--endpoint-url",
                 server, "--region", REGION, "--root", str(ROOT), "--dist", str(tmp_path)])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["code_prefix"] == result["code_prefix"]  # same code, same key
    assert len(aws.client("config").describe_config_rules()["ConfigRules"]) == len(RULES)


# ------------------------------------------------------------------------------------------ organization


def test_organization_rollout(aws, tmp_path):
    """From the management account: member role StackSet on the root, invoke permission per member account,
    the organization conformance pack with ExecutionRoleName, excluded accounts left out."""
    organizations = aws.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    members = [organizations.create_account(AccountName=f"team-{i}", Email=f"team-{i}@example.com")[
        "CreateAccountStatus"]["AccountId"] for i in range(3)]
    aws.client("s3").create_bucket(Bucket=BUCKET)
    layer = aws.client("lambda").publish_layer_version(LayerName="rdklib", Content={"ZipFile": _rdklib_layer_zip()})
    options = DeployOptions(BUCKET, layer["LayerVersionArn"], organization=True, excluded_accounts=[members[2]],
                            waiter_delay=1, dist=tmp_path)
    result = deploy(aws.client, ROOT, options)
    assert set(members[:2]) <= set(result.member_accounts) and members[2] not in result.member_accounts

    policy = json.loads(aws.client("lambda").get_policy(FunctionName=RULES[0].function_name)["Policy"])
    granted = {s["Condition"]["StringEquals"]["AWS:SourceAccount"] for s in policy["Statement"]}
    assert granted == {result.account_id, *members[:2]}

    [pack] = aws.client("config").describe_organization_conformance_packs(
        OrganizationConformancePackNames=["lambda-vpc-rules"])["OrganizationConformancePacks"]
    inputs = {p["ParameterName"]: p["ParameterValue"] for p in pack["ConformancePackInputParameters"]}
    assert inputs == {"LambdaAccountId": result.account_id, "ExecutionRoleName": "lambda-vpc-rules-member"}
    assert pack["ExcludedAccounts"] == [members[2]]

    cloudformation = aws.client("cloudformation")
    stack_set = cloudformation.describe_stack_set(StackSetName="lambda-vpc-rules-member-role")["StackSet"]
    assert stack_set["PermissionModel"] == "SERVICE_MANAGED"
    assert "lambda-vpc-rules-member" in stack_set["TemplateBody"]
    # in this account too (moto's StackSet deploys to the management account itself; AWS's does not, and then
    # deploy adds a plain stack)
    aws.client("iam").get_role(RoleName="lambda-vpc-rules-member")
    central = cloudformation.describe_stacks(StackName="lambda-vpc-rules")["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in central["Parameters"]}
    assert parameters["OrganizationId"].startswith("o-")


def test_single_account_conformance_pack_request(aws, tmp_path):
    """moto has no PutConformancePack: the request is checked by botocore's Stubber against the service model."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    config = boto3.client("config", region_name=REGION)
    stubber = Stubber(config)
    stubber.add_response("put_conformance_pack", {"ConformancePackArn": "arn:aws:config:pack"}, {
        "ConformancePackName": "lambda-vpc-rules",
        "TemplateS3Uri": ANY,
        "ConformancePackInputParameters": [{"ParameterName": "LambdaAccountId", "ParameterValue": "123456789012"},
                                           {"ParameterName": "LambdaVpcEniPermissionsFlagOverbroadEc2",
                                            "ParameterValue": "true"}],
    })
    layer = aws.client("lambda").publish_layer_version(LayerName="rdklib", Content={"ZipFile": _rdklib_layer_zip()})
    options = DeployOptions(BUCKET, layer["LayerVersionArn"], waiter_delay=1, dist=tmp_path,
                            pack_parameters={"LambdaVpcEniPermissionsFlagOverbroadEc2": "true"})
    with stubber:
        result = deploy(lambda service: config if service == "config" else aws.client(service), ROOT, options)
    stubber.assert_no_pending_responses()
    uploaded = aws.client("s3").get_object(Bucket=BUCKET, Key=f"{result.code_prefix}conformance-pack.yaml")
    assert uploaded["Body"].read().decode() == (ROOT / "conformance-pack.yaml").read_text()


def test_pack_parameters_without_a_value_are_refused():
    with pytest.raises(DeployError, match="LambdaAccountId"):
        config_rules_from_pack(conformance_pack(), {}, "aws", "123456789012", REGION)


def test_deploy_to_a_missing_bucket_is_a_one_line_error(aws, tmp_path, capsys):
    code = main(["deploy", "--bucket", "no-such-bucket", "--rdklib-layer-arn", "arn:aws:lambda:us-east-1:1:layer:x:1",
                 "--region", REGION, "--root", str(ROOT), "--dist", str(tmp_path)])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert "PutObject failed: NoSuchBucket" in error and "\n" not in error
