"""The CloudFormation template that deploys the hook in one account and region: the hook's Lambda function
(its bundle in S3), the role it reads the account with (the read-only actions `scan` needs), the role
CloudFormation assumes to invoke it, and the `AWS::CloudFormation::LambdaHook` activating it.

Targets (AWS::CloudFormation::LambdaHook, "TargetFilters"): RESOURCE operations on `AWS::Lambda::Function`,
CREATE and UPDATE, before provisioning: a SAM function reaches the hook as the `AWS::Lambda::Function` the
transform made of it. `FailureMode` FAIL blocks a NON_COMPLIANT function, WARN lets it through with a
warning. The function's timeout (25 s) stays within the 30 s the hook waits for it. The invocation role
trusts `hooks.cloudformation.amazonaws.com` and may only invoke this function (Hooks User Guide,
"Activate a Lambda Hook": the execution role).

`deploy --hook FAIL|WARN` puts the same resources (`hook_resources`) into the regional functions stack
(tooling/deploy/stacks.py), under a condition on its HookFailureMode parameter; the bundle is
packaging.HOOK_BUNDLE (docs/check.md, "Deploying the hook").
"""

from __future__ import annotations

import json
from typing import Any

from ..aws.actions import ACTIONS_BY_MODULE

FAILURE_MODES = ("FAIL", "WARN")
HANDLER = "lambda_vpc_rules.hook.handler.lambda_handler"
# What the hook reads: the facts of the functions it is asked about (it lists no functions, reads no tags),
# and, for a template judged whole (a stack or change set target), the account's exports and the names of
# AWS managed policies (SAM's short names).
READ_ACTIONS = (ACTIONS_BY_MODULE["facts"] - {"lambda:ListFunctions", "tag:GetResources"}) | {
    "iam:ListPolicies", "cloudformation:ListExports"}
ALIAS = "Private::LambdaVpcRules::Hook"
FUNCTION_TIMEOUT = 25  # seconds; the hook waits 30
FUNCTION_NAME = "lambda-vpc-rules-cfn-hook"  # in the functions stack (deploy --hook)


def hook_resources(failure_mode: Any, code: dict[str, Any], rule_parameters: Any, condition: str | None = None,
                   code_signing: Any = None, function_name: str | None = None) -> dict[str, Any]:
    """The hook's function, its two roles and the hook; each resource under `condition` when one is given (the
    regional functions stack creates them only with `deploy --hook`)."""
    trust = {"Version": "2012-10-17", "Statement": [{  # confused deputy prevention, as the rule functions' role
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}
    hooks_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "hooks.cloudformation.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}
    function: dict[str, Any] = {
        "Runtime": "python3.12", "Handler": HANDLER, "Timeout": FUNCTION_TIMEOUT, "MemorySize": 512,
        "Role": {"Fn::GetAtt": ["HookFunctionRole", "Arn"]}, "Code": code,
        "Environment": {"Variables": {"RULE_PARAMETERS": rule_parameters}}}
    if function_name:
        function["FunctionName"] = function_name
    if code_signing is not None:
        function["CodeSigningConfigArn"] = code_signing
    resources: dict[str, Any] = {
        "HookFunctionRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": trust,
            "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                              "AWSLambdaBasicExecutionRole"}],
            "Policies": [{"PolicyName": "read-what-the-rules-read", "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": sorted(READ_ACTIONS), "Resource": "*"}]}}]}},
        "HookFunction": {"Type": "AWS::Lambda::Function", "Properties": function},
        "HookInvocationRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": hooks_trust,
            "Policies": [{"PolicyName": "invoke-the-hook-function", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                        "Resource": {"Fn::GetAtt": ["HookFunction", "Arn"]}}]}}]}},
        "LambdaVpcRulesHook": {"Type": "AWS::CloudFormation::LambdaHook", "Properties": {
            "Alias": ALIAS, "HookStatus": "ENABLED", "FailureMode": failure_mode,
            "LambdaFunction": {"Fn::GetAtt": ["HookFunction", "Arn"]},
            "ExecutionRole": {"Fn::GetAtt": ["HookInvocationRole", "Arn"]},
            "TargetOperations": ["RESOURCE"],
            "TargetFilters": {"Actions": ["CREATE", "UPDATE"], "InvocationPoints": ["PRE_PROVISION"],
                              "TargetNames": ["AWS::Lambda::Function"]}}},
    }
    if condition:
        resources = {name: {"Condition": condition, **resource} for name, resource in resources.items()}
    return resources


def hook_template(failure_mode: str = "FAIL") -> dict[str, Any]:
    if failure_mode not in FAILURE_MODES:
        raise ValueError(f"FailureMode must be one of {', '.join(FAILURE_MODES)}, not {failure_mode!r}")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "lambda-vpc-rules: the CloudFormation Lambda Hook that judges Lambda functions before "
                       "CloudFormation creates or updates them",
        "Parameters": {
            "CodeBucket": {"Type": "String", "Description": "S3 bucket holding the hook's bundle"},
            "CodeKey": {"Type": "String", "Description": "S3 key of the hook's bundle (zip)"},
            "RuleParameters": {"Type": "String", "Default": "{}",
                               "Description": "the rules' parameters, a JSON object of NAME: VALUE strings"},
        },
        "Resources": hook_resources(failure_mode, {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
                                    {"Ref": "RuleParameters"}),
    }


def hook_template_json(failure_mode: str = "FAIL") -> str:
    return json.dumps(hook_template(failure_mode), indent=2) + "\n"
