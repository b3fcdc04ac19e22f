"""The remediation part of the templates, generated from the rule registry like the rest (`make generate`):

- per rule, an SSM Automation document (schemaVersion 0.3) `LambdaVpcRules-<Rule>`, in the functions template
  (every account and region), with the function that plans for it (`lambda-vpc-rules-remediation-planner`);
- the documents' role (`lambda-vpc-rules-remediation`, AutomationAssumeRole), in the IAM template;
- per rule with a fix Config may run, an `AWS::Config::RemediationConfiguration` in the conformance pack:
  manual by default, bounded concurrency and errors, retries stated.

How a document gets the pack's logic: its first step invokes the planner function (aws:invokeLambdaFunction),
which runs the same bundle as the rules (`rdk.remediation`, over `core.remediation`): one copy of the logic,
signed and deployed with the rules, where an inline aws:executeScript would have to carry the IAM evaluator and
the rules (tens of kilobytes, over the template limit, and a second copy to keep equal). The planner only reads
(the rules' role); the change is made by the document's aws:executeAwsApi step with the documents' role, from
the planner's answer, which a short inline script (`read_plan`, Python, no pack logic) checks and unpacks.
"""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
from typing import Any

from ..aws.register import PARAMETER as REGISTER_PARAMETER
from ..core.remediation import (
    ENI,
    IPV6,
    MODES,
    MULTI_AZ,
    PRIVATE,
    REMEDIABLE_RULES,
    TENANCY,
    Mode,
    document_name,
)
from ..core.rules import get_rule

PLANNER_FUNCTION = "lambda-vpc-rules-remediation-planner"
PLANNER_LOG_GROUP = f"/aws/lambda/{PLANNER_FUNCTION}"  # the rules' role writes to it (stacks.iam_template)
PLANNER_HANDLER = "lambda_vpc_rules.rdk.remediation.lambda_handler"
PLANNER_BUNDLE = get_rule(ENI).rdk_name  # any rule's bundle holds the whole package; this one's is used
REMEDIATION_ROLE_NAME = "lambda-vpc-rules-remediation"
# IAM is global: each deployment names its own documents' role (the default deployment keeps this name), in the
# IAM template and in the pack that points the documents at it
REMEDIATION_ROLE_PARAMETER = "RemediationRoleName"
SCRIPT_RUNTIME = "python3.11"
# What Config does when a remediation is automatic (the pack's choice; AWS's defaults are 5 attempts, 10% at once,
# 50% errors): a failed fix is retried at most 3 times, 10 minutes apart; at most 10% of the rule's
# non-compliant resources are remediated at once and SSM stops after 10% errors.
MAXIMUM_AUTOMATIC_ATTEMPTS, RETRY_ATTEMPT_SECONDS = 3, 600
CONCURRENT_EXECUTION_RATE_PERCENTAGE, ERROR_PERCENTAGE = 10, 10
SUBNET_RULES = (PRIVATE, MULTI_AZ)
# The rules Config may remediate (the pack's RemediationConfiguration): the subnet rules need a choice per
# function, which a RemediationConfiguration's static parameters cannot carry; they run from the CLI or SSM.
CONFIG_REMEDIATED = tuple(rule for rule in REMEDIABLE_RULES if MODES[rule] is not Mode.OPERATOR_CHOICE)

# aws:executeAwsApi of the Apply step, per rule: (service, API, inputs from the ReadPlan outputs)
_VPC_CONFIG = {"SubnetIds": "{{ReadPlan.SubnetIds}}", "SecurityGroupIds": "{{ReadPlan.SecurityGroupIds}}",
               "Ipv6AllowedForDualStack": "{{ReadPlan.Ipv6AllowedForDualStack}}"}
APPLY = {
    ENI: ("iam", "PutRolePolicy", {"RoleName": "{{ReadPlan.RoleName}}", "PolicyName": "{{ReadPlan.PolicyName}}",
                                   "PolicyDocument": "{{ReadPlan.PolicyDocument}}"}),
    IPV6: ("lambda", "UpdateFunctionConfiguration", {"FunctionName": "{{FunctionName}}", "VpcConfig": _VPC_CONFIG}),
    TENANCY: ("ec2", "ModifyVpcTenancy", {"VpcId": "{{ReadPlan.VpcId}}", "InstanceTenancy": "default"}),
    PRIVATE: ("lambda", "UpdateFunctionConfiguration", {"FunctionName": "{{FunctionName}}", "VpcConfig": _VPC_CONFIG}),
    MULTI_AZ: ("lambda", "UpdateFunctionConfiguration", {"FunctionName": "{{FunctionName}}", "VpcConfig": _VPC_CONFIG}),
}
# The ReadPlan step's outputs per rule: name -> type (selector $.Payload.<name>)
_VPC_OUTPUTS = {"SubnetIds": "StringList", "SecurityGroupIds": "StringList", "Ipv6AllowedForDualStack": "Boolean"}
PLAN_OUTPUTS = {
    ENI: {"RoleName": "String", "PolicyName": "String", "PolicyDocument": "String"},
    IPV6: _VPC_OUTPUTS, TENANCY: {"VpcId": "String"}, PRIVATE: _VPC_OUTPUTS, MULTI_AZ: _VPC_OUTPUTS,
}
WHAT = {
    ENI: "attaches a least-privilege ENI policy, generated for the function, to its execution role (refuses when "
         "an explicit Deny or the permissions boundary blocks)",
    IPV6: "sets Ipv6AllowedForDualStack to what the function's subnets support",
    TENANCY: "changes the VPC's tenancy from dedicated to default (manual only; its dedicated instances keep "
             "their tenancy and are listed first)",
    PRIVATE: "moves the function to the subnets the operator chose, checked to be private with egress in its VPC",
    MULTI_AZ: "moves the function to the subnets the operator chose, checked to span enough zones of its VPC",
}


def read_plan(events, context):  # noqa: ANN001, ANN201 - the ReadPlan step's script: plain Python, as SSM runs it
    """The planner's answer, checked and unpacked: `Proceed` false when the function is already COMPLIANT;
    an error (the execution fails, a person looks) when the pack refuses or the planner failed."""
    import json

    answer = json.loads(events["Payload"]) if isinstance(events["Payload"], str) else events["Payload"]
    if not isinstance(answer, dict) or "status" not in answer:
        raise Exception(f"the planner failed: {str(answer)[:500]}")
    if answer["status"] == "compliant":
        return {"Proceed": False, "Summary": answer.get("summary", "")}
    if answer["status"] != "planned":
        raise Exception(f"{answer['status']}: {answer.get('summary', '')}")
    parameters = answer["calls"][0]["parameters"]
    out = {"Proceed": True, "Summary": answer["summary"]}
    out.update({key: value for key, value in parameters.items() if key != "VpcConfig"})
    vpc = parameters.get("VpcConfig")
    if vpc is not None:
        out.update(SubnetIds=vpc["SubnetIds"], SecurityGroupIds=vpc["SecurityGroupIds"],
                   Ipv6AllowedForDualStack=bool(vpc.get("Ipv6AllowedForDualStack", False)))
    return out


def read_plan_script() -> str:
    """`read_plan`'s source as the document carries it: without its docstring and comments."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(read_plan)))
    function = tree.body[0]
    function.body = function.body[1:]  # the docstring
    return ast.unparse(tree) + "\n"


def document(rule: str) -> dict[str, Any]:
    """The rule's SSM Automation document (schemaVersion 0.3)."""
    service, api, inputs = APPLY[rule]
    parameters: dict[str, Any] = {
        "FunctionName": {"type": "String", "description": "The Lambda function (AWS Config: RESOURCE_ID).",
                         "allowedPattern": r"^[a-zA-Z0-9_-]{1,64}$"},
        "AutomationAssumeRole": {"type": "String", "description": f"The steps' role ({REMEDIATION_ROLE_NAME}).",
                                 "allowedPattern": r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"},
        "RuleParameters": {"type": "String", "default": "{}",
                           "description": "The rule's parameters as AWS Config passes them (JSON object)."},
    }
    payload = {"rule": rule, "function": "{{FunctionName}}", "parameters": "{{RuleParameters}}"}
    if rule in SUBNET_RULES:
        parameters["SubnetIds"] = {"type": "StringList", "minItems": 1,
                                   "description": "The operator's choice of subnets (the CLI's dry run proposes "
                                   "them); checked against the rule before anything changes."}
        payload["subnets"] = "{{SubnetIds}}"
    steps: list[dict[str, Any]] = [
        {"name": "Plan", "action": "aws:invokeLambdaFunction", "onFailure": "Abort", "timeoutSeconds": 900,
         "inputs": {"FunctionName": PLANNER_FUNCTION, "InvocationType": "RequestResponse", "InputPayload": payload}},
        {"name": "ReadPlan", "action": "aws:executeScript", "onFailure": "Abort",
         "inputs": {"Runtime": SCRIPT_RUNTIME, "Handler": "read_plan", "Script": read_plan_script(),
                    "InputPayload": {"Payload": "{{Plan.Payload}}"}},
         "outputs": [{"Name": name, "Selector": f"$.Payload.{name}", "Type": kind} for name, kind in
                     {"Proceed": "Boolean", "Summary": "String", **PLAN_OUTPUTS[rule]}.items()]},
        {"name": "Decide", "action": "aws:branch",
         "inputs": {"Choices": [{"NextStep": "ListDedicatedInstances" if rule == TENANCY else "Apply",
                                 "Variable": "{{ReadPlan.Proceed}}", "BooleanEquals": True}],
                    "Default": "AlreadyCompliant"}},
    ]
    if rule == TENANCY:  # the precondition report: what the change leaves as it is
        steps.append({"name": "ListDedicatedInstances", "action": "aws:executeAwsApi", "onFailure": "Abort",
                      "inputs": {"Service": "ec2", "Api": "DescribeInstances", "Filters": [
                          {"Name": "vpc-id", "Values": ["{{ReadPlan.VpcId}}"]},
                          {"Name": "tenancy", "Values": ["dedicated"]}]},
                      "outputs": [{"Name": "UnchangedDedicatedInstances", "Type": "StringList",
                                   "Selector": "$.Reservations..Instances..InstanceId"}]})
    steps += [
        {"name": "Apply", "action": "aws:executeAwsApi", "onFailure": "Abort", "isEnd": True,
         "inputs": {"Service": service, "Api": api, **copy.deepcopy(inputs)}},
        {"name": "AlreadyCompliant", "action": "aws:sleep", "isEnd": True, "inputs": {"Duration": "PT1S"}},
    ]
    outputs = ["ReadPlan.Summary"] + (["ListDedicatedInstances.UnchangedDedicatedInstances"] if rule == TENANCY
                                      else [])
    return {
        "schemaVersion": "0.3",
        "description": f"lambda-vpc-rules, {rule}: {WHAT[rule]}. The pack's planner decides; nothing changes "
                       "when it refuses or the function is already COMPLIANT.",
        "assumeRole": "{{AutomationAssumeRole}}",
        "parameters": parameters,
        "mainSteps": steps,
        "outputs": outputs,
    }


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def function_resources(code_bucket_ref: dict, code_key: dict, role: dict, log_retention_ref: dict,
                       ) -> dict[str, Any]:
    """The planner function (with its log group) and the documents, for the functions template."""
    resources: dict[str, Any] = {
        "RemediationPlannerLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": PLANNER_LOG_GROUP, "RetentionInDays": log_retention_ref}},
        "RemediationPlannerFunction": {
            "Type": "AWS::Lambda::Function",
            "DependsOn": "RemediationPlannerLogGroup",
            "Properties": {
                "FunctionName": PLANNER_FUNCTION,
                "Description": "lambda-vpc-rules: plans a remediation for the pack's SSM documents (read-only)",
                "Runtime": "python3.12", "Handler": PLANNER_HANDLER, "Timeout": 900, "MemorySize": 512,
                "Code": {"S3Bucket": code_bucket_ref, "S3Key": code_key}, "Role": role}},
    }
    for rule in REMEDIABLE_RULES:
        resources[f"{get_rule(rule).logical_id}Document"] = {
            "Type": "AWS::SSM::Document",
            "Properties": {"Name": document_name(rule), "DocumentType": "Automation", "DocumentFormat": "YAML",
                           "UpdateMethod": "NewVersion", "Content": document(rule)}}
    return resources


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def role_parameters() -> dict[str, Any]:
    """The IAM template's parameter naming the documents' role."""
    return {REMEDIATION_ROLE_PARAMETER: {"Type": "String", "Default": REMEDIATION_ROLE_NAME,
                                         "Description": "Name of the remediation documents' role (one per "
                                         "deployment: IAM is global)."}}


def role_resources() -> dict[str, Any]:
    """The documents' role, for the IAM template: what the Apply steps call, and invoking the planner."""
    account_functions = "arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:function:"
    return {"RemediationRole": {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": _ref(REMEDIATION_ROLE_PARAMETER),
            "Description": "lambda-vpc-rules SSM documents: plan with the pack's planner, then apply its plan",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]},
            "Policies": [{"PolicyName": "plan-and-apply", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "Plan", "Effect": "Allow", "Action": "lambda:InvokeFunction",
                 "Resource": _sub(account_functions + PLANNER_FUNCTION)},
                {"Sid": "EniPolicy", "Effect": "Allow", "Action": "iam:PutRolePolicy",
                 "Resource": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*")},
                {"Sid": "FunctionVpcConfig", "Effect": "Allow", "Action": "lambda:UpdateFunctionConfiguration",
                 "Resource": _sub(account_functions + "*")},
                {"Sid": "Tenancy", "Effect": "Allow", "Action": "ec2:ModifyVpcTenancy",
                 "Resource": _sub("arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:vpc/*")},
                {"Sid": "ReadsWithoutResourceLevelPermissions", "Effect": "Allow",
                 "Action": ["ec2:DescribeInstances"], "Resource": "*"},
            ]}}],
        }}}


def automatic_parameter(rule: str) -> str:
    """The conformance pack parameter that turns a rule's automatic remediation on."""
    return f"{get_rule(rule).logical_id}RemediationAutomatic"


def pack_parameters() -> dict[str, Any]:
    return {**role_parameters(), **{automatic_parameter(rule): {
        "Type": "String", "Default": "false", "AllowedValues": ["false", "true"],
        "Description": f"true: AWS Config runs {document_name(rule)} on each NON_COMPLIANT function by itself "
                       "(default false: manual, from the console or `remediate`)."}
        for rule in CONFIG_REMEDIATED if MODES[rule] is Mode.AUTOMATIC_ALLOWED}}


def rule_parameters_sub(rule: str) -> dict[str, str] | str:
    """The rule's parameters as the pack passes them to the rule (its pack parameters, named as
    `packaging.pack_parameter_name` names them), as the JSON text the documents' RuleParameters takes."""
    entries = [f'"{p.name}": "${{{get_rule(rule).logical_id}{p.name}}}"' for p in get_rule(rule).parameters]
    entries.append(f'"{REGISTER_PARAMETER}": "${{{REGISTER_PARAMETER}}}"')  # every rule gets the register's location
    return _sub("{" + ", ".join(entries) + "}")


def pack_resources() -> dict[str, Any]:
    """A RemediationConfiguration per rule Config may remediate: manual by default; tenancy manual only."""
    resources = {}
    for rule in CONFIG_REMEDIATED:
        logical = get_rule(rule).logical_id
        automatic: Any = ({"Ref": automatic_parameter(rule)} if MODES[rule] is Mode.AUTOMATIC_ALLOWED else False)
        resources[f"{logical}Remediation"] = {
            "Type": "AWS::Config::RemediationConfiguration",
            "DependsOn": logical,
            "Properties": {
                "ConfigRuleName": rule, "TargetType": "SSM_DOCUMENT", "TargetId": document_name(rule),
                "ResourceType": "AWS::Lambda::Function", "Automatic": automatic,
                "MaximumAutomaticAttempts": MAXIMUM_AUTOMATIC_ATTEMPTS, "RetryAttemptSeconds": RETRY_ATTEMPT_SECONDS,
                "ExecutionControls": {"SsmControls": {
                    "ConcurrentExecutionRatePercentage": CONCURRENT_EXECUTION_RATE_PERCENTAGE,
                    "ErrorPercentage": ERROR_PERCENTAGE}},
                "Parameters": {
                    "FunctionName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                    "AutomationAssumeRole": {"StaticValue": {"Values": [
                        _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${" + REMEDIATION_ROLE_PARAMETER
                             + "}")]}},
                    # the planner judges with the parameters the pack's rule runs with
                    "RuleParameters": {"StaticValue": {"Values": [rule_parameters_sub(rule)]}},
                },
            },
        }
    return resources


def remediation_pack_parameters(choices: list[tuple[str, str]]) -> dict[str, str]:
    """`deploy --remediation RULE=automatic|manual` as conformance pack parameters; tenancy stays manual."""
    values = {}
    for rule, mode in choices:
        if mode not in ("automatic", "manual"):
            raise ValueError(f"--remediation {rule}={mode}: expected automatic or manual")
        if rule not in CONFIG_REMEDIATED or MODES[rule] is not Mode.AUTOMATIC_ALLOWED:
            allowed = [r for r in CONFIG_REMEDIATED if MODES[r] is Mode.AUTOMATIC_ALLOWED]
            raise ValueError(f"--remediation {rule}: only {', '.join(allowed)} may be automatic")
        values[automatic_parameter(rule)] = "true" if mode == "automatic" else "false"
    return values
