"""One account rehearsed end to end against a moto server: `lambda-vpc-rules deploy` checks first, uploads the
bundles, creates the role stack and the functions stack, and registers the rules read from the conformance pack;
then each deployed bundle, unzipped beside nothing but rdklib and boto3, handles a Config event with the rdklib it
carries. A re-run leaves everything alone; the conformance-pack path, several regions, and `deploy` from the
installed package without a checkout are rehearsed too."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml

from aws_support import REGION, EndpointSession, Estate, build_network, change_event, configuration_item
from conftest import FAKE_ENVIRONMENT, ROOT
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers
from lambda_vpc_rules.tooling.deploy import cli as deploy_cli
from lambda_vpc_rules.tooling.deploy.deploy import DeployError, config_rules_from_pack
from lambda_vpc_rules.tooling.deploy.deploy import RegionalClients as Clients
from lambda_vpc_rules.tooling.packaging import PACKAGE_DIR, RDKLIB_VERSION, TEMPLATES_DIR, conformance_pack
from lambda_vpc_rules.tooling.remediation_documents import PLANNER_FUNCTION
from org_support import ModelAnswers, RequestLog, all_allowed, buckets, config_recording

BUCKET = "rule-bundles"
REGISTER_BUCKET = "org-exceptions"
REGISTER = f"s3://{REGISTER_BUCKET}/register.json"
REGISTER_PARAM = ("--pack-param", f"ExceptionsRegister={REGISTER}")
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


def _recording(aws: EndpointSession) -> None:
    config = aws.client("config")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config-recorder",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": BUCKET})
    config.start_configuration_recorder(ConfigurationRecorderName="default")


@pytest.fixture(scope="module")
def deployed(server, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # module scope: set up before the per-test environment
        for key, value in FAKE_ENVIRONMENT.items():
            patch.setenv(key, value)
        aws = EndpointSession(server)
        aws.client("s3").create_bucket(Bucket=BUCKET)
        # the exceptions register, as `exceptions publish` writes it: every deployed bundle reads it
        aws.client("s3").create_bucket(Bucket=REGISTER_BUCKET)
        aws.client("s3").put_object(Bucket=REGISTER_BUCKET, Key="register.json",
                                    Body=json.dumps({"version": "1", "exceptions": []}))
        _recording(aws)
        stdout, stderr = io.StringIO(), io.StringIO()
        patch.setattr(sys, "stdout", stdout)
        patch.setattr(sys, "stderr", stderr)
        code = main(["deploy", "--bucket", BUCKET, "--mode", "rules", "--endpoint-url", server, "--region", REGION,
                     "--dist", str(tmp_path_factory.mktemp("dist")), "--wait-delay", "0", *REGISTER_PARAM])
    assert code == 0, stderr.getvalue()
    return aws, json.loads(stdout.getvalue()), stderr.getvalue()


def test_functions_run_the_uploaded_bundles_with_their_own_role_and_log_group(deployed):
    aws, result, progress = deployed
    lam = aws.client("lambda")
    for rule in RULES:
        configuration = lam.get_function(FunctionName=rule.function_name)["Configuration"]
        assert configuration["FunctionArn"] == result["functions"][rule.config_rule_name]
        assert configuration["Handler"] == f"{rule.rdk_name}.lambda_handler"
        assert configuration["Runtime"] == "python3.12"
        assert configuration["Role"].endswith(":role/lambda-vpc-rules-evaluator")
        assert not configuration.get("Layers")  # rdklib is in the bundle
        policy = json.loads(lam.get_policy(FunctionName=rule.function_name)["Policy"])
        [statement] = policy["Statement"]
        assert statement["Principal"] == {"Service": "config.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == result["account_id"]
    groups = {g["logGroupName"]: g for g in aws.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/lambda/lambda-vpc-")["logGroups"]}
    assert {name: g.get("retentionInDays") for name, g in groups.items()} == {
        f"/aws/lambda/{name}": 365 for name in [*(rule.function_name for rule in RULES), PLANNER_FUNCTION]}
    role = aws.client("iam").get_role(RoleName="lambda-vpc-rules-evaluator")["Role"]
    assert role["Arn"].endswith(":role/lambda-vpc-rules-evaluator")
    register_policy = aws.client("iam").get_role_policy(RoleName="lambda-vpc-rules-evaluator",
                                                        PolicyName="read-exceptions-register")["PolicyDocument"]
    assert register_policy["Statement"][0]["Resource"] == f"arn:aws:s3:::{REGISTER_BUCKET}/*"
    for step in ("pre-flight: 0 problem(s)", "stack lambda-vpc-rules-iam (us-east-1): created",
                 "stack lambda-vpc-rules (us-east-1): created", "registered 5 Config rules"):
        assert step in progress
    assert [row["failed"] for row in result["placements"]] == [[]]


def test_config_rules_are_the_conformance_packs(deployed):
    aws, result, _ = deployed
    pack = yaml.safe_load((TEMPLATES_DIR / "conformance-pack.yaml").read_text())
    registered = {r["ConfigRuleName"]: r for r in aws.client("config").describe_config_rules()["ConfigRules"]}
    expected = [r["Properties"] for r in pack["Resources"].values() if r["Type"] == "AWS::Config::ConfigRule"]
    assert sorted(registered) == sorted(p["ConfigRuleName"] for p in expected)
    for rule in RULES:
        config_rule = registered[rule.config_rule_name]
        assert config_rule["Source"]["SourceIdentifier"] == result["functions"][rule.config_rule_name]
        assert len(config_rule["Source"]["SourceDetails"]) == 3
        inputs = json.loads(config_rule["InputParameters"])
        assert inputs.pop("AssumeRoleMode") == "false"
        assert inputs.pop("ExceptionsRegister") == REGISTER  # --pack-param ExceptionsRegister=... (docs/exceptions.md)
        if rule.config_rule_name == "lambda-vpc-eni-permissions":
            assert inputs.pop("ScpChains") == ""  # the ENI rule only; empty: SCPs not considered (docs/scp.md)
        assert inputs == {p.name: p.default for p in rule.parameters}


def _runtime_dir(tmp: Path) -> Path:
    """rdklib and boto3 (with the packages boto3 itself needs), as the Lambda runtime (and an rdklib layer, for
    RDK) give them."""
    runtime = tmp / "runtime"
    if runtime.exists():
        return runtime
    runtime.mkdir()
    for name in ("rdklib", "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def run_bundle(task: Path, rule_dir: str, event: dict, endpoint: str, tmp: Path) -> list[dict]:
    """Import an unpacked bundle's handler in a fresh interpreter that sees only the bundle and the runtime (`-S`:
    no site-packages), check that the pack and rdklib come from the bundle, and have it handle `event`."""
    script = (
        "import json, sys\n"
        f"import {rule_dir} as handler, lambda_vpc_rules, rdklib, importlib.metadata as metadata\n"
        f"assert lambda_vpc_rules.__file__.startswith({str(task)!r}), lambda_vpc_rules.__file__\n"
        f"assert rdklib.__file__.startswith({str(task)!r}), rdklib.__file__\n"
        f"assert metadata.version('rdklib') == {RDKLIB_VERSION!r}\n"
        "print(json.dumps(handler.lambda_handler(json.loads(sys.stdin.read()), None), default=str))\n"
    )
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{task}{os.pathsep}{_runtime_dir(tmp)}",
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                   "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint}
    result = subprocess.run([sys.executable, "-S", "-c", script], input=json.dumps(event), capture_output=True,
                            text=True, env=environment, cwd=task, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def compliant_function(aws, name: str = "orders-api", role_name: str = "app-role") -> dict:
    estate = Estate(aws)
    ids = build_network(estate)
    role = estate.role(role_name)
    estate.iam.put_role_policy(RoleName=role_name, PolicyName="eni", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": SIX, "Resource": "*"}]}))
    return estate.function(name, [ids["private-a"], ids["private-b"]], role=role, ipv6=False)


def test_each_deployed_bundle_handles_a_config_event_on_its_own(deployed, server, tmp_path):
    aws, result, _ = deployed
    function = compliant_function(aws)
    registered = {r["ConfigRuleName"]: r for r in aws.client("config").describe_config_rules()["ConfigRules"]}
    s3 = aws.client("s3")
    for rule in RULES:
        bundle = s3.get_object(Bucket=BUCKET, Key=f"{result['code_prefix']}{rule.rdk_name}.zip")["Body"].read()
        task = tmp_path / rule.rdk_name
        zipfile.ZipFile(io.BytesIO(bundle)).extractall(task)
        event = change_event(configuration_item(function), rule.config_rule_name,
                             json.loads(registered[rule.config_rule_name]["InputParameters"]))
        event["resultToken"] = "TESTMODE"  # rdklib's test mode: moto accepts PutEvaluations only so
        [evaluation] = run_bundle(task, rule.rdk_name, event, server, tmp_path)
        assert (evaluation["ComplianceResourceId"], evaluation["ComplianceType"]) == ("orders-api", "COMPLIANT"), (
            rule.rdk_name, evaluation.get("Annotation"))


def test_redeploy_leaves_everything_alone(deployed, server, tmp_path, monkeypatch, capsys):
    aws, result, _ = deployed
    log = RequestLog()
    session = boto3.Session(region_name=REGION)
    log.install(session)
    original = deploy_cli.clients_for
    monkeypatch.setattr(deploy_cli, "clients_for", lambda _session, endpoint: original(session, endpoint))
    code = main(["deploy", "--bucket", BUCKET, "--mode", "rules", "--endpoint-url", server, "--region", REGION,
                 "--dist", str(tmp_path), "--wait-delay", "0", *REGISTER_PARAM])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["code_prefix"] == result["code_prefix"]  # same code, same key
    assert "stack lambda-vpc-rules (us-east-1): unchanged" in err
    assert "0 of 5 bundles uploaded, 5 there already and proven the same, 0 replaced" in err
    # nothing is written again (the deployment record neither); each bundle was proven by its content, not its name
    assert not log.of("PutObject")
    # moto keeps no SHA-256 checksum: each bundle read and compared
    assert len([r for r in log.of("GetObject") if r.params["Key"].endswith(".zip")]) == len(RULES)
    assert not log.of("UpdateStack") and not log.of("CreateStack")
    # every call on the deployment's bucket names its owner; the register is read once, by pre-flight, as the
    # rules read it (its bucket may be another account's: deploy claims no owner for it)
    s3_calls = [r for r in log.requests if r.service == "s3" and r.params.get("Bucket") != REGISTER_BUCKET]
    assert s3_calls and all(r.params.get("ExpectedBucketOwner") == result["account_id"] for r in s3_calls)
    assert [(r.operation, r.params["Key"]) for r in log.requests if r.params.get("Bucket") == REGISTER_BUCKET] == [
        ("GetObject", "register.json")]
    assert len(aws.client("config").describe_config_rules()["ConfigRules"]) == len(RULES)


# ------------------------------------------------------------------------------------------ RDK


def _rdk(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, **FAKE_ENVIRONMENT, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", "from rdk.cli import main; main()", *argv], cwd=cwd,
                          capture_output=True, text=True, env=environment, timeout=300)


def test_rdk_test_local_runs_the_tests_of_each_rule():
    result = _rdk("test-local", "--all", cwd=ROOT / "rules")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for rule in RULES:
        assert f"Testing {rule.rdk_name}" in output
    runs = [int(n) for n in re.findall(r"Ran (\d+) tests?", output)]
    assert len(runs) == len(RULES) and min(runs) >= 4, output
    assert "FAIL" not in output and "Error" not in output.replace("no verdict", "")


def test_rdk_deploy_of_the_rule_folders_yields_functions_that_import_and_evaluate(server, tmp_path, monkeypatch):
    """`rdk deploy` zips a rule folder as it is (shutil.make_archive of the folder): straight from a checkout the
    function cannot import the pack; after `make rdk` it imports the pack and the pinned rdklib from the zip and
    evaluates, with only rdklib (RDK's layer) and boto3 (the runtime) beside it."""
    from lambda_vpc_rules.tooling.packaging import bundle_files, vendor_for_rdk

    for key, value in FAKE_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("__pycache__", *(
        name for name in ("lambda_vpc_rules", "rdklib", "rdklib-*.dist-info"))))
    aws = EndpointSession(server)
    function = compliant_function(aws, "rdk-api", "rdk-role")
    rule = RULES[1]
    event = change_event(configuration_item(function), rule.config_rule_name, {"AssumeRoleMode": "false"})
    event["resultToken"] = "TESTMODE"

    def zipped(folder: Path) -> Path:
        archive = Path(shutil.make_archive(str(tmp_path / "zips" / folder.name), "zip", folder))  # as RDK does
        task = tmp_path / "tasks" / f"{folder.name}-{len(list((tmp_path / 'zips').iterdir()))}"
        zipfile.ZipFile(archive).extractall(task)
        return task

    (tmp_path / "zips").mkdir()
    bare = zipped(rules / rule.rdk_name)
    with pytest.raises(AssertionError, match="No module named 'lambda_vpc_rules'"):
        run_bundle(bare, rule.rdk_name, event, server, tmp_path)

    vendor_for_rdk(rules)
    for each in RULES:
        task = zipped(rules / each.rdk_name)
        names = {p.relative_to(task).as_posix() for p in task.rglob("*") if p.is_file()}
        assert set(bundle_files(each)) <= names
        assert names - set(bundle_files(each)) == {"parameters.json", f"{each.rdk_name}_test.py"}
        each_event = change_event(configuration_item(function), each.config_rule_name, {"AssumeRoleMode": "false"})
        each_event["resultToken"] = "TESTMODE"
        [evaluation] = run_bundle(task, each.rdk_name, each_event, server, tmp_path)
        assert (evaluation["ComplianceResourceId"], evaluation["ComplianceType"]) == ("rdk-api", "COMPLIANT"), (
            each.rdk_name, evaluation.get("Annotation"))


# ------------------------------------------------------------------------------------------ in-process


@pytest.fixture
def account(aws):
    """One account in moto with AWS Config recording, and what moto lacks answered as AWS would."""
    buckets(aws, "bundles-{region}", [REGION, "eu-west-1"])
    config_recording(aws, [REGION, "eu-west-1"])
    packs: list[dict] = []
    answers = ModelAnswers().on("iam", "SimulatePrincipalPolicy", all_allowed)
    answers.on("config", "PutConformancePack", lambda params, region: packs.append({**params, "region": region}) or {
        "ConformancePackArn": f"arn:aws:config:{region}:123456789012:conformance-pack/{params['ConformancePackName']}"
                              "-abcdef"})
    answers.on("config", "DescribeConformancePackStatus", lambda params, region: {"ConformancePackStatusDetails": [{
        "ConformancePackName": name, "ConformancePackId": "conformance-pack-abcdef",
        "ConformancePackArn": f"arn:aws:config:{region}:123456789012:conformance-pack/{name}-abcdef",
        "ConformancePackState": "CREATE_COMPLETE", "LastUpdateRequestedTime": "2026-11-24T12:00:00Z",
        "StackArn": f"arn:aws:cloudformation:{region}:123456789012:stack/awsconfigconforms-{name}/x"}
        for name in params["ConformancePackNames"] if any(p["ConformancePackName"] == name for p in packs)]})
    answers.install(aws)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(deploy_cli, "clients_for", lambda _session, _endpoint: Clients(
        lambda service, region: aws.client(service, region_name=region), REGION))
    yield aws, packs
    monkeypatch.undo()


def test_a_conformance_pack_in_each_region(account, capsys):
    aws, packs = account
    code = main(["deploy", "--bucket", "bundles-{region}", "--regions", f"{REGION},eu-west-1", "--region", REGION,
                 "--pack-param", "LambdaVpcEniPermissionsFlagOverbroadEc2=true", "--wait-delay", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert [p["region"] for p in packs] == [REGION, "eu-west-1"]
    for pack in packs:
        assert pack["ConformancePackName"] == "lambda-vpc-rules"
        # the user's parameter, and the deployment's own remediation role (IAM is global: one per deployment)
        assert pack["ConformancePackInputParameters"] == [
            {"ParameterName": "LambdaVpcEniPermissionsFlagOverbroadEc2", "ParameterValue": "true"},
            {"ParameterName": "RemediationRoleName", "ParameterValue": "lambda-vpc-rules-remediation"}]
        # The template itself (no S3 object someone could replace between upload and AWS Config's read): the
        # design's top-level conformance-pack.yaml, byte for byte.
        assert "TemplateS3Uri" not in pack
        assert pack["TemplateBody"].encode() == (TEMPLATES_DIR / "conformance-pack.yaml").read_bytes()
        assert pack["TemplateBody"].encode() == (ROOT / "conformance-pack.yaml").read_bytes()
    assert [(row["region"], row["role"], row["functions"], row["pack"]) for row in result["placements"]] == [
        (REGION, "CREATE_COMPLETE", "CREATE_COMPLETE", "CREATE_COMPLETE"),
        ("eu-west-1", "-", "CREATE_COMPLETE", "CREATE_COMPLETE")]
    # The role once (IAM is global), the functions in each region, each from its region's bucket.
    assert [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]].count("lambda-vpc-rules-evaluator") == 1
    for region in (REGION, "eu-west-1"):
        lam = aws.client("lambda", region_name=region)
        assert {f["FunctionName"] for f in lam.list_functions()["Functions"]} == {
            *(r.function_name for r in RULES), PLANNER_FUNCTION}  # and the remediation planner


def test_several_regions_need_a_bucket_per_region(account, capsys):
    code = main(["deploy", "--bucket", "bundles-us-east-1", "--regions", f"{REGION},eu-west-1", "--region", REGION])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "{region}" in err


def test_an_unknown_pack_parameter_is_refused_before_any_call_but_the_regions(account, capsys):
    code = main(["deploy", "--bucket", "bundles-{region}", "--region", REGION, "--pack-param", "MinAz=3"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "no parameter MinAz" in err
    assert "LambdaVpcMultiAzMinAvailabilityZones" in err


@pytest.mark.filterwarnings("ignore:Tried to parse AWS..Lambda..CodeSigningConfig:UserWarning")
def test_code_signing_signs_each_bundle_and_enforces_signatures(aws, capsys):
    """AWS Signer in moto has no signing jobs: StartSigningJob and DescribeSigningJob are answered as the Signer API
    reference documents (the signed object written where Signer writes it). moto's CloudFormation does not create
    the code-signing configuration: the template's is checked in test_packaging."""
    buckets(aws, "signed-{region}", [REGION], versioned=True)
    config_recording(aws, [REGION])
    jobs: dict[str, dict] = {}
    s3 = boto3.Session(region_name=REGION).client("s3")

    def start(params, region):
        job_id = f"job-{len(jobs) + 1}"
        source = params["source"]["s3"]
        key = f"{params['destination']['s3']['prefix']}{job_id}.zip"
        body = s3.get_object(Bucket=source["bucketName"], Key=source["key"], VersionId=source["version"])["Body"]
        s3.put_object(Bucket=source["bucketName"], Key=key, Body=body.read() + b"signature")
        jobs[job_id] = {"jobId": job_id, "status": "Succeeded", "profileName": params["profileName"],
                        "signedObject": {"s3": {"bucketName": source["bucketName"], "key": key}}}
        return {"jobId": job_id, "jobOwner": "123456789012"}

    profile = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/rules/Ab12Cd34Ef"
    answers = ModelAnswers().on("iam", "SimulatePrincipalPolicy", all_allowed)
    answers.on("signer", "GetSigningProfile", lambda params, region: {
        "profileName": params["profileName"], "profileVersion": "Ab12Cd34Ef", "profileVersionArn": profile,
        "platformId": "AWSLambda-SHA384-ECDSA", "status": "Active"})
    answers.on("signer", "StartSigningJob", start)
    answers.on("signer", "DescribeSigningJob", lambda params, region: jobs[params["jobId"]])
    answers.install(aws)
    log = RequestLog().install(aws)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deploy_cli, "clients_for", lambda _session, _endpoint: Clients(
            lambda service, region: aws.client(service, region_name=region), REGION))
        code = main(["deploy", "--bucket", "signed-{region}", "--mode", "rules", "--signing-profile", "rules",
                     "--region", REGION, "--wait-delay", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(log.of("StartSigningJob")) == len(RULES)
    [stack] = [r.params for r in log.of("CreateStack") if r.params["StackName"] == "lambda-vpc-rules"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["SigningProfileVersionArns"] == profile
    assert parameters["CodeKeyPrefix"] == f"{json.loads(out)['code_prefix']}signed/"
    for rule in RULES:
        signed = s3.get_object(Bucket="signed-us-east-1", Key=f"{parameters['CodeKeyPrefix']}{rule.rdk_name}.zip")
        assert signed["Body"].read().endswith(b"signature")


def test_a_bundle_replaced_in_s3_is_never_deployed(aws, capsys, tmp_path):
    """Someone with write access to the prefix puts other bytes at a bundle's key (same name: the content hash is
    predictable). The next deploy proves each object's content before reusing it, finds the change, puts its own
    bytes back as a new version, and pins every function to the versions it proved (S3ObjectVersion): what Lambda
    runs is the bundle deploy built (its CodeSha256), never the replaced one."""
    import base64
    import hashlib

    buckets(aws, "pinned-{region}", [REGION], versioned=True)
    config_recording(aws, [REGION])
    ModelAnswers().on("iam", "SimulatePrincipalPolicy", all_allowed).install(aws)
    dist = tmp_path / "dist"
    argv = ["deploy", "--bucket", "pinned-{region}", "--mode", "rules", "--region", REGION, "--wait-delay", "0",
            "--dist", str(dist)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deploy_cli, "clients_for", lambda _session, _endpoint: Clients(
            lambda service, region: aws.client(service, region_name=region), REGION))
        assert main(argv) == 0, capsys.readouterr().err
        prefix = json.loads(capsys.readouterr().out)["code_prefix"]
        s3 = aws.client("s3")
        victim = RULES[0]
        s3.put_object(Bucket="pinned-us-east-1", Key=f"{prefix}{victim.rdk_name}.zip", Body=b"PK evil bundle")
        log = RequestLog().install(aws)
        code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"WARNING s3://pinned-us-east-1/{prefix}{victim.rdk_name}.zip held other bytes" in err
    assert "note: s3://pinned-us-east-1" in err and "replaced" in err
    [stack] = aws.client("cloudformation").describe_stacks(StackName="lambda-vpc-rules")["Stacks"]
    pinned = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["CodeObjectVersions"].split(",")
    assert len(pinned) == len(RULES)
    lam = aws.client("lambda")
    for rule, version in zip(RULES, pinned, strict=True):
        built = (dist / f"{rule.rdk_name}.zip").read_bytes()
        stored = s3.get_object(Bucket="pinned-us-east-1", Key=f"{prefix}{rule.rdk_name}.zip", VersionId=version)
        assert stored["Body"].read() == built
        sha = lam.get_function(FunctionName=rule.function_name)["Configuration"]["CodeSha256"]
        assert sha == base64.b64encode(hashlib.sha256(built).digest()).decode()
    # the bundle put back, and the record (its versions changed)
    assert [r.params["Key"].rsplit("/", 1)[1] for r in log.of("PutObject")] == [f"{victim.rdk_name}.zip",
                                                                                "deployment.json"]
    # and the replaced object is still where it was put, as an older version: nothing of it runs
    versions = s3.list_object_versions(Bucket="pinned-us-east-1", Prefix=f"{prefix}{victim.rdk_name}.zip")
    assert len(versions["Versions"]) == 3 and pinned[0] not in [
        v["VersionId"] for v in versions["Versions"] if not v["IsLatest"]]


@pytest.mark.parametrize("stored, action", [(b"the bundle", "verified"), (b"other bytes", "replaced")])
def test_an_objects_s3_checksum_proves_it_without_reading_it(aws, stored, action):
    """Where S3 keeps the object's SHA-256 (uploaded with one; moto keeps none, so HeadObject is answered as the S3
    API reference documents it with ChecksumMode=ENABLED), the checksum decides: no GetObject."""
    import base64
    import hashlib

    from lambda_vpc_rules.tooling.deploy.steps import DeployOptions, put_verified

    aws.client("s3").create_bucket(Bucket="checksums")
    checksum = base64.b64encode(hashlib.sha256(stored).digest()).decode()
    ModelAnswers().on("s3", "HeadObject", lambda params, region: {
        "ChecksumSHA256": checksum, "VersionId": "v1", "ContentLength": len(stored)}).install(aws)
    log = RequestLog().install(aws)
    s3 = aws.client("s3")
    version, done = put_verified(s3, "checksums", "p/d/BUNDLE.zip", b"the bundle", "123456789012",
                                 DeployOptions("checksums"))
    assert done == action
    [head] = log.of("HeadObject")
    assert head.params["ChecksumMode"] == "ENABLED" and head.params["ExpectedBucketOwner"] == "123456789012"
    assert not log.of("GetObject")
    assert bool(log.of("PutObject")) == (action == "replaced")
    if action == "verified":
        assert version == "v1"


def test_destroy_leaves_what_is_not_its_deployments(account, capsys):
    """A stack and a Config rule of the same names that this deployment did not create (no tag of its identity),
    and objects beside its prefix, are left alone; its own go."""
    aws, _ = account
    assert main(["deploy", "--bucket", "bundles-{region}", "--region", REGION, "--mode", "rules",
                 "--wait-delay", "0"]) == 0
    capsys.readouterr()
    config = aws.client("config")
    rule = RULES[0].config_rule_name
    arn = config.describe_config_rules(ConfigRuleNames=[rule])["ConfigRules"][0]["ConfigRuleArn"]
    config.untag_resource(ResourceArn=arn, TagKeys=["lambda-vpc-rules:deployment"])  # now someone else's
    s3 = aws.client("s3")
    s3.put_object(Bucket="bundles-us-east-1", Key="lambda-vpc-rules/other-team.zip", Body=b"theirs")
    s3.put_object(Bucket="bundles-us-east-1", Key="lambda-vpc-rules/lambda-vpc-rules-prod/x.zip", Body=b"prod")
    other = aws.client("cloudformation", region_name="eu-west-1")
    other.create_stack(StackName="lambda-vpc-rules", TemplateBody=json.dumps({"Resources": {"Topic": {
        "Type": "AWS::SNS::Topic"}}}))
    code = main(["destroy", "--bucket", "bundles-{region}", "--regions", f"{REGION},eu-west-1", "--region", REGION,
                 "--mode", "rules", "--wait-delay", "0"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert [r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]] == [rule]
    assert f"Config rule {rule}: not this deployment's, left alone" in err
    assert other.describe_stacks(StackName="lambda-vpc-rules")["Stacks"]
    assert "eu-west-1: stack lambda-vpc-rules: not this deployment's" in err
    assert not aws.client("cloudformation").describe_stacks()["Stacks"]  # its own stacks went
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bundles-us-east-1")["Contents"]]
    assert keys == ["lambda-vpc-rules/lambda-vpc-rules-prod/x.zip", "lambda-vpc-rules/other-team.zip"]


def test_the_key_prefix_is_never_empty_or_the_bucket(account, capsys):
    for prefix in ("", "/", "//", "no-slash"):
        for command in ("deploy", "destroy"):
            code = main([command, "--bucket", "bundles-{region}", "--region", REGION, "--key-prefix", prefix])
            err = capsys.readouterr().err.strip()
            assert code == 2 and "--key-prefix" in err and "\n" not in err, (command, prefix, err)


def test_pack_parameters_are_checked():
    with pytest.raises(DeployError, match="no parameter NoSuchParameter"):
        config_rules_from_pack(conformance_pack(), {"NoSuchParameter": "x"}, "aws", "123456789012", REGION)


def test_a_missing_bucket_stops_before_any_change(aws, capsys):
    config_recording(aws, [REGION])
    ModelAnswers().on("iam", "SimulatePrincipalPolicy", all_allowed).install(aws)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deploy_cli, "clients_for", lambda _session, _endpoint: Clients(
            lambda service, region: aws.client(service, region_name=region), REGION))
        code = main(["deploy", "--bucket", "no-such-bucket", "--region", REGION])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert [line for line in lines if line.startswith("lambda-vpc-rules: ")] == [
        "lambda-vpc-rules: FAILED bucket no-such-bucket (us-east-1): does not exist",
        "lambda-vpc-rules: pre-flight found 1 problem(s); nothing was changed"]
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


def test_deploy_from_the_installed_package_without_a_checkout(server, tmp_path):
    """What an installed wheel holds (the package directory and its package data, pyproject's package-data), run
    from a directory that is no checkout: deploy needs nothing else."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE_DIR, site / "lambda_vpc_rules", ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    aws = EndpointSession(server, region="eu-west-1")
    aws.client("s3").create_bucket(Bucket="wheel-bundles", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    config = aws.client("config")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config-recorder",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "wheel-bundles"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import lambda_vpc_rules.tooling.cli as cli; "
              "assert cli.__file__.startswith(sys.argv[1]), cli.__file__; "
              "sys.exit(cli.main(sys.argv[2:]))")
    environment = {**os.environ, **FAKE_ENVIRONMENT, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
    result = subprocess.run([sys.executable, "-c", script, str(site), "deploy", "--bucket", "wheel-bundles",
                             "--mode", "rules", "--endpoint-url", server, "--region", "eu-west-1", "--wait-delay", "0"],
                            capture_output=True, text=True, cwd=elsewhere, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["regions"] == ["eu-west-1"]
    assert list(elsewhere.iterdir()) == []  # nothing written where it ran
    functions = aws.client("lambda").list_functions()["Functions"]
    assert {f["FunctionName"] for f in functions} >= {rule.function_name for rule in RULES}
    assert ROOT.name not in {p.name for p in site.iterdir()}


def test_status_and_destroy_of_one_account(account, capsys):
    aws, packs = account
    answers = ModelAnswers()
    answers.on("config", "DescribeConfigRuleEvaluationStatus", lambda params, region: {"ConfigRulesEvaluationStatus": [
        {"ConfigRuleName": f"{rule.config_rule_name}-conformance-pack-abcdef", "FirstEvaluationStarted": True,
         "LastSuccessfulEvaluationTime": "2026-11-24T12:00:00Z",
         **({"LastFailedEvaluationTime": "2026-11-24T13:00:00Z", "LastErrorCode": "AccessDenied"}
            if rule is RULES[0] else {})} for rule in RULES]})
    deleted: list[str] = []
    answers.on("config", "DeleteConformancePack", lambda params, region: deleted.append(region) or {})
    answers.install(aws)
    regions = f"{REGION},eu-west-1"
    assert main(["deploy", "--bucket", "bundles-{region}", "--regions", regions, "--region", REGION,
                 "--wait-delay", "0"]) == 0
    capsys.readouterr()
    assert main(["status", "--regions", regions, "--region", REGION, "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    rows = status["placements"]
    assert status["hook"].startswith("CloudFormation hook not deployed")
    assert [(r["region"], r["pack"], r["evaluations"]) for r in rows] == [
        (REGION, "CREATE_COMPLETE", "4/5 ok, last error AccessDenied (lambda-vpc-eni-permissions)"),
        ("eu-west-1", "CREATE_COMPLETE", "4/5 ok, last error AccessDenied (lambda-vpc-eni-permissions)")]
    assert main(["destroy", "--bucket", "bundles-{region}", "--regions", regions, "--region", REGION,
                 "--wait-delay", "0"]) == 0
    assert deleted == [REGION, "eu-west-1"]
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []
    for region in (REGION, "eu-west-1"):
        assert aws.client("lambda", region_name=region).list_functions()["Functions"] == []
        assert "Contents" not in aws.client("s3", region_name=region).list_objects_v2(Bucket=f"bundles-{region}")


def test_all_regions_are_the_enabled_ones_home_first(aws):
    from lambda_vpc_rules.tooling.deploy.deploy import resolve_regions

    clients = Clients(lambda service, region: aws.client(service, region_name=region), "eu-west-1")
    regions = resolve_regions(["all"], clients)
    enabled = {r["RegionName"] for r in aws.client("ec2").describe_regions()["Regions"]}
    assert regions[0] == "eu-west-1" and set(regions) == enabled and len(regions) == len(enabled)


def test_one_accounts_deploy_calls_exactly_the_actions_preflight_checks(account, capsys):
    from lambda_vpc_rules.tooling.deploy.deploy import DeployOptions
    from lambda_vpc_rules.tooling.deploy.preflight import (
        SINGLE_ACCOUNT_ACTIONS,
        STACK_RESOURCE_ACTIONS,
        required_actions,
    )

    aws, _ = account
    log = RequestLog().install(aws)
    for retention in ("365", "30", "30"):  # create, update, leave alone
        assert main(["deploy", "--bucket", "bundles-{region}", "--region", REGION, "--log-retention-days", retention,
                     "--wait-delay", "0"]) == 0, capsys.readouterr().err
    from test_deploy_org import iam_actions

    made = iam_actions(log)
    required = required_actions(DeployOptions("bundles-{region}"), [REGION])
    [simulated] = {tuple(r.params["ActionNames"]) for r in log.of("SimulatePrincipalPolicy")}
    assert set(simulated) == required
    assert made == SINGLE_ACCOUNT_ACTIONS and required == SINGLE_ACCOUNT_ACTIONS | STACK_RESOURCE_ACTIONS


# ------------------------------------------------------------------------------------------ the CloudFormation hook


def test_deploy_hook_passes_its_failure_mode_and_pins_the_hook_bundle(aws, capsys, tmp_path):
    """`deploy --hook FAIL`: the hook's bundle is built beside the rules', uploaded and proved as they are, and the
    functions stack gets HookFailureMode and the bundle's object version (S3ObjectVersion, as the rules'). moto's
    CloudFormation does not implement hooks (AWS::CloudFormation::LambdaHook is not created): what is asserted is
    the stack's parameters and the hook's function, whose code is the bundle built here."""
    import base64
    import hashlib

    from lambda_vpc_rules.hook.template import FUNCTION_NAME
    from lambda_vpc_rules.tooling.deploy.stacks import HOOK_BUNDLE

    buckets(aws, "hooked-{region}", [REGION], versioned=True)
    config_recording(aws, [REGION])
    ModelAnswers().on("iam", "SimulatePrincipalPolicy", all_allowed).install(aws)
    dist = tmp_path / "dist"
    argv = ["deploy", "--bucket", "hooked-{region}", "--mode", "rules", "--region", REGION, "--wait-delay", "0",
            "--dist", str(dist), "--hook", "FAIL", "--pack-param", "LambdaVpcMultiAzMinAvailabilityZones=3"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deploy_cli, "clients_for", lambda _session, _endpoint: Clients(
            lambda service, region: aws.client(service, region_name=region), REGION))
        log = RequestLog().install(aws)
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, err
    # status's line on the hook: read from the functions stack, as it is now
    from lambda_vpc_rules.tooling.deploy.steps import DeployOptions

    clients = Clients(lambda service, region: aws.client(service, region_name=region), REGION)
    _, hook = deploy_cli.read_deployment(clients, DeployOptions("hooked-{region}", mode="rules"), REGION)
    assert hook.startswith("CloudFormation hook deployed, FailureMode FAIL: it blocks a Lambda function"), hook
    prefix = json.loads(out)["code_prefix"]
    assert f"{len(RULES) + 1} of {len(RULES) + 1} bundles uploaded" in err  # the rules' and the hook's
    [stack] = [r.params for r in log.of("CreateStack") if r.params["StackName"] == "lambda-vpc-rules"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["HookFailureMode"] == "FAIL"
    s3 = aws.client("s3")
    stored = s3.get_object(Bucket="hooked-us-east-1", Key=f"{prefix}{HOOK_BUNDLE}",
                           VersionId=parameters["HookCodeObjectVersion"])["Body"].read()
    built = (dist / HOOK_BUNDLE).read_bytes()
    assert stored == built
    assert json.loads(parameters["HookRuleParameters"]) == {"MinAvailabilityZones": "3"}  # judged as the rules
    configuration = aws.client("lambda").get_function(FunctionName=FUNCTION_NAME)["Configuration"]
    assert configuration["Handler"] == "lambda_vpc_rules.hook.handler.lambda_handler"
    assert configuration["CodeSha256"] == base64.b64encode(hashlib.sha256(built).digest()).decode()
    assert configuration["Timeout"] <= 30  # the hook waits 30 s for its function


def test_deploy_without_hook_builds_no_hook_bundle_and_passes_an_empty_failure_mode(deployed):
    from lambda_vpc_rules.tooling.deploy.steps import Artifacts, DeployOptions, functions_parameters

    _, _, progress = deployed
    assert f"{len(RULES)} of {len(RULES)} bundles uploaded" in progress  # the rules' only
    parameters = functions_parameters(DeployOptions("b"), REGION, Artifacts("p/", {REGION: "p/"}))
    assert (parameters["HookFailureMode"], parameters["HookCodeObjectVersion"]) == ("", "")  # condition Hook false


def test_the_hook_bundle_answers_a_hook_request_on_its_own(deployed, server, tmp_path):
    """The hook's bundle unzipped beside nothing but rdklib and boto3 (`python -S`), answering CloudFormation's
    documented resource request (hook/handler.py) with the account read from the moto server: a function in
    private subnets of two zones with the ENI permissions passes, the same function in one public subnet fails."""
    from lambda_vpc_rules.tooling.packaging import build_hook_bundle

    aws, _, _ = deployed
    task = tmp_path / "hook"
    zipfile.ZipFile(build_hook_bundle(tmp_path / "dist")).extractall(task)
    function = aws.client("lambda").get_function_configuration(
        FunctionName=compliant_function(aws, "hook-target", "hook-role")["FunctionName"])
    properties = {"FunctionName": "hook-target", "Role": function["Role"], "Runtime": "python3.12",
                  "Handler": "index.handler", "Code": {"ZipFile": "x"},
                  "VpcConfig": {"SubnetIds": function["VpcConfig"]["SubnetIds"],
                                "SecurityGroupIds": function["VpcConfig"]["SecurityGroupIds"]}}
    subnets = aws.client("ec2").describe_subnets(SubnetIds=function["VpcConfig"]["SubnetIds"])["Subnets"]
    public = [s["SubnetId"] for s in aws.client("ec2").describe_subnets(Filters=[
        {"Name": "vpc-id", "Values": [subnets[0]["VpcId"]]}])["Subnets"]
              if s["SubnetId"] not in function["VpcConfig"]["SubnetIds"]]

    def request(props: dict) -> dict:
        return {"clientRequestToken": "f6a8b3c2-1111-2222-3333-444455556666", "awsAccountId": "123456789012",
                "stackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/app/1a2b3c4d", "changeSetId": None,
                "hookTypeName": "Private::LambdaVpcRules::Hook", "actionInvocationPoint": "CREATE_PRE_PROVISION",
                "requestData": {"targetName": "AWS::Lambda::Function", "targetType": "AWS::Lambda::Function",
                                "targetLogicalId": "AppFunction", "targetModel": {"resourceProperties": props}},
                "requestContext": {"invocation": 1, "callbackContext": None}}

    script = ("import json, sys\n"
              "import lambda_vpc_rules.hook.handler as hook\n"
              f"assert hook.__file__.startswith({str(task)!r}), hook.__file__\n"
              "print(json.dumps(hook.lambda_handler(json.loads(sys.stdin.read()), None)))\n")
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{task}{os.pathsep}{_runtime_dir(tmp_path)}",
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                   "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": server}

    def answer(props: dict) -> dict:
        run = subprocess.run([sys.executable, "-S", "-c", script], input=json.dumps(request(props)),
                             capture_output=True, text=True, env=environment, cwd=task, timeout=120)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout.splitlines()[-1])

    passed = answer(properties)
    assert passed["hookStatus"] == "SUCCESS", passed["message"]
    assert public, "the network has a public subnet"
    failed = answer({**properties, "VpcConfig": {**properties["VpcConfig"], "SubnetIds": public[:1]}})
    assert (failed["hookStatus"], failed.get("errorCode")) == ("FAILED", "NonCompliant"), failed["message"]
    assert "lambda-vpc-multi-az" in failed["message"]


def test_preflight_reads_the_register_and_scp_chains_the_rules_will_read(account, capsys):
    """A register or SCP chains document that is missing or invalid would make every evaluation of the rules
    that read it an error: deploy stops before any change. One that is stale is a note."""
    aws, packs = account
    s3 = aws.client("s3")
    register, chains = "s3://bundles-us-east-1/register.json", "s3://bundles-us-east-1/scp-chains.json"

    def deploy(*params: str) -> tuple[int, list[str]]:
        code = main(["deploy", "--bucket", "bundles-{region}", "--region", REGION, "--wait-delay", "0",
                     *(arg for param in params for arg in ("--pack-param", param))])
        return code, capsys.readouterr().err.strip().splitlines()

    code, lines = deploy(f"ExceptionsRegister={register}")
    assert code == 2 and packs == [] and aws.client("cloudformation").describe_stacks()["Stacks"] == []
    assert f"lambda-vpc-rules: FAILED ExceptionsRegister: exceptions register {register}: no such object " \
           "(NoSuchKey); publish it with `lambda-vpc-rules exceptions publish`; the rules that read it would answer " \
           "every evaluation with an error" in lines
    s3.put_object(Bucket="bundles-us-east-1", Key="register.json", Body=b"{not json")
    code, lines = deploy(f"ExceptionsRegister={register}")
    assert code == 2 and any("FAILED ExceptionsRegister" in line and "not JSON" in line for line in lines)
    s3.put_object(Bucket="bundles-us-east-1", Key="scp-chains.json", Body=json.dumps({"format": "other"}).encode())
    s3.put_object(Bucket="bundles-us-east-1", Key="register.json", Body=json.dumps({"version": "1", "exceptions": []}))
    code, lines = deploy(f"ExceptionsRegister={register}", f"ScpChains={chains}")
    assert code == 2 and [line for line in lines if "FAILED" in line] == [
        f"lambda-vpc-rules: FAILED ScpChains: SCP chains {chains}: not an SCP chains document (format "
        "lambda-vpc-rules/scp-chains/1 expected); the rules that read it would answer every evaluation with an error"]

    from lambda_vpc_rules.core.scp import chains_document

    stale = dt.datetime.now(dt.UTC) - dt.timedelta(hours=49)
    s3.put_object(Bucket="bundles-us-east-1", Key="scp-chains.json", Body=json.dumps(chains_document([], stale)))
    code, lines = deploy(f"ExceptionsRegister={register}", f"ScpChains={chains}")
    assert code == 0, lines
    assert any(f"pre-flight: note: ScpChains {chains}: generated" in line and "over 48 h old" in line
               for line in lines), lines
    assert [p["ConformancePackInputParameters"][:2] for p in packs] == [[
        {"ParameterName": "ExceptionsRegister", "ParameterValue": register},
        {"ParameterName": "ScpChains", "ParameterValue": chains}]]
