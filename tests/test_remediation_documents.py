"""The pack's SSM Automation documents and the conformance pack's RemediationConfiguration.

moto has no Automation engine (no StartAutomationExecution in moto 5.2.5), so each document is checked against
the Automation schema as AWS documents it, and then run here step by step (`run_document`, which does only
what each action is documented to do): the planner step calls the pack's planner (`rdk.remediation`) in
process, the script step runs the document's own script text, and every aws:executeAwsApi step calls moto's
IAM, Lambda or EC2 with the inputs as the document writes them (botocore validates each request). After the
run the pack's rules judge the function again.

Sources: "Systems Manager Automation actions reference" (action names, inputs), "Using action outputs as inputs"
(output Name, Selector, Type), "aws:executeScript" (runtimes), "aws:branch" (Choices, Default),
"AWS::Config::RemediationConfiguration" (properties and limits).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from unittest import mock

import boto3
import botocore.session
import jsonschema
import pytest
import yaml
from botocore import xform_name
from jsonpath_ng import parse as jsonpath
from moto import mock_aws

from aws_support import Estate, build_network
from conftest import FAKE_ENVIRONMENT, REGION
from lambda_vpc_rules.aws.account import scan_session
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.core.remediation import ENI, IPV6, MULTI_AZ, PRIVATE, REMEDIABLE_RULES, TENANCY, document_name
from lambda_vpc_rules.core.rules import get_rule
from lambda_vpc_rules.rdk.remediation import plan_one
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers
from lambda_vpc_rules.tooling.packaging import TEMPLATES_DIR
from lambda_vpc_rules.tooling.remediation_documents import (
    CONFIG_REMEDIATED,
    PLANNER_FUNCTION,
    automatic_parameter,
    document,
    read_plan,
    remediation_pack_parameters,
)

ACTIONS = (  # "Systems Manager Automation actions reference"
    "aws:approve", "aws:assertAwsResourceProperty", "aws:branch", "aws:changeInstanceState", "aws:copyImage",
    "aws:createImage", "aws:createStack", "aws:createTags", "aws:deleteImage", "aws:deleteStack",
    "aws:executeAutomation", "aws:executeAwsApi", "aws:executeScript", "aws:executeStateMachine",
    "aws:invokeLambdaFunction", "aws:invokeWebhook", "aws:loop", "aws:pause", "aws:runCommand",
    "aws:runInstances", "aws:sleep", "aws:updateVariable", "aws:waitForAwsResourceProperty",
)
TYPES = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
SCRIPT_RUNTIMES = ("python3.8", "python3.9", "python3.10", "python3.11", "PowerShell 7.0", "PowerShell 7.4")
REQUIRED_INPUTS = {"aws:executeAwsApi": ["Service", "Api"], "aws:executeScript": ["Runtime", "Handler"],
                   "aws:invokeLambdaFunction": ["FunctionName"], "aws:branch": ["Choices"], "aws:sleep": ["Duration"]}
# Predefined outputs an action has without an `outputs` section
PREDEFINED = {"aws:invokeLambdaFunction": ("StatusCode", "FunctionError", "LogResult", "ExecutedVersion", "Payload")}
AUTOMATION_SCHEMA = {
    "type": "object",
    "required": ["schemaVersion", "mainSteps"],
    "additionalProperties": False,
    "properties": {
        "schemaVersion": {"const": "0.3"},
        "description": {"type": "string"},
        "assumeRole": {"type": "string"},
        "outputs": {"type": "array", "items": {"type": "string", "pattern": r"^\w+\.\w+$"}},
        "parameters": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["type"],
            "properties": {"type": {"enum": list(TYPES)}, "description": {"type": "string"},
                           "allowedPattern": {"type": "string"}, "minItems": {"type": "integer"},
                           "default": {}},
            "additionalProperties": False}},
        "mainSteps": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "action", "inputs"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-zA-Z0-9_]{1,128}$"},
                "action": {"enum": list(ACTIONS)},
                "inputs": {"type": "object"},
                "onFailure": {"type": "string", "pattern": r"^(Abort|Continue|step:\w+)$"},
                "isEnd": {"type": "boolean"},
                "timeoutSeconds": {"type": "integer", "minimum": 1},
                "outputs": {"type": "array", "items": {
                    "type": "object", "required": ["Name", "Selector"], "additionalProperties": False,
                    "properties": {"Name": {"type": "string"}, "Selector": {"type": "string", "pattern": r"^\$"},
                                   "Type": {"enum": list(TYPES)}}}},
            },
            "allOf": [{"if": {"properties": {"action": {"const": action}}},
                       "then": {"properties": {"inputs": {"required": required}}}}
                      for action, required in REQUIRED_INPUTS.items()],
        }},
    },
}
REFERENCE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


# ------------------------------------------------------------------------------------------ the documents


@pytest.mark.parametrize("rule", REMEDIABLE_RULES)
def test_each_document_follows_the_automation_schema(rule):
    content = document(rule)
    jsonschema.validate(content, AUTOMATION_SCHEMA)
    import cfnlint.data.schemas.other.ssm as cfn_lint_ssm  # cfn-lint's own schema of SSM documents (E3051)

    with open(os.path.join(os.path.dirname(cfn_lint_ssm.__file__), "document.json")) as handle:
        jsonschema.validate(content, json.load(handle))
    steps = content["mainSteps"]
    names = [step["name"] for step in steps]
    assert len(names) == len(set(names))
    known = set(content["parameters"])
    for step in steps:
        text = json.dumps(step["inputs"])
        for reference in REFERENCE.findall(text):
            assert reference in known, (step["name"], reference)  # a parameter, or an earlier step's output
        known |= {f"{step['name']}.{output['Name']}" for output in step.get("outputs", ())}
        known |= {f"{step['name']}.{name}" for name in PREDEFINED.get(step["action"], ())}
        if step["action"] == "aws:branch":
            targets = [choice["NextStep"] for choice in step["inputs"]["Choices"]] + [step["inputs"]["Default"]]
            assert set(targets) <= set(names) and all(names.index(t) > names.index(step["name"]) for t in targets)
        if step["action"] == "aws:executeScript":
            assert step["inputs"]["Runtime"] in SCRIPT_RUNTIMES
            scope: dict[str, Any] = {}
            exec(compile(step["inputs"]["Script"], step["name"], "exec"), scope)  # it compiles and defines Handler
            assert callable(scope[step["inputs"]["Handler"]])
        if step["action"] == "aws:executeAwsApi":
            model = botocore.session.get_session().get_service_model(step["inputs"]["Service"])
            assert step["inputs"]["Api"] in model.operation_names
        if step["action"] == "aws:invokeLambdaFunction":
            assert step["inputs"]["FunctionName"] == PLANNER_FUNCTION
    for output in content["outputs"]:
        assert output in known
    ends = [step["name"] for step in steps if step.get("isEnd")]
    assert steps[-1].get("isEnd") and "Apply" in ends  # nothing falls through past the change
    assert content["assumeRole"] == "{{AutomationAssumeRole}}"
    # the subnet documents cannot run without the operator's choice: no default
    assert ("SubnetIds" in content["parameters"]) == (rule in (PRIVATE, MULTI_AZ))
    if "SubnetIds" in content["parameters"]:
        assert "default" not in content["parameters"]["SubnetIds"]


def test_the_templates_carry_the_generated_documents_and_planner():
    functions = yaml.safe_load((TEMPLATES_DIR / "account-functions.yaml").read_text())
    documents = {r["Properties"]["Name"]: r["Properties"] for r in functions["Resources"].values()
                 if r["Type"] == "AWS::SSM::Document"}
    assert set(documents) == {document_name(rule) for rule in REMEDIABLE_RULES}
    for rule in REMEDIABLE_RULES:
        assert documents[document_name(rule)]["Content"] == document(rule)
        assert documents[document_name(rule)]["DocumentType"] == "Automation"
    iam = yaml.safe_load((TEMPLATES_DIR / "account-iam.yaml").read_text())
    role = iam["Resources"]["RemediationRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    granted = {statement["Action"] if isinstance(statement["Action"], str) else a
               for statement in statements for a in ([statement["Action"]] if isinstance(statement["Action"], str)
                                                     else statement["Action"])}
    # exactly what the documents' API steps call, and invoking the planner
    called = {f"{step['inputs']['Service']}:{step['inputs']['Api']}" for rule in REMEDIABLE_RULES
              for step in document(rule)["mainSteps"] if step["action"] == "aws:executeAwsApi"}
    assert granted == called | {"lambda:InvokeFunction"}
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ssm.amazonaws.com"}


def test_the_pack_attaches_remediation_manual_by_default_bounded_and_with_retries_stated():
    pack = yaml.safe_load((TEMPLATES_DIR / "conformance-pack.yaml").read_text())
    configurations = {r["Properties"]["ConfigRuleName"]: r["Properties"] for r in pack["Resources"].values()
                      if r["Type"] == "AWS::Config::RemediationConfiguration"}
    assert set(configurations) == set(CONFIG_REMEDIATED) == {ENI, IPV6, TENANCY}
    for rule, properties in configurations.items():
        assert properties["TargetType"] == "SSM_DOCUMENT" and properties["TargetId"] == document_name(rule)
        assert properties["ResourceType"] == "AWS::Lambda::Function"  # never a subnet, role or route table
        controls = properties["ExecutionControls"]["SsmControls"]
        assert 1 <= controls["ConcurrentExecutionRatePercentage"] <= 100 and 1 <= controls["ErrorPercentage"] <= 100
        assert controls["ConcurrentExecutionRatePercentage"] < 100 and controls["ErrorPercentage"] < 100
        assert 1 <= properties["MaximumAutomaticAttempts"] <= 25 and 1 <= properties["RetryAttemptSeconds"] <= 2_678_000
        assert properties["Parameters"]["FunctionName"] == {"ResourceValue": {"Value": "RESOURCE_ID"}}
        # the rule's own parameters reach the planner: every one, each the pack parameter the rule gets
        [text] = properties["Parameters"]["RuleParameters"]["StaticValue"]["Values"]
        rule_inputs = pack["Resources"][get_rule(rule).logical_id]["Properties"]["InputParameters"]
        # (but the published SCP chains: the planner plans role changes and does not judge SCPs, docs/scp.md)
        expected = {name: "${" + value["Ref"] + "}" for name, value in rule_inputs.items()
                    if isinstance(value, dict) and name != "ScpChains"}
        assert json.loads(text["Fn::Sub"] if expected else text) == expected
        if rule == TENANCY:
            assert properties["Automatic"] is False  # manual only: no parameter can turn it on
        else:
            assert properties["Automatic"] == {"Ref": automatic_parameter(rule)}
            assert pack["Parameters"][automatic_parameter(rule)]["Default"] == "false"
    assert remediation_pack_parameters([(ENI, "automatic")]) == {automatic_parameter(ENI): "true"}
    with pytest.raises(ValueError, match="only"):
        remediation_pack_parameters([(TENANCY, "automatic")])
    with pytest.raises(ValueError, match="expected automatic or manual"):
        remediation_pack_parameters([(ENI, "sometimes")])


# ------------------------------------------------------------------------------------------ running them


def _substitute(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole:
            return values[whole.group(1)]  # a whole reference keeps its type (StringList, Boolean)
        return REFERENCE.sub(lambda match: str(values[match.group(1)]), value)
    return value


def _select(answer: Any, selector: str, kind: str) -> Any:
    found = [match.value for match in jsonpath(selector).find(answer)]
    if kind == "StringList":
        return [str(item) for item in (found[0] if len(found) == 1 and isinstance(found[0], list) else found)]
    value = found[0] if found else None
    return bool(value) if kind == "Boolean" else value


def run_document(content: dict, parameters: dict[str, Any], clients: Clients) -> tuple[str, list[str], dict]:
    """Run an Automation document's steps as the actions reference describes them: (status, steps run, values)."""
    steps = content["mainSteps"]
    values = {name: parameters.get(name, spec.get("default")) for name, spec in content["parameters"].items()}
    index, ran = 0, []
    while True:
        step = steps[index]
        ran.append(step["name"])
        inputs = _substitute(step["inputs"], values)
        action, answer = step["action"], None
        next_step = None
        try:
            if action == "aws:invokeLambdaFunction":
                assert inputs["FunctionName"] == PLANNER_FUNCTION
                answer = {"Payload": json.dumps(plan_one(clients, inputs["InputPayload"])), "StatusCode": 200}
            elif action == "aws:executeScript":
                scope: dict[str, Any] = {}
                exec(inputs["Script"], scope)
                answer = {"Payload": scope[inputs["Handler"]](inputs["InputPayload"], None)}
            elif action == "aws:executeAwsApi":
                request = {k: v for k, v in inputs.items() if k not in ("Service", "Api")}
                answer = getattr(clients(inputs["Service"]), xform_name(inputs["Api"]))(**request)
            elif action == "aws:branch":
                chosen = [c["NextStep"] for c in inputs["Choices"] if c["Variable"] == c["BooleanEquals"]]
                next_step = chosen[0] if chosen else inputs["Default"]
            elif action != "aws:sleep":
                raise AssertionError(f"not run here: {action}")
        except Exception as error:  # noqa: BLE001 - onFailure Abort: the execution fails with the step's error
            return f"Failed: {step['name']}: {error}", ran, values
        for output in step.get("outputs", ()):
            kind = output.get("Type", "String")
            values[f"{step['name']}.{output['Name']}"] = _select(answer, output["Selector"], kind)
        for name in PREDEFINED.get(action, ()):
            values[f"{step['name']}.{name}"] = (answer or {}).get(name)
        if step.get("isEnd"):
            return "Success", ran, values
        index = [s["name"] for s in steps].index(next_step) if next_step else index + 1


@pytest.fixture(scope="module")
def account():
    """A small account in moto: one function per document, each NON_COMPLIANT under its rule."""
    with mock.patch.dict(os.environ, FAKE_ENVIRONMENT), mock_aws(), moto_as_aws_answers(), \
            mock.patch.dict("moto.ec2.utils.filter_dict_attribute_mapping", {"tenancy": "tenancy"}):
        # moto lacks DescribeInstances' documented `tenancy` filter (botocore's model lists it): added here
        session = boto3.Session(region_name=REGION)
        estate = Estate(session)
        ids = build_network(estate)
        legacy = estate.vpc("172.16.0.0/16", tenancy="dedicated")
        ids["dedicated"] = estate.subnet(legacy, "172.16.1.0/24")
        narrow = estate.role("narrow-role")
        estate.iam.put_role_policy(RoleName="narrow-role", PolicyName="describe", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}))
        estate.function("eni-fn", [ids["private-a"], ids["private-b"]], role=narrow)
        estate.function("ipv6-fn", [ids["dual-a"], ids["dual-b"]], ipv6=False)
        estate.function("tenancy-fn", [ids["dedicated"]])
        estate.function("public-fn", [ids["public"]])
        estate.function("one-az-fn", [ids["private-a"]])
        yield session, Clients(session_clients(session)), ids


def _verdict(session, rule, function):
    report = scan_session(session, [get_rule(rule)])
    return next(e.compliance.value for e in report.evaluations if e.resource_id == function)


ROLE = "arn:aws:iam::123456789012:role/lambda-vpc-rules-remediation"


@pytest.mark.parametrize("rule, function, subnets", [
    (ENI, "eni-fn", None), (IPV6, "ipv6-fn", None), (TENANCY, "tenancy-fn", None),
    (PRIVATE, "public-fn", ["private-a"]), (MULTI_AZ, "one-az-fn", ["private-a", "private-b"]),
])
def test_each_document_run_against_moto_makes_its_rule_compliant(account, rule, function, subnets):
    session, clients, ids = account
    assert _verdict(session, rule, function) == "NON_COMPLIANT"
    parameters = {"FunctionName": function, "AutomationAssumeRole": ROLE}
    if subnets:
        parameters["SubnetIds"] = [ids[name] for name in subnets]
    status, ran, values = run_document(document(rule), parameters, clients)
    assert status == "Success", status
    assert ran[-1] == "Apply" and "AlreadyCompliant" not in ran
    assert _verdict(session, rule, function) == "COMPLIANT"
    if rule == TENANCY:
        assert values["ListDedicatedInstances.UnchangedDedicatedInstances"] == []  # (moto launches none dedicated)
    # run again: nothing to do, nothing changes
    status, ran, _ = run_document(document(rule), parameters, clients)
    assert status == "Success" and ran[-1] == "AlreadyCompliant" and "Apply" not in ran


def test_a_document_refuses_a_choice_that_fails_and_changes_nothing(account):
    session, clients, ids = account
    estate = Estate(session)
    estate.function("still-public-fn", [ids["public"]], role="arn:aws:iam::123456789012:role/default-fn-role")
    status, ran, _ = run_document(document(PRIVATE), {"FunctionName": "still-public-fn", "AutomationAssumeRole": ROLE,
                                                      "SubnetIds": [ids["public"], ids["private-b"]]}, clients)
    assert status.startswith("Failed: ReadPlan: refused: with the chosen subnets the function fails")
    assert "Apply" not in ran
    configuration = clients("lambda").get_function_configuration(FunctionName="still-public-fn")
    assert configuration["VpcConfig"]["SubnetIds"] == [ids["public"]]


def test_the_planner_answers_errors_not_plans_for_bad_events(account):
    _, clients, _ = account
    assert plan_one(clients, {"rule": "nope", "function": "eni-fn"})["status"] == "error"
    assert "not found" in plan_one(clients, {"rule": ENI, "function": "missing-fn"})["summary"]
    bad = plan_one(clients, {"rule": ENI, "function": "eni-fn", "parameters": '{"MinAvailabilityZones": "2"}'})
    assert bad["status"] == "error" and "MinAvailabilityZones" in bad["summary"]
    assert plan_one(clients, {"rule": ENI, "function": "eni-fn", "parameters": "[]"})["status"] == "error"


def test_the_read_plan_script_fails_on_a_refusal_or_a_planner_error():
    with pytest.raises(Exception, match="refused: because"):
        read_plan({"Payload": json.dumps({"status": "refused", "summary": "because"})}, None)
    with pytest.raises(Exception, match="the planner failed"):
        read_plan({"Payload": '{"errorMessage": "Task timed out"}'}, None)
    assert read_plan({"Payload": json.dumps({"status": "compliant", "summary": "ok"})}, None)["Proceed"] is False


def test_the_planner_reads_only_what_the_rules_role_grants(account):
    """The planner function runs with the rules' role: every call it makes is one of `rule_actions()`."""
    from aws_support import CallRecorder
    from lambda_vpc_rules.rdk.remediation import plan_one
    from lambda_vpc_rules.tooling.packaging import rule_actions

    session = boto3.Session(region_name=REGION)
    recorder = CallRecorder().install(session)
    answer = plan_one(Clients(session_clients(session)), {"rule": PRIVATE, "function": "public-fn", "subnets": []})
    assert answer["status"] in ("proposed", "compliant")
    assert recorder.actions - {"sts:GetCallerIdentity"} <= set(rule_actions())
    assert recorder.actions


def test_the_planner_honours_the_exceptions_register_the_pack_passes(account):
    """The documents pass the pack's ExceptionsRegister with the rule's parameters: an excepted function gets no
    plan, an unusable register an error, never a plan."""
    import datetime as dt

    session, clients, ids = account
    # a function of its own (the module's documents may have fixed eni-fn already), its role allowed Describe only
    estate = Estate(session)
    role = estate.role("excepted-role")
    estate.iam.put_role_policy(RoleName="excepted-role", PolicyName="describe", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}))
    estate.function("excepted-fn", [ids["private-a"], ids["private-b"]], role=role)
    today = dt.datetime.now(dt.UTC).date()
    register = {"version": "1", "exceptions": [{
        "id": "EX-9", "rules": [ENI], "scope": {"resources": ["excepted-fn"]}, "reason": "migration",
        "owner": "platform", "approver": "ciso", "ticket": "https://tickets.example.com/9",
        "approved": today.isoformat(), "expires": (today + dt.timedelta(days=10)).isoformat()}]}
    session.client("s3").create_bucket(Bucket="org-register")
    session.client("s3").put_object(Bucket="org-register", Key="register.json", Body=json.dumps(register))
    parameters = json.dumps({"ExceptionsRegister": "s3://org-register/register.json"})
    excepted = plan_one(clients, {"rule": ENI, "function": "excepted-fn", "parameters": parameters})
    assert excepted["status"] == "excepted", excepted
    assert plan_one(clients, {"rule": ENI, "function": "excepted-fn", "parameters": "{}"})["status"] == "planned"
    missing = plan_one(clients, {"rule": ENI, "function": "excepted-fn", "parameters": json.dumps(
        {"ExceptionsRegister": "s3://org-register/none.json"})})
    assert missing["status"] == "error" and "exceptions register" in missing["summary"]
