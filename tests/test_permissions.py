"""The rule functions' role (templates/account-iam.yaml) grants exactly what the code calls: every AWS operation
made by `scan` and by each rule handler (change, oversized change, scheduled, and drift: a role, policy or route
table change), with the rule parameters the conformance pack passes (`AssumeRoleMode` false: the function's own
role), recorded as it happens in moto, maps to one of `packaging.rule_actions()`, and every action there is used."""

from __future__ import annotations

import datetime as dt
import json
import re

import boto3
import botocore.session
from botocore import xform_name

from aws_support import (
    ACCOUNT,
    REGION,
    CallRecorder,
    build_network,
    change_event,
    configuration_item,
    history_item,
    oversized_event,
    related_item,
    scheduled_event,
)
from conftest import ROOT, load_rule_module
from lambda_vpc_rules.aws.account import scan_session
from lambda_vpc_rules.aws.actions import ACTIONS_BY_MODULE, REGISTER_ACTIONS, SCP_CHAINS_ACTIONS
from lambda_vpc_rules.core.rules import RULES, get_rule
from lambda_vpc_rules.core.scp import ScpChain, ScpLevel, chains_document
from lambda_vpc_rules.tooling.packaging import rule_actions

NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}  # answered for any identity
# what the conformance pack adds to every rule's parameters (the exceptions register published as deploy documents)
PACK_PARAMETERS = {"AssumeRoleMode": "false", "ExceptionsRegister": "s3://org-exceptions/register.json"}
# ... and to the ENI rule's, the published SCP chains (docs/scp.md)
SCP_PARAMETERS = {"ScpChains": "s3://org-exceptions/scp-chains.json"}


def test_rule_roles_grant_exactly_the_actions_the_code_calls(aws, estate, config_calls):
    ids = build_network(estate)
    iam = estate.iam
    policy = iam.create_policy(PolicyName="eni", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*NetworkInterface*", "Resource": "*"}]}))["Policy"]["Arn"]
    role = estate.role("app-role")
    iam.attach_role_policy(RoleName="app-role", PolicyArn=policy)
    iam.put_role_policy(RoleName="app-role", PolicyName="describe", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}))
    iam.put_role_permissions_boundary(RoleName="app-role", PermissionsBoundary=policy)
    function = estate.function("app", [ids["private-a"], ids["dual-a"]], role=role, ipv6=True,
                               tags={"lambda-vpc-rules:internet-access": "required"})

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="org-exceptions")
    s3.put_object(Bucket="org-exceptions", Key="register.json", Body=json.dumps({"version": "1", "exceptions": []}))
    s3.put_object(Bucket="org-exceptions", Key="scp-chains.json", Body=json.dumps(chains_document(
        [ScpChain(ACCOUNT, (ScpLevel(f"account {ACCOUNT}", (("FullAWSAccess", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),)),))], dt.datetime.now(dt.UTC))))
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)  # rdklib's clients
    scanning = boto3.Session(region_name=REGION)
    recorder.install(scanning)
    scan_session(scanning)
    item = configuration_item(function)
    config_calls.history[item["resourceId"]] = history_item(item)
    for rule in RULES:
        handler = load_rule_module(rule.rdk_name).lambda_handler
        parameters = {**PACK_PARAMETERS, **(SCP_PARAMETERS if rule.config_rule_name == "lambda-vpc-eni-permissions"
                                            else {})}
        handler(change_event(item, rule.config_rule_name, parameters), None)
        handler(oversized_event(item, rule.config_rule_name, parameters), None)
        handler(scheduled_event(rule.config_rule_name, parameters), None)
    # drift: a change to a resource the functions depend on
    drift = {
        "LAMBDA_VPC_ENI_PERMISSIONS": [
            related_item("AWS::IAM::Role", "AROAEXAMPLE", {"roleName": "app-role"}, arn=role),
            related_item("AWS::IAM::Policy", "ANPAEXAMPLE", {"policyName": "eni"}, arn=policy),
            related_item("AWS::EC2::Subnet", ids["private-a"], {"subnetId": ids["private-a"], "vpcId": ids["vpc"]},
                         vpc_id=ids["vpc"]),
        ],
        "LAMBDA_VPC_PRIVATE_SUBNET_NAT": [
            related_item("AWS::EC2::RouteTable", ids["private-rtb"], {"vpcId": ids["vpc"]}, vpc_id=ids["vpc"]),
            related_item("AWS::EC2::PrefixList", ids["partner-list"], {}),
            related_item("AWS::EC2::VPCEndpoint", ids["firewall-endpoint"], {"vpcId": ids["vpc"]}, vpc_id=ids["vpc"]),
        ],
    }
    for rule_dir, items in drift.items():
        handler = load_rule_module(rule_dir).lambda_handler
        for related in items:
            handler(change_event(related, get_rule(rule_dir).config_rule_name, PACK_PARAMETERS), None)
    assert {e["ComplianceResourceId"] for e in config_calls.evaluations if e["ComplianceType"] != "NOT_APPLICABLE"} == {
        "app"}

    # no sts:AssumeRole: no other account; s3:GetObject: granted on the register's bucket only (REGISTER_ACTIONS)
    assert recorder.actions - NEEDS_NO_PERMISSION == set(rule_actions()) | REGISTER_ACTIONS | SCP_CHAINS_ACTIONS


def test_each_read_module_calls_exactly_the_operations_listed_for_it():
    """aws.actions lists, per read module, the actions it needs: the operations named in its source are those."""
    session = botocore.session.get_session()
    services = ("ec2", "iam", "lambda", "resourcegroupstaggingapi", "config", "organizations", "sts", "s3")
    operations = {xform_name(op): op for service in services
                  for op in session.get_service_model(service).operation_names}
    for module, declared in ACTIONS_BY_MODULE.items():
        source = (ROOT / "src" / "lambda_vpc_rules" / "aws" / f"{module}.py").read_text()
        called = {op for snake, op in operations.items() if re.search(rf"\b{snake}\b", source)}
        assert called == {action.split(":")[1] for action in declared}, module
