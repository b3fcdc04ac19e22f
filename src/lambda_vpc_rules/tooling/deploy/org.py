"""`deploy --organization`: the pack in every account of an organization, in every region given, including accounts
that join later. Run from the management account or (with `delegated_admin`) a delegated administrator; the
docs/deploying.md says why it is built this way and which AWS limits it respects.

1. the bundles uploaded to each region's bucket (as for one account), and a bucket policy statement letting the
   organization's principals read them (`aws:PrincipalOrgID`: one statement, whatever the number of accounts);
2. the IAM StackSet `<stack>-iam` (service-managed, automatic deployment, the organization root minus excluded
   accounts) in the home region: the functions' role, once per account; waited for;
3. one functions StackSet per region, `<stack>-<region>`, with its own parameters (that region's bucket, signing
   profile), automatic deployment depending on the IAM StackSet (so that an account joining later gets its role
   before its functions); all regions' operations run at once and are waited for;
   a StackSet never deploys to the management account: from there, the same two templates as plain stacks;
4. the organization conformance pack in each region (its rules invoke the function of the account and region
   they run in), minus excluded accounts (and the management account, from a delegated administrator); waited for;
5. an organization-wide AWS Config aggregator over the regions, created or reused by name;
6. the placements read back: per account and region, stack instances and pack status (`status.py`).

Every StackSet call carries `CallAs=DELEGATED_ADMIN` from a delegated administrator. Re-running adds what is
missing (a region, an account without an instance, an instance that failed), updates what changed, and leaves the
rest alone. Nothing sent to AWS grows with the number of accounts except the excluded-account list.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ...core.rules import RULES
from ..packaging import AGGREGATOR_ROLE_TEMPLATE, FUNCTIONS_TEMPLATE, IAM_TEMPLATE, PACK_TEMPLATE, template_text
from .preflight import Preflight, call_as
from .reconciler_deploy import deploy_reconciler
from .record import write_record
from .status import (
    NOT_APPLICABLE,
    Placement,
    aggregate_compliance,
    evaluation_summary,
    instance_status,
    judge,
    list_stack_instances,
    organization_pack_statuses,
    stack_status,
)
from .steps import (
    Artifacts,
    DeployError,
    DeployOptions,
    DeployResult,
    Progress,
    RegionalClients,
    apply_stack,
    bucket_name,
    deployment_tags,
    functions_parameters,
    functions_stack_set,
    iam_parameters,
    tagged_by,
    upload_artifacts,
)

ORG_READ_SID = "LambdaVpcRulesOrganizationRead"
OPERATION_DONE = ("SUCCEEDED", "FAILED", "STOPPED")
PACK_SETTLED = ("CREATE_SUCCESSFUL", "CREATE_FAILED", "UPDATE_SUCCESSFUL", "UPDATE_FAILED", "DELETE_FAILED")
AGGREGATOR_TAG = {"Key": "created-by", "Value": "lambda-vpc-rules"}


def iam_stack_set(options: DeployOptions) -> str:
    return f"{options.stack_name}-iam"


def aggregator_role_name(options: DeployOptions) -> str:
    """IAM is global: each deployment's aggregator has its own role (the default one keeps its name)."""
    from .stacks import AGGREGATOR_ROLE_NAME

    return AGGREGATOR_ROLE_NAME if options.deployment == "lambda-vpc-rules" else f"{options.deployment}-aggregator"[:64]


def aggregator_role_stack(options: DeployOptions) -> str:
    return f"{options.stack_name}-aggregator-role"


@dataclass(frozen=True)
class Scope:
    """Where the pack goes: the organization root minus excluded accounts."""

    root_id: str
    accounts: tuple[str, ...]  # active accounts in scope of the StackSets (the management account is never)
    excluded: tuple[str, ...]
    management: str
    delegated: bool

    @property
    def targets(self) -> dict[str, Any]:
        targets: dict[str, Any] = {"OrganizationalUnitIds": [self.root_id]}
        if self.excluded:
            targets.update(Accounts=list(self.excluded), AccountFilterType="DIFFERENCE")
        return targets

    @property
    def pack_excluded(self) -> list[str]:
        """The organization pack's ExcludedAccounts: the excluded ones, and the management account from a delegated
        administrator (its functions are a plain stack only the management account itself can create)."""
        return sorted({*self.excluded, *([self.management] if self.delegated else [])})


def scope_of(report: Preflight, options: DeployOptions) -> Scope:
    management = report.management_account or ""
    excluded = tuple(sorted(set(options.excluded_accounts)))
    accounts = tuple(a for a in report.accounts if a not in excluded and a != management)
    return Scope(report.root_id or "", accounts, excluded, management, options.delegated_admin)


def operation_preferences(options: DeployOptions) -> dict[str, Any]:
    """StackSet operation preferences (StackSetOperationPreferences): at most `max_concurrent_percentage` of the
    accounts at once, stopping a region at the first failed account beyond `failure_tolerance_percentage` (0 by
    default); SOFT_FAILURE_TOLERANCE keeps the concurrency whatever the tolerance (STRICT would run one account at
    a time with a tolerance of 0). They do not apply to automatic deployments (API reference)."""
    return {"RegionConcurrencyType": options.region_concurrency.upper(),
            "MaxConcurrentPercentage": options.max_concurrent_percentage,
            "FailureTolerancePercentage": options.failure_tolerance_percentage,
            "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}


def deploy_organization(clients: RegionalClients, options: DeployOptions, regions: list[str], identity: dict[str, str],
                        report: Preflight, progress: Progress) -> DeployResult:
    account = identity["Account"]
    partition = identity["Arn"].split(":")[1]
    scope = scope_of(report, options)
    org_id = report.organization["Id"] if report.organization else ""
    cloudformation = clients("cloudformation")  # StackSets live in the home region of the administrator account
    failures: list[str] = []

    owner = options.bucket_owner or account
    artifacts = upload_artifacts(clients, options, regions, progress, owner)
    for region in regions:
        bucket = bucket_name(options.bucket, region)
        action = allow_organization_read(clients("s3", region), bucket, options, org_id, partition, owner)
        progress(f"{region}: bucket policy of {bucket} (organization may read {options.code_root}*): {action}")

    # 2. the role, once per account
    iam_name = iam_stack_set(options)
    iam_arn, operations = ensure_stack_set(cloudformation, iam_name, template_text(IAM_TEMPLATE),
                                           iam_parameters(options), [], options, progress)
    operations += ensure_instances(cloudformation, iam_name, clients.home_region, scope, options, progress)
    failures += wait_for_operations(cloudformation, operations, options, progress)
    if not scope.delegated:
        action, _ = apply_stack(cloudformation, options.iam_stack_name, template_text(IAM_TEMPLATE),
                                iam_parameters(options), options)
        progress(f"management account: stack {options.iam_stack_name} ({clients.home_region}): {action}")

    # 3. the functions, one StackSet per region (its own parameters; instances per StackSet: the accounts). The
    # first region is the canary: nothing goes further until it succeeded; then the others one after another
    # (or, with region_concurrency "parallel", all at once). A failed region stops the rollout.
    operations = []
    for index, region in enumerate(regions):
        name = functions_stack_set(options, region)
        _, started = ensure_stack_set(cloudformation, name, template_text(FUNCTIONS_TEMPLATE),
                                      functions_parameters(options, region, artifacts), [iam_arn], options, progress)
        operations += started
        operations += ensure_instances(cloudformation, name, region, scope, options, progress)
        last = index == len(regions) - 1
        if not last and (index == 0 or options.region_concurrency == "sequential"):
            stopped = wait_for_operations(cloudformation, operations, options, progress)
            operations = []
            if stopped:
                rest = ", ".join(regions[index + 1:])
                which = "the canary region" if index == 0 else "a failed region"
                failures += stopped + [f"rollout stopped in {region} ({which}): {rest} left as they were; fix the "
                                       "failure and deploy again"]
                rows = organization_placements(clients, options, regions, scope, account)
                failures += [failure for row in rows for failure in row.failures()]
                return DeployResult(account, artifacts.prefix, regions, {}, [rule.config_rule_name for rule in RULES],
                                    member_accounts=list(scope.accounts), rows=rows, failures=failures,
                                    notes=report.notes + artifacts.notes)
    failures += wait_for_operations(cloudformation, operations, options, progress)
    functions: dict[str, str] = {}
    if not scope.delegated:
        for region in regions:
            action, outputs = apply_stack(clients("cloudformation", region), options.stack_name,
                                          template_text(FUNCTIONS_TEMPLATE),
                                          functions_parameters(options, region, artifacts), options)
            progress(f"management account: stack {options.stack_name} ({region}): {action}")
            if region == clients.home_region:
                functions = {r.config_rule_name: outputs[f"{r.logical_id}FunctionArn"] for r in RULES}

    # 4. the rules, in every account of the organization; and the reconciler that re-submits the pack where it
    # failed for want of functions (an account that joins gets the pack and its functions in no set order)
    for region in regions:
        put_organization_pack(clients("config", region), options, region, artifacts, scope, progress)
    pack_failures = {region: wait_for_organization_pack(clients("config", region), options, region, progress)
                     for region in regions}
    reconciler = deploy_reconciler(clients, options, regions, artifacts, owner, progress)

    # 5. one view of the organization
    aggregator_created = False
    if options.aggregator:
        aggregator_created = ensure_aggregator(clients, options, regions, report, progress)
    write_record(clients, options, regions, artifacts, owner, identity, progress, extra={
        "organization": True, "delegated_admin": options.delegated_admin, "pack_name": options.pack_name,
        "aggregator": options.aggregator, "aggregator_created": aggregator_created, "reconciler": reconciler,
        "stack_sets": [iam_name, *(functions_stack_set(options, region) for region in regions)]})

    rows = organization_placements(clients, options, regions, scope, account)
    # A region's pack failed: the accounts it failed in say so; the pack's own line only where none does.
    named = {row.region for row in rows if row.failed}
    failures += [line for region, lines in pack_failures.items() if region not in named for line in lines]
    failures += [failure for row in rows for failure in row.failures()]
    return DeployResult(account, artifacts.prefix, regions, functions, [rule.config_rule_name for rule in RULES],
                        member_accounts=list(scope.accounts), rows=rows, failures=failures,
                        notes=report.notes + artifacts.notes)


# ------------------------------------------------------------------------------------------ S3


def org_read_sid(options: DeployOptions) -> str:
    """The deployment's own statement in a shared bucket's policy (a Sid is alphanumeric)."""
    if options.deployment == "lambda-vpc-rules":
        return ORG_READ_SID
    return ORG_READ_SID + hashlib.sha256(options.deployment.encode()).hexdigest()[:12]


def allow_organization_read(s3: Any, bucket: str, options: DeployOptions, org_id: str, partition: str, owner: str
                            ) -> str:
    """One statement in the bucket policy letting principals of the organization read the deployment's bundles at
    the versions deployed (StackSets create each member account's functions with that account's credentials;
    S3ObjectVersion reads with s3:GetObjectVersion). Added or updated; others kept."""
    sid = org_read_sid(options)
    statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": f"arn:{partition}:s3:::{bucket}/{options.code_root}*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
    }
    policy = current_bucket_policy(s3, bucket, owner)
    others = [s for s in policy.get("Statement", []) if s.get("Sid") != sid]
    if any(s == statement for s in policy.get("Statement", [])):
        return "unchanged"
    action = "updated" if len(others) < len(policy.get("Statement", [])) else "added"
    policy = {"Version": policy.get("Version", "2012-10-17"), **{k: v for k, v in policy.items() if k not in (
        "Version", "Statement")}, "Statement": [*others, statement]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy), ExpectedBucketOwner=owner)
    return action


def current_bucket_policy(s3: Any, bucket: str, owner: str) -> dict[str, Any]:
    try:
        return json.loads(s3.get_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucketPolicy":
            return {}
        raise


# ------------------------------------------------------------------------------------------ StackSets


def ensure_stack_set(cloudformation: Any, name: str, body: str, parameters: dict[str, str], depends_on: list[str],
                     options: DeployOptions, progress: Progress) -> tuple[str, list[tuple[str, str]]]:
    """Create the service-managed StackSet, or update it if its template, parameters or automatic deployment
    changed (which updates every instance), or leave it alone: (its ARN, the operations started)."""
    ca = call_as(options)
    auto = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    if depends_on:
        auto["DependsOn"] = depends_on
    wanted = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    existing = describe_stack_set(cloudformation, name, ca)
    if existing is None:
        cloudformation.create_stack_set(
            StackSetName=name, Description=f"lambda-vpc-rules: {name}", TemplateBody=body, Parameters=wanted,
            Capabilities=["CAPABILITY_NAMED_IAM"], PermissionModel="SERVICE_MANAGED", AutoDeployment=auto,
            Tags=deployment_tags(options), **ca)
        progress(f"StackSet {name}: created")
        return describe_stack_set(cloudformation, name, ca)["StackSetARN"], []
    current = {p["ParameterKey"]: p.get("ParameterValue") for p in existing.get("Parameters") or ()}
    known_auto = existing.get("AutoDeployment")
    same_auto = known_auto is None or (
        bool(known_auto.get("Enabled")) and not known_auto.get("RetainStacksOnAccountRemoval")
        and sorted(known_auto.get("DependsOn") or []) == sorted(depends_on))
    if existing.get("Tags") and not tagged_by(existing["Tags"], options):
        raise DeployError(f"StackSet {name} belongs to another deployment ({existing['Tags']}): choose another "
                          "--stack-name")
    if existing.get("TemplateBody") == body and current == parameters and same_auto and tagged_by(
            existing.get("Tags"), options):
        progress(f"StackSet {name}: unchanged")
        return existing["StackSetARN"], []
    answer = _when_idle(cloudformation, name, ca, options, lambda: cloudformation.update_stack_set(
        StackSetName=name, TemplateBody=body, Parameters=wanted, Capabilities=["CAPABILITY_NAMED_IAM"],
        AutoDeployment=auto, OperationPreferences=operation_preferences(options), Tags=deployment_tags(options),
        **ca))
    progress(f"StackSet {name}: updating every instance (operation {answer['OperationId']})")
    return existing["StackSetARN"], [(name, answer["OperationId"])]


def describe_stack_set(cloudformation: Any, name: str, ca: dict[str, str]) -> dict[str, Any] | None:
    try:
        return cloudformation.describe_stack_set(StackSetName=name, **ca)["StackSet"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "StackSetNotFoundException":
            return None
        raise


def ensure_instances(cloudformation: Any, name: str, region: str, scope: Scope, options: DeployOptions,
                     progress: Progress) -> list[tuple[str, str]]:
    """Instances in `region` for every account in scope: created for the organization root where the region has
    none; for the accounts that have none (added while automatic deployment could not reach them); re-run where
    the last attempt failed. An account's instance that is there and current is left alone."""
    ca = call_as(options)
    instances = [i for i in list_stack_instances(cloudformation, name, ca) if i.get("Region") == region]
    have = {i["Account"] for i in instances}
    failed = sorted(i["Account"] for i in instances if instance_status(i)[0] in ("FAILED", "CANCELLED"))
    missing = sorted(set(scope.accounts) - have)
    preferences = operation_preferences(options)
    started = []
    if not instances or missing:
        targets = scope.targets if not instances else {"OrganizationalUnitIds": [scope.root_id], "Accounts": missing,
                                                       "AccountFilterType": "INTERSECTION"}
        answer = _when_idle(cloudformation, name, ca, options, lambda: cloudformation.create_stack_instances(
            StackSetName=name, DeploymentTargets=targets, Regions=[region], OperationPreferences=preferences, **ca))
        what = "the organization" if not instances else f"{len(missing)} account(s) without one"
        progress(f"StackSet {name}: creating instances in {region} for {what} (operation {answer['OperationId']})")
        started.append((name, answer["OperationId"]))
    if failed:
        answer = _when_idle(cloudformation, name, ca, options, lambda: cloudformation.update_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [scope.root_id], "Accounts": failed,
                                                  "AccountFilterType": "INTERSECTION"},
            Regions=[region], OperationPreferences=preferences, **ca))
        progress(f"StackSet {name}: retrying {len(failed)} failed instance(s) in {region} "
                 f"(operation {answer['OperationId']})")
        started.append((name, answer["OperationId"]))
    if not started:
        progress(f"StackSet {name}: {len(instances)} instance(s) in {region}, none missing")
    return started


def _when_idle(cloudformation: Any, name: str, ca: dict[str, str], options: DeployOptions, call: Any) -> Any:
    """`call`, after waiting out an operation already running on the StackSet (an automatic deployment, say):
    StackSets runs one operation at a time (OperationInProgressException)."""
    deadline = time.monotonic() + options.timeout
    while True:
        try:
            return call()
        except ClientError as error:
            if error.response["Error"]["Code"] != "OperationInProgressException" or time.monotonic() > deadline:
                raise
        time.sleep(options.waiter_delay)


def wait_for_operations(cloudformation: Any, operations: list[tuple[str, str]], options: DeployOptions,
                        progress: Progress) -> list[str]:
    """Until every operation is done (DescribeStackSetOperation); returns one line per operation that did not
    succeed (the instances that failed are named by the read-back)."""
    ca = call_as(options)
    pending = list(operations)
    failures: list[str] = []
    started = time.monotonic()
    while pending:
        for name, operation_id in list(pending):
            operation = cloudformation.describe_stack_set_operation(StackSetName=name, OperationId=operation_id,
                                                                    **ca)["StackSetOperation"]
            status = operation["Status"]
            if status in OPERATION_DONE:
                pending.remove((name, operation_id))
                detail = f": {operation['StatusReason']}" if operation.get("StatusReason") else ""
                progress(f"StackSet {name}: operation {operation_id} {status} after "
                         f"{time.monotonic() - started:.0f} s{detail}")
                if status != "SUCCEEDED":
                    failures.append(f"StackSet {name}: operation {operation_id} {status}{detail}")
        if pending:
            if time.monotonic() - started > options.timeout:
                names = ", ".join(name for name, _ in pending)
                raise DeployError(f"StackSet operation(s) still running after {options.timeout:.0f} s: {names}; "
                                  "lambda-vpc-rules status shows where they are")
            time.sleep(options.waiter_delay)
    return failures


# ------------------------------------------------------------------------------------------ rules


def put_organization_pack(config: Any, options: DeployOptions, region: str, artifacts: Artifacts, scope: Scope,
                          progress: Progress) -> None:
    config.put_organization_conformance_pack(  # the template itself: no S3 object anyone could replace meanwhile
        OrganizationConformancePackName=options.pack_name,
        TemplateBody=template_text(PACK_TEMPLATE),
        ConformancePackInputParameters=[{"ParameterName": k, "ParameterValue": v}
                                        for k, v in options.pack_inputs.items()],
        ExcludedAccounts=scope.pack_excluded,
    )
    progress(f"{region}: organization conformance pack {options.pack_name} submitted "
             f"({len(scope.pack_excluded)} account(s) excluded)")


def wait_for_organization_pack(config: Any, options: DeployOptions, region: str, progress: Progress) -> list[str]:
    """Until the organization pack's deployment settles (DescribeOrganizationConformancePackStatuses)."""
    deadline = time.monotonic() + options.timeout
    while True:
        answer = config.describe_organization_conformance_pack_statuses(
            OrganizationConformancePackNames=[options.pack_name])
        [status] = answer["OrganizationConformancePackStatuses"]
        if status["Status"] in PACK_SETTLED:
            detail = f" ({status['ErrorCode']}: {status.get('ErrorMessage', '')})" if status.get("ErrorCode") else ""
            progress(f"{region}: organization conformance pack {options.pack_name}: {status['Status']}{detail}")
            return [] if status["Status"].endswith("SUCCESSFUL") else [
                f"{region}: organization conformance pack {options.pack_name} {status['Status']}{detail}"]
        if time.monotonic() > deadline:
            raise DeployError(f"{region}: organization conformance pack {options.pack_name} still {status['Status']} "
                              f"after {options.timeout:.0f} s; lambda-vpc-rules status shows where it is")
        time.sleep(options.waiter_delay)


# ------------------------------------------------------------------------------------------ aggregator


def ensure_aggregator(clients: RegionalClients, options: DeployOptions, regions: list[str], report: Preflight,
                      progress: Progress) -> bool:
    """An organization-wide aggregator over the deployed regions in this account: reused by name (its regions
    extended if need be), or created with its own role. Whether this deployment created it."""
    config = clients("config")
    name = options.aggregator
    existing = report.aggregator
    if existing:
        source = existing["OrganizationAggregationSource"]
        covered = set(source.get("AwsRegions") or ())
        if source.get("AllAwsRegions") or set(regions) <= covered:
            progress(f"aggregator {name}: reused, unchanged")
            return False
        config.put_configuration_aggregator(ConfigurationAggregatorName=name, OrganizationAggregationSource={
            "RoleArn": source["RoleArn"], "AwsRegions": sorted(covered | set(regions))})
        progress(f"aggregator {name}: reused, regions added: {', '.join(sorted(set(regions) - covered))}")
        return False
    _, outputs = apply_stack(clients("cloudformation"), aggregator_role_stack(options),
                             template_text(AGGREGATOR_ROLE_TEMPLATE), {"RoleName": aggregator_role_name(options)},
                             options)
    role = outputs["AggregatorRoleArn"]
    deadline = time.monotonic() + options.timeout
    while True:  # a new role takes a moment to be usable (IAM is eventually consistent)
        try:
            config.put_configuration_aggregator(
                ConfigurationAggregatorName=name,
                OrganizationAggregationSource={"RoleArn": role, "AwsRegions": sorted(regions)},
                Tags=[AGGREGATOR_TAG, *deployment_tags(options)])
            break
        except ClientError as error:
            if error.response["Error"]["Code"] != "InvalidRoleException" or time.monotonic() > deadline:
                raise
            time.sleep(options.waiter_delay)
    progress(f"aggregator {name}: created over {', '.join(sorted(regions))}")
    return True


# ------------------------------------------------------------------------------------------ read back


def organization_placements(clients: RegionalClients, options: DeployOptions, regions: list[str], scope: Scope,
                            account: str, extras: bool = False) -> list[Placement]:
    """One row per account in scope and region: its instances of the IAM and the functions StackSets (the
    management account: its plain stacks), and its status for the organization pack. With `extras`: the pack's
    compliance through the aggregator, and the evaluations of the rules in this account."""
    ca = call_as(options)
    cloudformation = clients("cloudformation")
    role = {i["Account"]: i for i in list_stack_instances(cloudformation, iam_stack_set(options), ca)
            if i.get("Region") == clients.home_region}
    compliance: dict[tuple[str, str], str] = {}
    if extras and options.aggregator:
        try:
            compliance = aggregate_compliance(clients("config"), options.aggregator, options.pack_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchConfigurationAggregatorException":
                raise
    accounts = list(scope.accounts) + ([scope.management] if not scope.delegated and scope.management else [])
    rows = []
    for region in regions:
        functions = {i["Account"]: i for i in list_stack_instances(cloudformation, functions_stack_set(options, region),
                                                                   ca) if i.get("Region") == region}
        packs = organization_pack_statuses(clients("config", region), options.pack_name)
        for member in accounts:
            row = Placement(member, region)
            home = region == clients.home_region
            if member == scope.management and not scope.delegated:
                if home:
                    row.role, reason = stack_status(cloudformation, options.iam_stack_name)
                    if reason:
                        row.detail.append(f"role: {reason}")
                row.functions, reason = stack_status(clients("cloudformation", region), options.stack_name)
                if reason:
                    row.detail.append(f"functions: {reason}")
            else:
                if home:
                    row.role, reason = instance_status(role[member]) if member in role else ("missing", "")
                    if reason:
                        row.detail.append(f"role: {reason}")
                row.functions, reason = (instance_status(functions[member]) if member in functions
                                         else ("missing", ""))
                if reason:
                    row.detail.append(f"functions: {reason}")
            pack_expected = member not in scope.pack_excluded
            if packs is None:
                row.pack = "missing"
            elif member in packs:
                row.pack = packs[member]["Status"]
                if packs[member].get("ErrorCode"):
                    row.detail.append(f"pack: {packs[member]['ErrorCode']}: {packs[member].get('ErrorMessage', '')}")
            elif member == scope.management:
                row.pack = NOT_APPLICABLE  # AWS Config may not list the management account among the members
            row.compliance = compliance.get((member, region), NOT_APPLICABLE)
            if extras and member == account:
                row.evaluations = evaluation_summary(clients("config", region))
            rows.append(judge(row, role_expected=home, pack_expected=pack_expected))
    return rows
