"""Pre-flight: what `deploy` checks before it changes anything, and says what is missing.

- the buckets: one per region, in that region (Lambda reads a function's code from a bucket in its own region);
  with code signing, versioned (AWS Signer signs an object version), and the signing profile active;
- AWS Config in this account: a recorder recording, in each region, `AWS::Lambda::Function` (the rules' subject;
  a problem) and the related types the rules' drift triggers use (a note); IAM types in the home region (a note:
  AWS Config records them in one region only, and only in regions launched before February 2022);
- the deploying identity's permissions, by IAM's policy simulator (SimulatePrincipalPolicy, which also applies
  the organization's SCPs); a refused simulation is a note, not a problem;
- the exceptions register and SCP chains the rules are given (pack parameters), read as the rules read them:
  missing or invalid, a problem (every evaluation would be an error); unreadable from here or stale, a note;
- an organization: all features, this account the management account or (with `--delegated-admin`) a delegated
  administrator for StackSets, AWS Config rules and, with an aggregator, AWS Config; trusted access for those
  services; the aggregator's name free or an organization aggregator.

Member accounts cannot be read from here: their AWS Config setup shows in the conformance pack's status per
account after the deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ...core.rules import RULES
from ...errors import UnreadableAnswer

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
CONFIG_RULES_PRINCIPAL = "config-multiaccountsetup.amazonaws.com"
CONFIG_PRINCIPAL = "config.amazonaws.com"
LAMBDA_TYPE = "AWS::Lambda::Function"
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy")
LEGACY_STACK_SET = "lambda-vpc-rules-member-role"  # the cross-account role of the central-function layout

# The actions `deploy` calls itself (tests/test_deploy_org.py records the calls and checks these lists against them;
# iam:GetRole resolves an assumed role's path for the simulator, STACK_RESOURCE_ACTIONS are CloudFormation's).
SINGLE_ACCOUNT_ACTIONS = frozenset({
    "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging",
    "s3:GetObjectTagging",
    "config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus",
    "cloudformation:DescribeStacks", "cloudformation:CreateStack", "cloudformation:UpdateStack",
    "cloudformation:GetTemplate", "config:PutConformancePack", "config:DescribeConformancePackStatus",
    "iam:SimulatePrincipalPolicy",
})
RULES_MODE_ACTIONS = frozenset({"config:PutConfigRule", "config:DescribeConfigRules", "config:TagResource"})
ORGANIZATION_ACTIONS = frozenset({
    "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging",
    "s3:GetObjectTagging",
    "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketVersioning", "s3:GetObjectVersion",
    "config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus",
    "organizations:DescribeOrganization", "organizations:ListAccounts", "organizations:ListRoots",
    "organizations:ListAWSServiceAccessForOrganization",
    "cloudformation:DescribeStackSet", "cloudformation:CreateStackSet", "cloudformation:UpdateStackSet",
    "cloudformation:ListStackInstances", "cloudformation:CreateStackInstances",
    "cloudformation:DescribeStackSetOperation", "cloudformation:UpdateStackInstances",
    "config:PutOrganizationConformancePack", "config:DescribeOrganizationConformancePackStatuses",
    "config:GetOrganizationConformancePackDetailedStatus",
    "iam:SimulatePrincipalPolicy",
})
MANAGEMENT_ACTIONS = frozenset({  # the management account's own stacks
    "cloudformation:DescribeStacks", "cloudformation:CreateStack", "cloudformation:UpdateStack",
    "cloudformation:GetTemplate",
})
DELEGATED_ACTIONS = frozenset({"organizations:ListDelegatedAdministrators"})
AGGREGATOR_ACTIONS = frozenset({"config:DescribeConfigurationAggregators", "config:PutConfigurationAggregator",
                                "cloudformation:DescribeStacks", "cloudformation:CreateStack",
                                "cloudformation:UpdateStack", "cloudformation:GetTemplate"})
SIGNING_ACTIONS = frozenset({"signer:GetSigningProfile", "signer:StartSigningJob", "signer:DescribeSigningJob",
                             "s3:GetBucketVersioning", "s3:GetObjectVersion"})
ALL_REGIONS_ACTIONS = frozenset({"ec2:DescribeRegions"})
# The organization pack's reconciler stack (stacks.pack_reconciler_template), built with the deploying identity's
# credentials in its own account, management account or delegated administrator.
RECONCILER_STACK_ACTIONS = frozenset({
    "cloudformation:DescribeStacks", "cloudformation:CreateStack", "cloudformation:UpdateStack",
    "cloudformation:GetTemplate",
    "iam:CreateRole", "iam:GetRole", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:PassRole",
    "lambda:CreateFunction", "lambda:GetFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
    "lambda:AddPermission", "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DescribeLogGroups",
    "events:PutRule", "events:PutTargets", "events:DescribeRule",
})
# What CloudFormation does with the deploying identity's credentials to build the stacks of this account (the
# resources of stacks.py); StackSets build member accounts' stacks with their own roles.
STACK_RESOURCE_ACTIONS = frozenset({
    "iam:GetRole", "iam:CreateRole", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
    "iam:PassRole", "lambda:CreateFunction", "lambda:GetFunction", "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration", "lambda:AddPermission", "lambda:RemovePermission",
    "lambda:PutFunctionConcurrency", "lambda:CreateCodeSigningConfig", "lambda:PutFunctionCodeSigningConfig",
    "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DescribeLogGroups",
    # the remediation documents (remediation_documents; UpdateMethod NewVersion: update, then make it the default)
    "ssm:CreateDocument", "ssm:GetDocument", "ssm:UpdateDocument", "ssm:UpdateDocumentDefaultVersion",
    # the control's health (stacks.health_resources): the on-failure queue, the alarm topic, the metric
    # filters, the alarms, the functions' asynchronous-invocation configuration
    "sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
    "sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
    "logs:PutMetricFilter", "logs:DescribeMetricFilters", "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms",
    "lambda:PutFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig",
    "lambda:UpdateFunctionEventInvokeConfig",
})


def required_actions(options: Any, regions: list[str]) -> set[str]:
    """Every action a deploy with these options needs from the deploying identity."""
    if options.organization:
        actions = set(ORGANIZATION_ACTIONS)
        actions |= DELEGATED_ACTIONS if options.delegated_admin else MANAGEMENT_ACTIONS | STACK_RESOURCE_ACTIONS
        if options.aggregator:
            actions |= AGGREGATOR_ACTIONS | {"iam:CreateRole", "iam:AttachRolePolicy", "iam:PassRole"}
    else:
        actions = set(SINGLE_ACCOUNT_ACTIONS) | STACK_RESOURCE_ACTIONS
        if options.mode == "rules":
            actions = (actions - {"config:PutConformancePack", "config:DescribeConformancePackStatus"}) | \
                RULES_MODE_ACTIONS
    if options.signing_profile:
        actions |= SIGNING_ACTIONS
    if options.organization:
        actions |= RECONCILER_STACK_ACTIONS
    if getattr(options, "regions", None) == ["all"]:
        actions |= ALL_REGIONS_ACTIONS
    return actions


@dataclass
class Preflight:
    problems: list[str] = field(default_factory=list)  # each stops the deploy
    notes: list[str] = field(default_factory=list)  # worth knowing, deploy goes on
    organization: dict[str, Any] | None = None  # DescribeOrganization's Organization
    root_id: str | None = None
    accounts: list[str] = field(default_factory=list)  # the organization's active accounts
    aggregator: dict[str, Any] | None = None  # the aggregator of that name, if it exists

    @property
    def management_account(self) -> str | None:
        return (self.organization or {}).get("MasterAccountId")


def preflight(clients: Any, options: Any, regions: list[str], identity: dict[str, str], progress: Any) -> Preflight:
    report = Preflight()
    account = identity["Account"]
    if options.organization:
        _organization(clients, options, account, report)
    _buckets(clients, options, regions, report, options.bucket_owner or account)
    for region in regions:
        _recorder(clients("config", region), region, region == clients.home_region, report)
    if options.organization and options.aggregator:
        _aggregator(clients("config"), options.aggregator, report)
    _permissions(clients, identity, sorted(required_actions(options, regions)), report)
    _published_documents(clients, options, report)
    for problem in report.problems:
        progress(f"pre-flight: PROBLEM {problem}")
    for note in report.notes:
        progress(f"pre-flight: note: {note}")
    progress(f"pre-flight: {len(report.problems)} problem(s), {len(report.notes)} note(s)")
    return report


def _organization(clients: Any, options: Any, account: str, report: Preflight) -> None:
    organizations = clients("organizations")
    try:
        report.organization = organizations.describe_organization()["Organization"]
    except ClientError as error:
        report.problems.append(f"organization: {error.response['Error']['Code']}: this account is in no organization "
                               "or may not read it")
        return
    if report.organization.get("FeatureSet") != "ALL":
        report.problems.append("organization: all features must be enabled (StackSets with service-managed "
                               "permissions and organization conformance packs need them)")
    management = report.management_account == account
    if options.delegated_admin and management:
        report.problems.append("--delegated-admin: this is the management account; run without it")
    if not options.delegated_admin and not management:
        report.problems.append(f"this account ({account}) is not the management account "
                               f"({report.management_account}): pass --delegated-admin if it is a delegated "
                               "administrator for StackSets and AWS Config")
    principals = [STACKSETS_PRINCIPAL, CONFIG_RULES_PRINCIPAL] + ([CONFIG_PRINCIPAL] if options.aggregator else [])
    try:
        enabled = {service["ServicePrincipal"] for page in
                   organizations.get_paginator("list_aws_service_access_for_organization").paginate()
                   for service in page["EnabledServicePrincipals"]}
    except ClientError as error:
        report.problems.append(f"trusted access could not be read: {error.response['Error']['Code']}")
        enabled = set(principals)
    for principal in principals:
        if principal not in enabled:
            how = ("aws cloudformation activate-organizations-access" if principal == STACKSETS_PRINCIPAL
                   else f"aws organizations enable-aws-service-access --service-principal {principal}")
            report.problems.append(f"trusted access for {principal} is not enabled ({how}, from the management "
                                   "account)")
    if options.delegated_admin and not management:
        for principal in principals:
            try:
                admins = {admin["Id"] for page in organizations.get_paginator("list_delegated_administrators")
                          .paginate(ServicePrincipal=principal) for admin in page["DelegatedAdministrators"]}
            except ClientError as error:
                report.problems.append(f"delegated administrators of {principal} could not be read: "
                                       f"{error.response['Error']['Code']}")
                continue
            if account not in admins:
                report.problems.append(f"this account is not a delegated administrator for {principal} "
                                       f"(aws organizations register-delegated-administrator --account-id {account} "
                                       f"--service-principal {principal}, from the management account)")
    report.root_id = organizations.list_roots()["Roots"][0]["Id"]
    report.accounts = sorted(a["Id"] for page in organizations.get_paginator("list_accounts").paginate()
                             for a in page["Accounts"] if a.get("Status") == "ACTIVE")
    unknown = sorted(set(options.excluded_accounts) - set(report.accounts))
    if unknown:
        report.notes.append(f"--excluded-accounts not active in the organization: {', '.join(unknown)}")
    if len(options.excluded_accounts) > 1000:
        report.problems.append("--excluded-accounts: an organization conformance pack excludes at most 1,000 accounts")
    try:
        clients("cloudformation").describe_stack_set(StackSetName=LEGACY_STACK_SET, **call_as(options))
        report.notes.append(f"StackSet {LEGACY_STACK_SET} (the earlier central-function layout) is still deployed; "
                            "`lambda-vpc-rules destroy --legacy` removes it")
    except ClientError as error:
        if error.response["Error"]["Code"] != "StackSetNotFoundException":
            raise


def call_as(options: Any) -> dict[str, str]:
    """CallAs on every StackSet call: DELEGATED_ADMIN from a delegated administrator (CloudFormation API)."""
    return {"CallAs": "DELEGATED_ADMIN"} if options.delegated_admin else {}


def _buckets(clients: Any, options: Any, regions: list[str], report: Preflight, owner: str) -> None:
    """Each region's bucket: there, owned by `owner` (ExpectedBucketOwner on every call: a bucket of that name in
    another account answers 403), in that region, and versioned where versions are pinned: with --organization
    (every member account runs the code: S3ObjectVersion pins what deploy proved) and with code signing."""
    from .steps import bucket_name

    home = getattr(clients, "home_region", None)
    for region in list(dict.fromkeys([*regions, *([home] if home else [])])):  # home: the record (and reconciler)
        s3, bucket = clients("s3", region), bucket_name(options.bucket, region)
        try:
            s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
            location = s3.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=owner).get(
                "LocationConstraint") or "us-east-1"
        except ClientError as error:
            code = error.response["Error"]["Code"]
            what = {"404": "does not exist", "NoSuchBucket": "does not exist",
                    "403": f"refused: not owned by {owner}, or not readable"}.get(code, code)
            report.problems.append(f"bucket {bucket} ({region}): {what}")
            continue
        location = {"EU": "eu-west-1"}.get(location, location)
        if location != region:
            report.problems.append(f"bucket {bucket} is in {location}, not {region}: Lambda reads a function's code "
                                   "from a bucket in the function's region")
        if options.signing_profile or options.organization:
            versioning = s3.get_bucket_versioning(Bucket=bucket, ExpectedBucketOwner=owner).get("Status")
            if versioning != "Enabled":
                why = ("AWS Signer signs an object version" if options.signing_profile else "with --organization the "
                       "functions are pinned to the object versions deploy proved (S3ObjectVersion)")
                report.problems.append(f"bucket {bucket}: versioning is not enabled; {why} (aws s3api "
                                       f"put-bucket-versioning --bucket {bucket} --versioning-configuration "
                                       "Status=Enabled)")
        if options.signing_profile:
            try:
                profile = clients("signer", region).get_signing_profile(profileName=options.signing_profile)
                if profile.get("status") != "Active":
                    report.problems.append(f"signing profile {options.signing_profile} ({region}) is "
                                           f"{profile.get('status')}")
            except ClientError as error:
                report.problems.append(f"signing profile {options.signing_profile} ({region}): "
                                       f"{error.response['Error']['Code']}")


def _published_documents(clients: Any, options: Any, report: Preflight) -> None:
    """The exceptions register and the SCP chains the rules are given (`--pack-param ExceptionsRegister=...`,
    `ScpChains=...`), read as the rules read them. Missing or invalid, every evaluation of the rules that read it
    would be an error: a problem. Not readable by this identity: a note, because the rules read with their own role
    (and, in an organization, member accounts through the bucket's policy), which cannot be proven from here."""
    import datetime as dt

    from ...aws.register import PARAMETER as REGISTER_PARAMETER
    from ...aws.register import read_published as read_register
    from ...aws.scp_chains import MAX_AGE
    from ...aws.scp_chains import PARAMETER as SCP_CHAINS_PARAMETER
    from ...aws.scp_chains import read_published as read_chains
    from ...core.exceptions import RegisterError
    from ...core.scp import ScpDocumentError

    parameters = getattr(options, "pack_parameters", None) or {}
    readers = ((REGISTER_PARAMETER, read_register, RegisterError),
               (SCP_CHAINS_PARAMETER, read_chains, ScpDocumentError))
    for name, read, invalid in readers:
        location = (parameters.get(name) or "").strip()
        if not location:
            continue
        try:
            document = read(clients, location)
        except invalid as error:
            report.problems.append(f"{name}: {error}; the rules that read it would answer every evaluation with "
                                   "an error")
            continue
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            report.notes.append(f"{name} {location}: this identity cannot read it ({code}); the rules read it with "
                                "their own role, which was not checked from here")
            continue
        if name == SCP_CHAINS_PARAMETER:
            chains, _ = document
            if chains.older_than(MAX_AGE, dt.datetime.now(dt.UTC)):  # as the rule judges it (scp.published_chain)
                report.notes.append(f"{name} {location}: generated {chains.generated_at:%Y-%m-%d %H:%M}Z, over "
                                    f"{MAX_AGE.total_seconds() / 3600:.0f} h old: the ENI rule keeps the Denies it "
                                    "shows but proves nothing else by it until `lambda-vpc-rules scps publish` runs "
                                    "again (docs/scp.md)")
        if getattr(options, "organization", False):
            report.notes.append(f"{name} {location}: readable from this account; member accounts read it "
                                f"through the bucket's policy, not checked from here")


def recorded_types(recorder: dict[str, Any], home: bool) -> tuple[bool, set[str], set[str]]:
    """(records every regional type, the types it names, the types it excludes) from a recording group."""
    group = recorder.get("recordingGroup") or {}
    strategy = (group.get("recordingStrategy") or {}).get("useOnly")
    if strategy == "ALL_SUPPORTED_RESOURCE_TYPES" or (strategy is None and group.get("allSupported", True)):
        return True, set(IAM_TYPES) if group.get("includeGlobalResourceTypes") else set(), set()
    if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
        return True, set(IAM_TYPES), set((group.get("exclusionByResourceTypes") or {}).get("resourceTypes") or ())
    return False, set(group.get("resourceTypes") or ()), set()


def _recorder(config: Any, region: str, home: bool, report: Preflight) -> None:
    recorders = config.describe_configuration_recorders().get("ConfigurationRecorders") or []
    if not recorders:
        report.problems.append(f"{region}: AWS Config has no configuration recorder in this account")
        return
    statuses = {s["name"]: s for s in config.describe_configuration_recorder_status().get(
        "ConfigurationRecordersStatus") or ()}
    recording = [r for r in recorders if statuses.get(r["name"], {}).get("recording")]
    if not recording:
        report.problems.append(f"{region}: AWS Config's recorder is not recording "
                               "(aws configservice start-configuration-recorder)")
        return
    needed = {t for rule in RULES for t in rule.scope if t not in IAM_TYPES}
    covered: set[str] = set()
    iam: set[str] = set()
    for recorder in recording:
        everything, named, excluded = recorded_types(recorder, home)
        regional = (needed - excluded) if everything else (named & needed)
        covered |= regional
        iam |= {t for t in IAM_TYPES if t in named and t not in excluded}
    if LAMBDA_TYPE not in covered:
        report.problems.append(f"{region}: AWS Config does not record {LAMBDA_TYPE}, the type every rule evaluates")
    missing = sorted(needed - covered - {LAMBDA_TYPE})
    if missing:
        report.notes.append(f"{region}: AWS Config does not record {', '.join(missing)}: changes to them re-evaluate "
                            "no function there (the periodic run still does)")
    if home and set(IAM_TYPES) - iam:
        report.notes.append(f"{region} (home): AWS Config does not record {', '.join(sorted(set(IAM_TYPES) - iam))}: "
                            "role and policy changes re-evaluate functions only where IAM types are recorded (one "
                            "region), elsewhere at the periodic run")


def _aggregator(config: Any, name: str, report: Preflight) -> None:
    try:
        found = config.describe_configuration_aggregators(ConfigurationAggregatorNames=[name])
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchConfigurationAggregatorException":
            return
        raise
    aggregators = found.get("ConfigurationAggregators") or []
    if not aggregators:
        return
    report.aggregator = aggregators[0]
    if not report.aggregator.get("OrganizationAggregationSource"):
        report.problems.append(f"aggregator {name} exists and is not organization-wide: choose another name with "
                               "--aggregator, or --no-aggregator")


def principal_arn(iam: Any, caller_arn: str) -> str | None:
    """The IAM principal behind the caller, for the policy simulator: a user as it is, an assumed role as its role
    (whose path the session ARN leaves out); None for the root user or a federated user."""
    parts = caller_arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    if resource.startswith("user/"):
        return caller_arn
    if resource.startswith("assumed-role/"):
        return iam.get_role(RoleName=resource.split("/")[1])["Role"]["Arn"]
    return None


def _permissions(clients: Any, identity: dict[str, str], actions: list[str], report: Preflight) -> None:
    iam = clients("iam")
    try:
        arn = principal_arn(iam, identity["Arn"])
        if arn is None:
            report.notes.append(f"permissions not simulated for {identity['Arn']}")
            return
        denied = []
        for start in range(0, len(actions), 100):
            answer = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions[start:start + 100])
            denied += [r["EvalActionName"] for r in answer.get("EvaluationResults") or ()
                       if r.get("EvalDecision") != "allowed"]
    except ClientError as error:
        report.notes.append(f"permissions could not be simulated ({error.response['Error']['Code']} on "
                            f"{error.operation_name}); deploy goes on, and a missing one stops it where needed")
        return
    except UnreadableAnswer as error:
        report.notes.append(f"permissions could not be simulated ({error}); deploy goes on")
        return
    if denied:
        report.problems.append(f"{arn} lacks {len(denied)} permission(s): {', '.join(sorted(denied))}")
