"""The CloudFormation templates of the deployment's trust model (docs/deployment-trust.md), generated from the
registry like the account's (`stacks.py`):

- `pack-reconciler.yaml`: the organization conformance pack's reconciler (`reconciler.py`), in the deploying
  account's home region;
- `artifact-bucket-policy.yaml`: the artifact bucket's policy, letting only the deploying principal write the
  deployment's prefix.
"""

from __future__ import annotations

from typing import Any

from .stacks import GENERATED_NOTE, LAMBDA_RUNTIME, LOG_ACTIONS, _ref, _sub, source_account

RECONCILER_ACTIONS = (  # what reconciler.py calls, and what PutOrganizationConformancePack needs of its caller
    "config:GetOrganizationConformancePackDetailedStatus", "config:DescribeOrganizationConformancePacks",
    "config:PutOrganizationConformancePack", "organizations:DescribeOrganization",
    "organizations:ListAWSServiceAccessForOrganization", "organizations:EnableAWSServiceAccess",
    "organizations:ListDelegatedAdministrators",
)


def pack_reconciler_template() -> dict[str, Any]:
    """The organization pack's reconciler (tooling/deploy/reconciler.py) in the deploying account's home region:
    invoked by EventBridge on the deployment's StackSet instance events (SUCCEEDED) and every six hours."""
    stack_sets = _sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stackset/"
                      "${DeploymentName}-*")
    log_group = _sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/"
                     "${FunctionName}:*")
    resources: dict[str, Any] = {
        "ReconcilerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
                    "Condition": source_account()}]},
                "Policies": [{"PolicyName": "reconcile-pack", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "Pack", "Effect": "Allow", "Action": list(RECONCILER_ACTIONS), "Resource": "*"},
                    {"Sid": "ConfigServiceLinkedRole", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
                     "Resource": "*", "Condition": {"StringEquals": {
                         "iam:AWSServiceName": "config-multiaccountsetup.amazonaws.com"}}},
                    {"Sid": "StackSetInstances", "Effect": "Allow", "Action": "cloudformation:ListStackInstances",
                     "Resource": stack_sets},
                    {"Sid": "OwnLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": log_group}]}}],
            },
        },
        "ReconcilerLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": _sub("/aws/lambda/${FunctionName}"), "RetentionInDays": 365},
        },
        "ReconcilerFunction": {
            "Type": "AWS::Lambda::Function",
            "DependsOn": "ReconcilerLogGroup",
            "Properties": {
                "FunctionName": _ref("FunctionName"),
                "Description": "lambda-vpc-rules: re-submits the organization pack where it failed before the "
                "functions arrived",
                "Runtime": LAMBDA_RUNTIME,
                "Handler": "pack_reconciler.lambda_handler",
                "Code": {"S3Bucket": _ref("CodeBucket"), "S3Key": _ref("CodeKey"),
                         "S3ObjectVersion": {"Fn::If": ["PinVersion", _ref("CodeObjectVersion"),
                                                        _ref("AWS::NoValue")]}},
                "Role": {"Fn::GetAtt": ["ReconcilerRole", "Arn"]},
                "Timeout": 300,
                "MemorySize": 256,
            },
        },
        "InstanceEventRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "lambda-vpc-rules: a functions stack instance succeeded",
                "EventPattern": {
                    "source": ["aws.cloudformation"],
                    "detail-type": ["CloudFormation StackSet StackInstance Status Change"],
                    "detail": {"stack-set-arn": [{"prefix": _sub(
                        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stackset/"
                        "${DeploymentName}-")}],
                        "status-details": {"detailed-status": ["SUCCEEDED"]}},
                },
                "Targets": [{"Id": "reconciler", "Arn": {"Fn::GetAtt": ["ReconcilerFunction", "Arn"]}}],
            },
        },
        "ScheduleRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "lambda-vpc-rules: sweep for pack failures no event announced",
                "ScheduleExpression": "rate(6 hours)",
                "Targets": [{"Id": "reconciler", "Arn": {"Fn::GetAtt": ["ReconcilerFunction", "Arn"]}}],
            },
        },
    }
    for rule in ("InstanceEventRule", "ScheduleRule"):  # EventBridge of this rule only (SourceArn)
        resources[f"{rule}Permission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {"FunctionName": _ref("ReconcilerFunction"), "Action": "lambda:InvokeFunction",
                           "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule, "Arn"]}},
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "lambda-vpc-rules, in the deploying account's home region: the organization conformance pack's "
        f"reconciler. {GENERATED_NOTE}",
        "Parameters": {
            "CodeBucket": {"Type": "String", "Description": "S3 bucket (this region) holding the bundle."},
            "CodeKey": {"Type": "String", "Description": "Key of the reconciler's bundle."},
            "CodeObjectVersion": {"Type": "String", "Default": "", "Description": "Its S3 object version."},
            "FunctionName": {"Type": "String", "Default": "lambda-vpc-rules-pack-reconciler"},
            "DeploymentName": {"Type": "String", "Default": "lambda-vpc-rules",
                               "Description": "The deployment (--stack-name): its StackSets are <name>-<region>."},
        },
        "Conditions": {"PinVersion": {"Fn::Not": [{"Fn::Equals": ["", _ref("CodeObjectVersion")]}]}},
        "Resources": resources,
        "Outputs": {"ReconcilerFunctionArn": {"Value": {"Fn::GetAtt": ["ReconcilerFunction", "Arn"]}}},
    }


ARTIFACT_WRITE_ACTIONS = ("s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
                          "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteObjectTagging",
                          "s3:PutObjectRetention", "s3:PutObjectLegalHold")


def artifact_bucket_policy_template() -> dict[str, Any]:
    """The bucket policy docs/deployment-trust.md recommends for a bucket deploy uses: only the deploying principal
    writes or deletes under the deployment's prefix (an explicit Deny for every other principal, whatever IAM
    grants them), the organization reads it (when an organization ID is given), and nothing without TLS. An
    AWS::S3::BucketPolicy replaces the bucket's whole policy: merge other statements in before deploying it."""
    def objects() -> dict[str, str]:  # a fresh node each time: yaml would write a shared one as an alias
        return _sub("arn:${AWS::Partition}:s3:::${BucketName}/${KeyPrefix}*")

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "lambda-vpc-rules: the artifact bucket's policy - only the deploying principal writes the "
        f"deployment's prefix. {GENERATED_NOTE}",
        "Parameters": {
            "BucketName": {"Type": "String", "Description": "The bucket deploy uses in this region."},
            "KeyPrefix": {"Type": "String", "Default": "lambda-vpc-rules/lambda-vpc-rules/",
                          "AllowedPattern": r"^[^/*][^*]*/$",
                          "Description": "The deployment's prefix: <--key-prefix><--stack-name>/."},
            "DeployerArn": {"Type": "String", "AllowedPattern": r"^arn:[a-z-]+:iam::\d{12}:(role|user)/.+$",
                            "Description": "The IAM role or user that runs deploy (for a role: the role's ARN)."},
            "OrganizationId": {"Type": "String", "Default": "", "AllowedPattern": r"^(o-[a-z0-9]{10,32})?$",
                               "Description": "With --organization: the organization that reads the bundles."},
        },
        "Conditions": {"Organization": {"Fn::Not": [{"Fn::Equals": ["", _ref("OrganizationId")]}]}},
        "Resources": {
            "ArtifactBucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": _ref("BucketName"),
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                        {"Sid": "OnlyTheDeployerWritesThePrefix", "Effect": "Deny", "Principal": "*",
                         "Action": list(ARTIFACT_WRITE_ACTIONS), "Resource": objects(),
                         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": _ref("DeployerArn")}}},
                        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                         "Resource": [_sub("arn:${AWS::Partition}:s3:::${BucketName}"),
                                      _sub("arn:${AWS::Partition}:s3:::${BucketName}/*")],
                         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                        {"Fn::If": ["Organization", {
                            "Sid": "OrganizationReadsTheBundles", "Effect": "Allow", "Principal": "*",
                            "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": objects(),
                            "Condition": {"StringEquals": {"aws:PrincipalOrgID": _ref("OrganizationId")}}},
                            _ref("AWS::NoValue")]},
                    ]},
                },
            }
        },
    }
