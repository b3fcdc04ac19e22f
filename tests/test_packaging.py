"""What deploys: generated files equal the committed ones, RDK reads the rule folders, cfn-lint passes the
templates, the conformance pack exposes every rule parameter, and each bundle is self-contained."""

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
from lambda_vpc_rules.tooling.packaging import (
    CONFORMANCE_PACK_LIMIT,
    PERIODS,
    RDK_RUNTIME,
    build_bundles,
    generated_files,
    pack_parameter_name,
    rule_actions,
)

PACK = yaml.safe_load((ROOT / "conformance-pack.yaml").read_text())
CENTRAL = yaml.safe_load((ROOT / "rdk_config/central-account.yaml").read_text())
MEMBER = yaml.safe_load((ROOT / "rdk_config/member-account-role.yaml").read_text())


@pytest.mark.parametrize("path", sorted(generated_files()))
def test_committed_file_is_the_generated_one(path):
    assert (ROOT / path).read_text() == generated_files()[path], f"{path} is stale: run `make generate`"


@pytest.mark.parametrize(
    "path", ["conformance-pack.yaml", "rdk_config/central-account.yaml", "rdk_config/member-account-role.yaml"]
)
def test_cfn_lint_passes(path):
    from cfnlint.api import lint_file

    assert [str(match) for match in lint_file(ROOT / path)] == []


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


def test_conformance_pack_fits_the_inline_limit():
    assert len((ROOT / "conformance-pack.yaml").read_bytes()) <= CONFORMANCE_PACK_LIMIT


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_conformance_pack_rule(rule):
    properties = PACK["Resources"][rule.logical_id]["Properties"]
    assert properties["ConfigRuleName"] == rule.config_rule_name
    assert properties["Source"]["Owner"] == "CUSTOM_LAMBDA"
    assert "${LambdaAccountId}" in properties["Source"]["SourceIdentifier"]["Fn::Sub"]
    assert properties["Source"]["SourceIdentifier"]["Fn::Sub"].endswith(f":function:{rule.function_name}")
    triggers = {detail["MessageType"] for detail in properties["Source"]["SourceDetails"]}
    assert triggers == {"ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification",
                        "ScheduledNotification"}
    assert properties["Scope"]["ComplianceResourceTypes"] == list(rule.scope)
    # every rule parameter, with the default of parameters.json
    rdk = json.loads((ROOT / "rules" / rule.rdk_name / "parameters.json").read_text())["Parameters"]
    for name, default in json.loads(rdk["OptionalParameters"]).items():
        assert properties["InputParameters"][name] == {"Ref": pack_parameter_name(rule, name)}
        assert PACK["Parameters"][pack_parameter_name(rule, name)]["Default"] == default


def test_pack_functions_are_the_central_stacks():
    names = {r["Properties"]["FunctionName"] for r in CENTRAL["Resources"].values()
             if r["Type"] == "AWS::Lambda::Function"}
    assert names == {rule.function_name for rule in RULES}


# ------------------------------------------------------------------------------------------ rdk_config


def _policy_actions(role: dict) -> set[str]:
    [policy] = [p for p in role["Properties"]["Policies"] if p["PolicyName"] == "read-and-report"]
    return {action for statement in policy["PolicyDocument"]["Statement"] for action in statement["Action"]}


def test_member_and_central_roles_grant_exactly_the_rule_actions():
    assert _policy_actions(MEMBER["Resources"]["MemberRole"]) == set(rule_actions())
    assert _policy_actions(CENTRAL["Resources"]["FunctionRole"]) == set(rule_actions())
    writes = {a for a in rule_actions() if not a.split(":")[1].startswith(("Describe", "Get", "List", "Select"))}
    assert writes == {"config:PutEvaluations"}


def test_member_role_trusts_only_the_central_function_role():
    [statement] = MEMBER["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${CentralAccountId}:role/${FunctionRoleName}"}
    }


def test_config_may_invoke_only_from_the_accounts_it_is_granted():
    permissions = [r["Properties"] for r in CENTRAL["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
    assert len(permissions) == len(RULES)
    for permission in permissions:
        assert permission["Principal"] == "config.amazonaws.com"
        assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


# ------------------------------------------------------------------------------------------ bundles


def test_bundles_are_reproducible_and_hold_handler_and_core(tmp_path):
    first = build_bundles(ROOT, tmp_path / "a")
    second = build_bundles(ROOT, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    for rule, path in zip(RULES, first, strict=True):
        names = zipfile.ZipFile(path).namelist()
        assert f"{rule.rdk_name}.py" in names
        assert "lambda_vpc_rules/core/rules/eni_permissions.py" in names
        assert "lambda_vpc_rules/core/rules/eni_permissions.json" in names  # the rule's metadata beside it
        assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "rdklib/", "boto3/"))]


def test_a_bundle_holds_exactly_what_its_handler_imports(tmp_path):
    """No tooling or outputs in a Lambda bundle, and nothing the handler needs left out: import the handler from
    the unzipped bundle alone and compare the package modules it loaded with the bundle's."""
    rule = RULES[0]
    [path] = [p for p in build_bundles(ROOT, tmp_path / "dist") if p.stem == rule.rdk_name]
    unzipped = tmp_path / "bundle"
    zipfile.ZipFile(path).extractall(unzipped)
    script = (f"import sys; sys.path.insert(0, {str(unzipped)!r}); import {rule.rdk_name}, json; print(json.dumps("
              "sorted(m.__file__ for n, m in sys.modules.items() if n.startswith('lambda_vpc_rules'))))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    assert all(file.startswith(str(unzipped)) for file in loaded)
    bundled = {name for name in zipfile.ZipFile(path).namelist() if name.endswith(".py") and "/" in name}
    assert {pathlib.Path(file).relative_to(unzipped).as_posix() for file in loaded} == bundled
    assert not [name for name in bundled if name.startswith(("lambda_vpc_rules/tooling/", "lambda_vpc_rules/outputs/"))]
