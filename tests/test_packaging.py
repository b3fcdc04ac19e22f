"""What deploys: generated files equal the committed ones, RDK reads the rule folders, cfn-lint passes the
templates, the conformance pack exposes every rule parameter and runs in any account, the role grants exactly what
the code calls, nothing in a template grows with the organization, and each bundle is self-contained (rdklib
pinned and vendored)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import zipfile

import pytest
import yaml

from conftest import ROOT
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling.deploy.stacks import HOOK_BUNDLE, LOG_ACTIONS, log_group_name
from lambda_vpc_rules.tooling.packaging import (
    CONFORMANCE_PACK_LIMIT,
    PERIODS,
    RDK_RUNTIME,
    RDKLIB_VERSION,
    TEMPLATE_BODY_LIMIT,
    TEMPLATES_DIR,
    build_bundles,
    generated_files,
    layout_path,
    pack_parameter_name,
    rule_actions,
    template_text,
    templates,
)
from lambda_vpc_rules.tooling.remediation_documents import PLANNER_LOG_GROUP

PACK = yaml.safe_load((TEMPLATES_DIR / "conformance-pack.yaml").read_text())
IAM = yaml.safe_load((TEMPLATES_DIR / "account-iam.yaml").read_text())
FUNCTIONS = yaml.safe_load((TEMPLATES_DIR / "account-functions.yaml").read_text())
# CloudFormation quotas (AWS CloudFormation User Guide, "CloudFormation quotas"): parameters and resources per template
MAX_PARAMETERS, MAX_RESOURCES = 200, 500


@pytest.mark.parametrize("path", sorted(generated_files()))
def test_committed_file_is_the_generated_one(path):
    assert (ROOT / path).read_text() == generated_files()[path], f"{path} is stale: run `make generate`"


@pytest.mark.parametrize("path", [*(f"src/lambda_vpc_rules/templates/{name}" for name in sorted(templates())),
                                  *(layout_path(name) for name in sorted(templates()))])
def test_cfn_lint_passes(path):
    from cfnlint.api import lint_file

    assert [str(match) for match in lint_file(ROOT / path)] == []


@pytest.mark.parametrize("name", sorted(templates()))
def test_the_designs_layout_holds_what_deploy_sends(name):
    """`conformance-pack.yaml` at the top and the account and StackSet templates in `rdk_config/`, as the design
    names them: byte for byte the package data deploy reads and sends (`template_text`)."""
    top = ROOT / layout_path(name)
    assert layout_path(name) == ("conformance-pack.yaml" if name == "conformance-pack.yaml" else f"rdk_config/{name}")
    assert top.read_bytes() == (TEMPLATES_DIR / name).read_bytes() == template_text(name).encode()


@pytest.mark.parametrize("name", sorted(templates()))
def test_templates_are_package_data_within_aws_limits(name):
    """deploy sends these files as they are (TemplateBody, or the pack from S3): within CloudFormation's and AWS
    Config's 51,200 bytes, 200 parameters and 500 resources, and shipped with the package."""
    import tomllib

    text = (TEMPLATES_DIR / name).read_bytes()
    assert len(text) <= min(TEMPLATE_BODY_LIMIT, CONFORMANCE_PACK_LIMIT)
    template = yaml.safe_load(text)
    assert len(template.get("Parameters", {})) <= MAX_PARAMETERS and len(template["Resources"]) <= MAX_RESOURCES
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "templates/*.yaml" in package_data["lambda_vpc_rules"]


# ------------------------------------------------------------------------------------------ RDK


@pytest.fixture(scope="module")
def rdk_template(tmp_path_factory):
    """RDK's own reading of the rule folders: `rdk create-rule-template --all` run in rules/."""
    out = tmp_path_factory.mktemp("rdk") / "template.json"
    rdk = [sys.executable, "-c", "from rdk.cli import main; main()"]
    result = subprocess.run([*rdk, "create-rule-template", "--all", "--rules-only", "-o", str(out)],
                            cwd=ROOT / "rules", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_rdk_reads_each_rule_folder(rdk_template, rule):
    resource = rdk_template["Resources"][rule.rdk_name.replace("_", "") + "ConfigRule"]["Properties"]
    assert resource["Source"]["SourceIdentifier"]["Fn::Sub"].endswith(f":function:{rule.function_name}")
    assert resource["Scope"]["ComplianceResourceTypes"] == list(rule.scope)
    defaults = {name: spec["Default"] for name, spec in rdk_template["Parameters"].items() if "Default" in spec}
    for parameter in rule.parameters:
        assert defaults[rule.rdk_name.replace("_", "") + parameter.name] == parameter.default


def test_rdk_accepts_runtime_resource_types_and_period():
    from rdk import rdk

    runtimes = next(a for a in rdk.get_rule_parser(False, "create")._actions if a.dest == "runtime").choices
    assert RDK_RUNTIME in runtimes
    for rule in RULES:
        assert set(rule.scope) <= set(rdk.accepted_resource_types)
        parameters = json.loads((ROOT / "rules" / rule.rdk_name / "parameters.json").read_text())["Parameters"]
        assert parameters["SourcePeriodic"] in PERIODS


# ------------------------------------------------------------------------------------------ conformance pack


def test_conformance_pack_runs_in_any_account_with_the_functions_own_role():
    """One template and one set of input parameters for every account: no account ID among the parameters."""
    from lambda_vpc_rules.tooling.remediation_documents import pack_parameters

    assert set(PACK["Parameters"]) == {"MaximumExecutionFrequency", "ExceptionsRegister", "ScpChains"} | {
        pack_parameter_name(rule, p.name) for rule in RULES for p in rule.parameters} | set(pack_parameters())
    assert PACK["Parameters"]["ExceptionsRegister"]["Default"] == ""  # no register unless one is published
    assert PACK["Parameters"]["ScpChains"]["Default"] == ""  # SCPs not considered unless chains are published


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_conformance_pack_rule(rule):
    properties = PACK["Resources"][rule.logical_id]["Properties"]
    assert properties["ConfigRuleName"] == rule.config_rule_name
    assert properties["Source"]["Owner"] == "CUSTOM_LAMBDA"
    assert "${AWS::Region}:${AWS::AccountId}:function:" in properties["Source"]["SourceIdentifier"]["Fn::Sub"]
    assert properties["InputParameters"]["AssumeRoleMode"] == "false"
    assert properties["InputParameters"]["ExceptionsRegister"] == {"Ref": "ExceptionsRegister"}
    # the published SCP chains: only the ENI rule judges IAM, so only it reads them (docs/scp.md)
    assert properties["InputParameters"].get("ScpChains") == (
        {"Ref": "ScpChains"} if rule.config_rule_name == "lambda-vpc-eni-permissions" else None)
    assert properties["Source"]["SourceIdentifier"]["Fn::Sub"].endswith(f":function:{rule.function_name}")
    triggers = {detail["MessageType"] for detail in properties["Source"]["SourceDetails"]}
    assert triggers == {"ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification",
                        "ScheduledNotification"}
    assert properties["Scope"]["ComplianceResourceTypes"] == list(rule.scope)
    # every rule parameter, with the default of parameters.json
    rdk = json.loads((ROOT / "rules" / rule.rdk_name / "parameters.json").read_text())["Parameters"]
    for name, default in json.loads(rdk["OptionalParameters"]).items():
        # the pack-wide locations (register, SCP chains) are one pack parameter for every rule
        pack_name = name if name in ("ExceptionsRegister", "ScpChains") else pack_parameter_name(rule, name)
        assert properties["InputParameters"][name] == {"Ref": pack_name}
        assert PACK["Parameters"][pack_name]["Default"] == default
    assert "ExceptionsRegister" in json.loads(rdk["OptionalParameters"])  # an RDK deployment can name a register too


def test_pack_functions_are_the_functions_stacks():
    from lambda_vpc_rules.hook.template import FUNCTION_NAME as HOOK_FUNCTION
    from lambda_vpc_rules.tooling.remediation_documents import PLANNER_FUNCTION

    functions = [r for r in FUNCTIONS["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    names = {r["Properties"]["FunctionName"] for r in functions if "Condition" not in r}
    assert names == {rule.function_name for rule in RULES} | {PLANNER_FUNCTION}
    assert [r["Properties"]["FunctionName"] for r in functions if "Condition" in r] == [HOOK_FUNCTION]  # --hook


# ------------------------------------------------------------------------------------------ stacks


def test_the_role_grants_exactly_the_rule_actions_and_its_own_logs():
    role = IAM["Resources"]["EvaluatorRole"]  # (the others: optional policies, the remediation documents' role)
    # the exceptions register's bucket, read only when one is named (condition ReadsRegister)
    register = IAM["Resources"]["ExceptionsRegisterRead"]
    assert register["Condition"] == "ReadsRegister" and register["Properties"]["Roles"] == [{"Ref": "EvaluatorRole"}]
    assert register["Properties"]["PolicyDocument"]["Statement"] == [{
        "Sid": "ExceptionsRegister", "Effect": "Allow", "Action": ["s3:GetObject"],
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ExceptionsRegisterBucket}/*"}}]
    # likewise the published SCP chains' bucket (condition ReadsScpChains, parameter ScpChainsBucket)
    scps = IAM["Resources"]["ScpChainsRead"]
    assert scps["Condition"] == "ReadsScpChains" and scps["Properties"]["Roles"] == [{"Ref": "EvaluatorRole"}]
    assert scps["Properties"]["PolicyDocument"]["Statement"] == [{
        "Sid": "ScpChains", "Effect": "Allow", "Action": ["s3:GetObject"],
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ScpChainsBucket}/*"}}]
    policies = {p["PolicyName"]: p["PolicyDocument"]["Statement"] for p in role["Properties"]["Policies"]}
    [read] = policies["read-and-report"]
    assert set(read["Action"]) == set(rule_actions()) and read["Resource"] == "*"
    writes = {a for a in rule_actions() if not a.split(":")[1].startswith(("Describe", "Get", "List", "Select"))}
    assert writes == {"config:PutEvaluations"}
    [logs] = policies["write-logs"]
    assert set(logs["Action"]) == set(LOG_ACTIONS)
    assert [r["Fn::Sub"] for r in logs["Resource"]] == [
        f"arn:${{AWS::Partition}}:logs:*:${{AWS::AccountId}}:log-group:{name}:*"
        for name in [*map(log_group_name, RULES), PLANNER_LOG_GROUP]]  # the planner runs with this role too
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]
    assert "ManagedPolicyArns" not in role["Properties"]  # nothing beyond these policies
    # with a snapshot location only: put under this account's own folder of one prefix, sign with one key
    put, sign = IAM["Resources"]["SnapshotWriterPolicy"], IAM["Resources"]["SnapshotSignerPolicy"]
    assert (put["Condition"], sign["Condition"]) == ("WriteSnapshots", "WriteSignedSnapshots")
    [put], [sign] = put["Properties"]["PolicyDocument"]["Statement"], sign["Properties"]["PolicyDocument"]["Statement"]
    assert put["Action"] == ["s3:PutObject"] and sign["Action"] == ["kms:Sign"]
    assert put["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${SnapshotBucket}/${SnapshotPrefix}"
                                          "${AWS::AccountId}/*"}


@pytest.mark.parametrize("name", sorted(templates()))
def test_every_service_role_trusts_its_service_for_its_own_account_only(name):
    """Cross-service confused deputy prevention (IAM User Guide; AWS Config developer guide): each service role's
    trust names aws:SourceAccount, the account the role is in - the aggregator's role and the reconciler's too."""
    roles = [(logical, r) for logical, r in templates()[name]["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    for logical, role in roles:
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            assert set(statement["Principal"]) == {"Service"}, logical
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}, logical


def test_config_may_invoke_only_from_its_own_account():
    """One statement per function, for AWS Config of the account the function is in: the resource policy does not
    grow with the organization (Lambda caps it at 20 KB)."""
    permissions = [r["Properties"] for r in FUNCTIONS["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
    assert len(permissions) == len(RULES)
    for permission in permissions:
        assert permission["Principal"] == "config.amazonaws.com"
        assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_functions_use_the_accounts_role_their_log_group_and_optional_signing():
    for rule in RULES:
        resources = FUNCTIONS["Resources"]
        function = resources[f"{rule.logical_id}Function"]["Properties"]
        assert function["Role"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${RoleName}"}
        assert function["CodeSigningConfigArn"]["Fn::If"][0] == "Signing"
        log_group = resources[f"{rule.logical_id}LogGroup"]["Properties"]
        assert log_group == {"LogGroupName": log_group_name(rule), "RetentionInDays": {"Ref": "LogRetentionInDays"}}
    signing = FUNCTIONS["Resources"]["CodeSigningConfig"]["Properties"]
    assert signing["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}


# ------------------------------------------------------------------------------------------ bundles


def test_bundles_are_reproducible_and_hold_handler_core_and_pinned_rdklib(tmp_path):
    first = build_bundles(tmp_path / "a")
    second = build_bundles(tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert first[-1].name == HOOK_BUNDLE  # after the rules' bundles: the hook's (test_the_hook_bundle_...)
    for rule, path in zip(RULES, first[:-1], strict=True):
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        assert archive.read(f"{rule.rdk_name}.py").decode() == (ROOT / "rules" / rule.rdk_name /
                                                                 f"{rule.rdk_name}.py").read_text()
        assert "lambda_vpc_rules/core/rules/eni_permissions.py" in names
        assert "lambda_vpc_rules/core/rules/eni_permissions.json" in names  # the rule's metadata beside it
        assert "rdklib/__init__.py" in names and "rdklib/util/service.py" in names
        metadata = archive.read(f"rdklib-{RDKLIB_VERSION}.dist-info/METADATA").decode()
        assert f"Version: {RDKLIB_VERSION}" in metadata
        assert {f"rdklib-{RDKLIB_VERSION}.dist-info/licenses/{n}" for n in ("LICENSE", "NOTICE")} <= set(names)
        assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "boto3/", "botocore/"))]


def test_rdklib_pin_is_the_packages():
    import tomllib

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"rdklib=={RDKLIB_VERSION}" in dependencies


def test_a_bundle_holds_exactly_what_its_handler_imports(tmp_path):
    """No tooling or outputs in a Lambda bundle, and nothing the handler needs left out: import the handler from
    the unzipped bundle alone and compare the package modules it loaded with the bundle's. The bundle also serves
    the remediation planner (`rdk.remediation`, remediation_documents.PLANNER_BUNDLE): imported too."""
    from lambda_vpc_rules.tooling.remediation_documents import PLANNER_BUNDLE

    rule = RULES[0]
    assert rule.rdk_name == PLANNER_BUNDLE
    [path] = [p for p in build_bundles(tmp_path / "dist") if p.stem == rule.rdk_name]
    unzipped = tmp_path / "bundle"
    zipfile.ZipFile(path).extractall(unzipped)
    script = (f"import sys; sys.path.insert(0, {str(unzipped)!r}); import {rule.rdk_name}, json; "
              "import lambda_vpc_rules.rdk.remediation; print(json.dumps("
              "sorted(m.__file__ for n, m in sys.modules.items() if n.startswith('lambda_vpc_rules'))));"
              "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('rich', 'moto'))))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded_json, others = run.stdout.splitlines()
    loaded = json.loads(loaded_json)
    assert json.loads(others) == []  # the CLI's terminal library and the test AWS stay out of the handler
    assert all(file.startswith(str(unzipped)) for file in loaded)
    bundled = {name for name in zipfile.ZipFile(path).namelist()
               if name.startswith("lambda_vpc_rules/") and name.endswith(".py")}
    assert {pathlib.Path(file).relative_to(unzipped).as_posix() for file in loaded} == bundled
    assert not [name for name in bundled if name.startswith(("lambda_vpc_rules/tooling/", "lambda_vpc_rules/outputs/"))]


# IAM quotas (IAM User Guide, "IAM and AWS STS quotas"): a role's inline policies together hold at most 10,240
# characters, white space not counted. Lambda quotas: a deployment package uploaded as a .zip holds at most
# 50 MB zipped and 250 MB unzipped. moto enforces neither.
ROLE_INLINE_POLICIES_LIMIT = 10_240
ZIPPED_LIMIT, UNZIPPED_LIMIT = 50 * 1024 * 1024, 250 * 1024 * 1024


def test_the_evaluator_role_fits_iams_inline_policy_quota():
    role = next(r for r in IAM["Resources"].values() if r["Type"] == "AWS::IAM::Role")
    policies = [*role["Properties"]["Policies"], IAM["Resources"]["ExceptionsRegisterRead"]["Properties"],
                IAM["Resources"]["ScpChainsRead"]["Properties"]]
    documents = [json.dumps(p["PolicyDocument"], separators=(",", ":")) for p in policies]
    size = sum(len("".join(d.split())) for d in documents)
    assert size <= ROLE_INLINE_POLICIES_LIMIT, size


@pytest.mark.parametrize("name", sorted(templates()))
def test_every_role_fits_iams_inline_policy_quota_with_every_optional_policy(name):
    """Every role of every template, with all its conditional AWS::IAM::Policy resources counted as if their
    settings were all given (snapshots, register, SCP chains, the hook's register): within 10,240 characters."""
    resources = yaml.safe_load((TEMPLATES_DIR / name).read_text())["Resources"]
    for logical, role in resources.items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        policies = list(role["Properties"].get("Policies") or [])
        policies += [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::Policy"
                     and {"Ref": logical} in r["Properties"].get("Roles", [])]
        documents = [json.dumps(p["PolicyDocument"], separators=(",", ":")) for p in policies]
        size = sum(len("".join(d.split())) for d in documents)
        assert size <= ROLE_INLINE_POLICIES_LIMIT, (name, logical, size)


def test_bundles_fit_lambdas_deployment_package_quota(tmp_path):
    for path in build_bundles(tmp_path):
        archive = zipfile.ZipFile(path)
        assert path.stat().st_size <= ZIPPED_LIMIT
        assert sum(info.file_size for info in archive.infolist()) <= UNZIPPED_LIMIT


def test_the_functions_stack_holds_the_alarms_and_the_on_failure_destination():
    """docs/control-health.md: per function an on-failure destination and a metric filter on its ERROR lines; per
    region alarms on the functions' Errors, Throttles and ERROR lines, notifying the topic named or one created."""
    from lambda_vpc_rules.tooling.deploy.stacks import ERROR_LINE_PATTERN, FAILURE_QUEUE_NAME

    resources = FUNCTIONS["Resources"]
    queue = resources["FailedInvocationsQueue"]
    assert queue["Type"] == "AWS::SQS::Queue" and queue["Properties"]["QueueName"] == FAILURE_QUEUE_NAME
    for rule in RULES:
        invoke = resources[f"{rule.logical_id}EventInvokeConfig"]
        assert invoke["Type"] == "AWS::Lambda::EventInvokeConfig"
        assert invoke["Properties"]["FunctionName"] == {"Ref": f"{rule.logical_id}Function"}
        assert invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}
        lines = resources[f"{rule.logical_id}ErrorLines"]["Properties"]
        assert lines["LogGroupName"] == {"Ref": f"{rule.logical_id}LogGroup"}
        assert lines["FilterPattern"] == ERROR_LINE_PATTERN
    topic = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
    for alarm, metric in (("FunctionErrorsAlarm", "Errors"), ("FunctionThrottlesAlarm", "Throttles")):
        properties = resources[alarm]["Properties"]
        assert properties["AlarmActions"] == [topic]
        functions = [q["MetricStat"]["Metric"] for q in properties["Metrics"] if "MetricStat" in q]
        assert {m["MetricName"] for m in functions} == {metric}
        assert [m["Dimensions"][0]["Value"] for m in functions] == [{"Ref": f"{r.logical_id}Function"} for r in RULES]
    assert resources["ErrorLinesAlarm"]["Properties"]["AlarmActions"] == [topic]
    assert resources["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    # the role may send the failed invocations' records to the queue, and nowhere else
    [statement] = next(p for p in IAM["Resources"]["EvaluatorRole"]["Properties"]["Policies"]
                       if p["PolicyName"] == "on-failure-destination")["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"]["Fn::Sub"].endswith(FAILURE_QUEUE_NAME)


def test_deploy_passes_the_alarm_topic_per_region():
    from lambda_vpc_rules.tooling.deploy.steps import Artifacts, DeployOptions, functions_parameters

    artifacts = Artifacts("p/", {"eu-west-1": "p/"})
    named = DeployOptions("b-{region}", alarm_topic="arn:aws:sns:{region}:111122223333:ops")
    assert functions_parameters(named, "eu-west-1", artifacts)["AlarmTopicArn"] == \
        "arn:aws:sns:eu-west-1:111122223333:ops"
    assert functions_parameters(DeployOptions("b"), "eu-west-1", artifacts)["AlarmTopicArn"] == ""


def test_the_hook_bundle_holds_exactly_what_its_handler_imports(tmp_path):
    """The CloudFormation hook's bundle (packaging.HOOK_PARTS): import its handler from the unzipped bundle alone and
    compare the package modules it loaded with the bundle's. Neither rdklib nor cfn-lint nor the SAM translator is
    imported (the deployed hook judges resources CloudFormation sends resolved and transformed), and none is in it."""
    from lambda_vpc_rules.tooling.packaging import build_hook_bundle

    path = build_hook_bundle(tmp_path / "dist")
    assert path.name == HOOK_BUNDLE
    unzipped = tmp_path / "bundle"
    zipfile.ZipFile(path).extractall(unzipped)
    script = (f"import sys; sys.path.insert(0, {str(unzipped)!r}); import json, lambda_vpc_rules.hook.handler; "
              "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
              "if n.startswith('lambda_vpc_rules'))));"
              "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules} & "
              "{'rdklib', 'cfnlint', 'samtranslator', 'yaml', 'rich', 'moto'})))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded_json, others = run.stdout.splitlines()
    assert json.loads(others) == []
    loaded = json.loads(loaded_json)
    assert all(file.startswith(str(unzipped)) for file in loaded)
    names = zipfile.ZipFile(path).namelist()
    bundled = {name for name in names if name.endswith(".py")}
    assert {pathlib.Path(file).relative_to(unzipped).as_posix() for file in loaded} == bundled
    assert all(name.startswith("lambda_vpc_rules/") for name in names)
    assert "lambda_vpc_rules/core/rules/eni_permissions.json" in names  # the rules' metadata, as in a rule bundle
    assert path.stat().st_size <= ZIPPED_LIMIT


def test_the_functions_stack_holds_the_hook_only_with_a_failure_mode():
    """deploy --hook FAIL|WARN: the hook/template.py resources in the regional functions stack (so StackSets carry
    them across an organization), each under the condition HookFailureMode != ""; the hook's code pinned to the
    version deploy proved, and signed as the rules' code is."""
    from lambda_vpc_rules.hook.template import hook_resources

    resources = FUNCTIONS["Resources"]
    hooked = {name for name, resource in resources.items() if resource.get("Condition") == "Hook"}
    assert hooked == set(hook_resources("FAIL", {}, "{}"))
    assert FUNCTIONS["Parameters"]["HookFailureMode"]["AllowedValues"] == ["", "FAIL", "WARN"]
    assert FUNCTIONS["Parameters"]["HookFailureMode"]["Default"] == ""
    assert FUNCTIONS["Conditions"]["Hook"] == {"Fn::Not": [{"Fn::Equals": ["", {"Ref": "HookFailureMode"}]}]}
    hook = resources["LambdaVpcRulesHook"]
    assert hook["Type"] == "AWS::CloudFormation::LambdaHook"
    assert hook["Properties"]["FailureMode"] == {"Ref": "HookFailureMode"}
    function = resources["HookFunction"]["Properties"]
    assert function["Code"] == {"S3Bucket": {"Ref": "CodeBucket"},
                                "S3Key": {"Fn::Sub": "${CodeKeyPrefix}" + HOOK_BUNDLE},
                                "S3ObjectVersion": {"Fn::If": ["PinHookVersion", {"Ref": "HookCodeObjectVersion"},
                                                               {"Ref": "AWS::NoValue"}]}}
    assert function["CodeSigningConfigArn"]["Fn::If"][0] == "Signing"
    assert function["Environment"]["Variables"]["RULE_PARAMETERS"] == {"Ref": "HookRuleParameters"}


def test_the_hook_reads_the_exceptions_register_on_its_bucket_only():
    from lambda_vpc_rules.tooling.deploy.steps import DeployOptions, hook_parameters

    policy = FUNCTIONS["Resources"]["HookRegisterRead"]
    assert policy["Condition"] == "HookReadsRegister" and policy["Properties"]["Roles"] == [{"Ref": "HookFunctionRole"}]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["s3:GetObject"]
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${HookRegisterBucket}/*"}
    options = DeployOptions(bucket="b", hook="FAIL", pack_parameters={"ExceptionsRegister": "s3://reg/r.json"})
    parameters = hook_parameters(options, {})
    assert parameters["HookRegisterBucket"] == "reg"
    assert json.loads(parameters["HookRuleParameters"]) == {"ExceptionsRegister": "s3://reg/r.json"}
    assert hook_parameters(DeployOptions(bucket="b"), {})["HookRegisterBucket"] == ""  # no hook: no grant
