"""`lambda-vpc-rules deploy`: put the pack into an account, or into a whole organization.

Steps, each idempotent (re-running updates in place):
1. build the bundles (`dist/`) and upload them, under a key named by their content hash so that a code
   change always reaches the functions, with `conformance-pack.yaml` beside them;
2. create or update the central stack (`rdk_config/central-account.yaml`): one function per rule, their role;
3. one account: register the rules - as the conformance pack (default) or, with `mode="rules"`, as
   plain Config rules read from the same pack template;
   organization (`organization=True`, from the management or delegated administrator account):
   the member role through a service-managed StackSet on the organization root (and a plain stack in
   this account, which such a StackSet leaves out), `lambda:InvokeFunction`
   for AWS Config of each member account (one `SourceAccount` statement each), and the organization
   conformance pack with `ExecutionRoleName` set, minus `excluded_accounts`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ..core.rules import RULES
from ..errors import PackError
from .packaging import FUNCTION_ROLE_NAME, MEMBER_ROLE_NAME, build_bundles, conformance_pack

CENTRAL_TEMPLATE = "rdk_config/central-account.yaml"
MEMBER_TEMPLATE = "rdk_config/member-account-role.yaml"
PACK_TEMPLATE = "conformance-pack.yaml"


class DeployError(PackError):
    """A deployment step that failed in a way the user must act on; the message says which and why."""


@dataclass
class DeployOptions:
    bucket: str
    rdklib_layer_arn: str
    key_prefix: str = "lambda-vpc-rules/"
    stack_name: str = "lambda-vpc-rules"
    pack_name: str = "lambda-vpc-rules"
    mode: str = "pack"  # one account: "pack" (conformance pack) or "rules" (plain Config rules)
    organization: bool = False
    excluded_accounts: list[str] = field(default_factory=list)
    member_role_name: str = MEMBER_ROLE_NAME
    pack_parameters: dict[str, str] = field(default_factory=dict)  # conformance pack parameter overrides
    waiter_delay: int = 10
    dist: Path | None = None  # where the bundles are built (default: <root>/dist)


@dataclass
class DeployResult:
    account_id: str
    code_prefix: str
    function_arns: dict[str, str]
    config_rules: list[str]
    member_accounts: list[str] = field(default_factory=list)


def deploy(client_for: Callable[[str], Any], root: Path, options: DeployOptions,
           progress: Callable[[str], None] = lambda message: None) -> DeployResult:
    identity = client_for("sts").get_caller_identity()
    account_id, partition = identity["Account"], identity["Arn"].split(":")[1]

    bundles = build_bundles(root, options.dist or root / "dist")
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in bundles)).hexdigest()[:16]
    prefix = f"{options.key_prefix}{digest}/"
    s3 = client_for("s3")
    for path in bundles:
        s3.put_object(Bucket=options.bucket, Key=prefix + path.name, Body=path.read_bytes())
    pack_body = (root / PACK_TEMPLATE).read_text(encoding="utf-8")
    s3.put_object(Bucket=options.bucket, Key=prefix + PACK_TEMPLATE, Body=pack_body.encode())
    progress(f"uploaded {len(bundles)} bundles to s3://{options.bucket}/{prefix}")

    organization_id = ""
    if options.organization:
        organization_id = client_for("organizations").describe_organization()["Organization"]["Id"]
    outputs = _apply_stack(client_for("cloudformation"), options.stack_name, (root / CENTRAL_TEMPLATE).read_text(), {
        "CodeBucket": options.bucket,
        "CodeKeyPrefix": prefix,
        "RdklibLayerArn": options.rdklib_layer_arn,
        "MemberRoleName": options.member_role_name,
        "OrganizationId": organization_id,
    }, options.waiter_delay)
    progress(f"stack {options.stack_name} is up to date")
    functions = {rule.config_rule_name: outputs[f"{rule.logical_id}FunctionArn"] for rule in RULES}

    config = client_for("config")
    pack_inputs = {"LambdaAccountId": account_id, **options.pack_parameters}
    result = DeployResult(account_id, prefix, functions, [rule.config_rule_name for rule in RULES])
    if options.organization:
        result.member_accounts = _deploy_organization(client_for, root, options, account_id, prefix, pack_inputs)
    elif options.mode == "rules":
        for rule in config_rules_from_pack(conformance_pack(), pack_inputs, partition, account_id,
                                           client_for("sts").meta.region_name):
            config.put_config_rule(ConfigRule=rule)
        progress(f"registered {len(RULES)} Config rules")
    else:
        config.put_conformance_pack(
            ConformancePackName=options.pack_name,
            TemplateS3Uri=f"s3://{options.bucket}/{prefix}{PACK_TEMPLATE}",
            ConformancePackInputParameters=[{"ParameterName": k, "ParameterValue": v} for k, v in pack_inputs.items()],
        )
        progress(f"conformance pack {options.pack_name} submitted")
    return result


def _deploy_organization(client_for, root: Path, options: DeployOptions, account_id: str, prefix: str,
                         pack_inputs: dict[str, str]) -> list[str]:
    organizations = client_for("organizations")
    accounts = [
        account["Id"]
        for page in organizations.get_paginator("list_accounts").paginate()
        for account in page["Accounts"]
        if account.get("Status") == "ACTIVE" and account["Id"] not in options.excluded_accounts
    ]
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    cloudformation = client_for("cloudformation")
    stack_set = f"{options.stack_name}-member-role"
    member_parameters = [
        {"ParameterKey": "CentralAccountId", "ParameterValue": account_id},
        {"ParameterKey": "FunctionRoleName", "ParameterValue": FUNCTION_ROLE_NAME},
        {"ParameterKey": "RoleName", "ParameterValue": options.member_role_name},
    ]
    try:
        cloudformation.create_stack_set(
            StackSetName=stack_set,
            TemplateBody=(root / MEMBER_TEMPLATE).read_text(),
            Parameters=member_parameters,
            Capabilities=["CAPABILITY_NAMED_IAM"],
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        )
        cloudformation.create_stack_instances(
            StackSetName=stack_set,
            DeploymentTargets={"OrganizationalUnitIds": [root_id]},
            Regions=[cloudformation.meta.region_name],  # IAM roles are global: one region is enough
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "NameAlreadyExistsException":
            raise
        cloudformation.update_stack_set(StackSetName=stack_set, TemplateBody=(root / MEMBER_TEMPLATE).read_text(),
                                        Parameters=member_parameters, Capabilities=["CAPABILITY_NAMED_IAM"])

    # A service-managed StackSet never deploys to the management account: give this account the role too,
    # unless it has it already.
    try:
        client_for("iam").get_role(RoleName=options.member_role_name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        _apply_stack(cloudformation, f"{options.stack_name}-member-role", (root / MEMBER_TEMPLATE).read_text(),
                     {p["ParameterKey"]: p["ParameterValue"] for p in member_parameters}, options.waiter_delay)

    lambda_client = client_for("lambda")
    for rule in RULES:
        for member in accounts:
            if member == account_id:
                continue  # the central stack grants its own account
            try:
                lambda_client.add_permission(FunctionName=rule.function_name, StatementId=f"config-{member}",
                                             Action="lambda:InvokeFunction", Principal="config.amazonaws.com",
                                             SourceAccount=member)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceConflictException":  # already granted
                    raise

    client_for("config").put_organization_conformance_pack(
        OrganizationConformancePackName=options.pack_name,
        TemplateS3Uri=f"s3://{options.bucket}/{prefix}{PACK_TEMPLATE}",
        ConformancePackInputParameters=[
            {"ParameterName": k, "ParameterValue": v}
            for k, v in {**pack_inputs, "ExecutionRoleName": options.member_role_name}.items()
        ],
        ExcludedAccounts=options.excluded_accounts,
    )
    return accounts


def _apply_stack(cloudformation, name: str, body: str, parameters: dict[str, str], delay: int) -> dict[str, str]:
    arguments = dict(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    try:
        cloudformation.describe_stacks(StackName=name)
        exists = True
    except ClientError as error:
        if "does not exist" not in error.response["Error"].get("Message", ""):
            raise
        exists = False
    try:
        if exists:
            cloudformation.update_stack(**arguments)
            waiter = "stack_update_complete"
        else:
            cloudformation.create_stack(**arguments)
            waiter = "stack_create_complete"
        cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": delay, "MaxAttempts": 120})
    except ClientError as error:
        if "No updates are to be performed" not in error.response["Error"].get("Message", ""):
            raise
    except WaiterError as error:  # the stack failed or rolled back
        raise DeployError(f"stack {name} did not complete: {error}; see its events in CloudFormation") from None
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs") or ()}


# ------------------------------------------------------------------- the pack template, read as rules


def config_rules_from_pack(template: dict[str, Any], inputs: dict[str, str], partition: str, account_id: str,
                           region: str) -> list[dict[str, Any]]:
    """The PutConfigRule requests a conformance pack template stands for: its parameters (defaults, then
    `inputs`), conditions and the intrinsic functions it uses (Ref, Fn::Sub, Fn::If, Fn::Not, Fn::Equals)."""
    values = {name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()}
    values.update(inputs)
    missing = [name for name, value in values.items() if value == "" and "Default" not in
               template["Parameters"][name]]
    if missing:
        raise DeployError(f"conformance pack parameter(s) without a value: {', '.join(missing)}")
    pseudo = {"AWS::Partition": partition, "AWS::AccountId": account_id, "AWS::Region": region}
    conditions: dict[str, bool] = {}
    resolve = _resolver({**values, **pseudo}, conditions)
    for name, expression in template.get("Conditions", {}).items():
        conditions[name] = bool(resolve(expression))
    rules = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Config::ConfigRule":
            continue
        properties = resolve(resource["Properties"])
        properties["InputParameters"] = json.dumps(properties.get("InputParameters", {}))
        rules.append(properties)
    return rules


_NO_VALUE = object()


def _resolver(values: dict[str, str], conditions: dict[str, bool]) -> Callable[[Any], Any]:
    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, argument), = node.items()
            if key == "Ref":
                return _NO_VALUE if argument == "AWS::NoValue" else values[argument]
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], argument)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return resolve(when_true if conditions[name] else when_false)
            if key == "Fn::Not":
                return not resolve(argument[0])
            if key == "Fn::Equals":
                left, right = (resolve(item) for item in argument)
                return left == right
        return {k: v for k, v in ((k, resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}

    return resolve
