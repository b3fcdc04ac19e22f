"""`lambda-vpc-rules destroy`: remove what `deploy` created - only what carries this deployment's identity (its
`--stack-name`: the DEPLOYMENT_TAG on stacks, StackSets, S3 objects, Config rules and the aggregator, and the
deployment record for what AWS cannot tag, the conformance packs) - in the order that leaves nothing dangling.

1. the rules first (the organization conformance pack, whose deletion removes each account's, or this account's
   pack or plain rules), so that AWS Config stops invoking the functions; waited for;
2. the aggregator, if this deployment created it (its tag), and its role's stack; the pack's reconciler;
3. the functions: each of the deployment's functions StackSets (found by their tag, their regions read from their
   instances, never from their names): its instances (deleted by deployment target, the organization root, as
   StackSets with service-managed permissions require), then the StackSet; this account's functions stacks;
4. the role: the IAM StackSet's instances and StackSet; this account's IAM stack;
5. with `legacy`, the earlier central-function layout's member-role StackSet and stack;
6. the deployment's objects (under `<key-prefix><stack-name>/`, each version carrying its tag), the bucket policy
   statement deploy added for it, and last the record.

An empty or bucket-wide `--key-prefix` is refused. What is not there, or is another deployment's, is skipped (and
said), so destroy can be re-run after a partial failure, and never touches a second deployment. Returns one line
per failure.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ...core.rules import RULES
from .org import (
    AGGREGATOR_TAG,
    aggregator_role_stack,
    current_bucket_policy,
    describe_stack_set,
    iam_stack_set,
    org_read_sid,
    wait_for_operations,
)
from .preflight import LEGACY_STACK_SET, call_as
from .reconciler_deploy import reconciler_stack
from .record import read_record, record_key
from .steps import (
    DEPLOYMENT_TAG,
    DeployOptions,
    Progress,
    RegionalClients,
    bucket_name,
    check_key_prefix,
    stack_exists,
    tagged_by,
)


def destroy(clients: RegionalClients, options: DeployOptions, regions: list[str], progress: Progress,
            legacy: bool = False) -> list[str]:
    check_key_prefix(options)
    failures: list[str] = []
    ca = call_as(options)
    account = clients("sts").get_caller_identity()["Account"]
    owner = options.bucket_owner or account
    record = read_record(clients, options, owner)
    if record is None:
        progress(f"no deployment record of {options.deployment}: conformance packs are left alone (only the record "
                 "proves them this deployment's); everything tagged as its own goes")
    root_id = None
    stack_sets: dict[str, list[str]] = {}
    if options.organization:
        root_id = clients("organizations").list_roots()["Roots"][0]["Id"]
        stack_sets = owned_stack_sets(clients("cloudformation"), options)
        instance_regions = {region for found in stack_sets.values() for region in found}
        regions = sorted(set(regions) | instance_regions | set((record or {}).get("regions") or ()),
                         key=lambda r: (r != clients.home_region, r))
    # 1. the rules
    for region in regions:
        config = clients("config", region)
        if options.organization:
            failures += _delete_organization_pack(config, options, region, progress, record)
        else:
            failures += _delete_account_rules(config, options, region, progress, record)
    # 2. the aggregator, the reconciler
    if options.organization and options.aggregator:
        _delete_aggregator(clients, options, progress)
    failures += _delete_stack(clients("cloudformation"), reconciler_stack(options), options, clients.home_region,
                              progress)
    # 3 and 4. the functions, then the role
    if options.organization:
        cloudformation = clients("cloudformation")
        iam_name = iam_stack_set(options)
        functions = [(name, found) for name, found in sorted(stack_sets.items()) if name != iam_name]
        failures += _delete_stack_sets(cloudformation, functions, root_id, ca, options, progress)
        if iam_name in stack_sets:
            failures += _delete_stack_sets(cloudformation, [(iam_name, stack_sets[iam_name])], root_id, ca, options,
                                           progress)
    for region in regions:
        failures += _delete_stack(clients("cloudformation", region), options.stack_name, options, region, progress)
    failures += _delete_stack(clients("cloudformation"), options.iam_stack_name, options, clients.home_region,
                              progress)
    # 5. the central-function layout
    if legacy:
        if options.organization:
            failures += _delete_stack_sets(clients("cloudformation"), [(LEGACY_STACK_SET, [])], root_id, ca,
                                           options, progress, owned=False)
        failures += _delete_stack(clients("cloudformation"), LEGACY_STACK_SET, options, clients.home_region,
                                  progress, owned=False)
    # 6. the artifacts, the record last
    if not failures:
        for region in sorted(regions, key=lambda r: r == clients.home_region):  # the record's region last
            _delete_artifacts(clients("s3", region), bucket_name(options.bucket, region), options, region, progress,
                              owner, keep_record=region != clients.home_region)
    else:
        progress("objects and record kept: something above failed, and a re-run needs the record")
    return failures


def owned_stack_sets(cloudformation: Any, options: DeployOptions) -> dict[str, list[str]]:
    """The deployment's StackSets (their tag, DescribeStackSet), each with the regions its instances are in."""
    from .status import list_stack_instances

    ca = call_as(options)
    found: dict[str, list[str]] = {}
    for page in cloudformation.get_paginator("list_stack_sets").paginate(Status="ACTIVE", **ca):
        for summary in page["Summaries"]:
            if summary.get("Status", "ACTIVE") != "ACTIVE":
                continue
            described = describe_stack_set(cloudformation, summary["StackSetName"], ca)
            if described is not None and tagged_by(described.get("Tags"), options):
                found[summary["StackSetName"]] = sorted({i["Region"] for i in list_stack_instances(
                    cloudformation, summary["StackSetName"], ca)})
    return found


def _owns_pack(options: DeployOptions, record: dict[str, Any] | None) -> bool:
    return bool(record) and (record or {}).get("pack_name") == options.pack_name


def _delete_organization_pack(config: Any, options: DeployOptions, region: str, progress: Progress,
                              record: dict[str, Any] | None) -> list[str]:
    if not _owns_pack(options, record):
        progress(f"{region}: organization conformance pack {options.pack_name}: not recorded as this deployment's, "
                 "left alone")
        return []
    try:
        config.delete_organization_conformance_pack(OrganizationConformancePackName=options.pack_name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchOrganizationConformancePackException":
            return []
        raise
    deadline = time.monotonic() + options.timeout
    while True:
        try:
            answer = config.describe_organization_conformance_pack_statuses(
                OrganizationConformancePackNames=[options.pack_name])
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchOrganizationConformancePackException":
                progress(f"{region}: organization conformance pack {options.pack_name}: deleted")
                return []
            raise
        statuses = answer.get("OrganizationConformancePackStatuses") or []
        if not statuses or statuses[0]["Status"] == "DELETE_SUCCESSFUL":
            progress(f"{region}: organization conformance pack {options.pack_name}: deleted")
            return []
        if statuses[0]["Status"] == "DELETE_FAILED":
            return [f"{region}: organization conformance pack {options.pack_name} DELETE_FAILED "
                    f"({statuses[0].get('ErrorCode', '')}: {statuses[0].get('ErrorMessage', '')})"]
        if time.monotonic() > deadline:
            return [f"{region}: organization conformance pack {options.pack_name} still {statuses[0]['Status']}"]
        time.sleep(options.waiter_delay)


def _delete_account_rules(config: Any, options: DeployOptions, region: str, progress: Progress,
                          record: dict[str, Any] | None) -> list[str]:
    """This account's conformance pack (if the record says it is this deployment's), or the plain rules of `--mode
    rules` that carry the deployment's tag."""
    if _owns_pack(options, record):
        try:
            config.delete_conformance_pack(ConformancePackName=options.pack_name)
            progress(f"{region}: conformance pack {options.pack_name}: deleted")
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchConformancePackException":
                raise
    try:
        rules = config.describe_config_rules(ConfigRuleNames=[rule.config_rule_name for rule in RULES])["ConfigRules"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchConfigRuleException":
            raise
        rules = [r for name in (rule.config_rule_name for rule in RULES) for r in _config_rule(config, name)]
    for rule in rules:
        tags = config.list_tags_for_resource(ResourceArn=rule["ConfigRuleArn"]).get("Tags") or []
        if not tagged_by(tags, options):
            progress(f"{region}: Config rule {rule['ConfigRuleName']}: not this deployment's, left alone")
            continue
        config.delete_config_rule(ConfigRuleName=rule["ConfigRuleName"])
        progress(f"{region}: Config rule {rule['ConfigRuleName']}: deleted")
    return []


def _config_rule(config: Any, name: str) -> list[dict[str, Any]]:
    try:
        return config.describe_config_rules(ConfigRuleNames=[name])["ConfigRules"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchConfigRuleException":
            return []
        raise


def _delete_aggregator(clients: RegionalClients, options: DeployOptions, progress: Progress) -> None:
    config = clients("config")
    try:
        [aggregator] = config.describe_configuration_aggregators(
            ConfigurationAggregatorNames=[options.aggregator])["ConfigurationAggregators"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchConfigurationAggregatorException":
            raise
        aggregator = None
    if aggregator is not None:
        tags = config.list_tags_for_resource(ResourceArn=aggregator["ConfigurationAggregatorArn"]).get("Tags") or []
        if tagged_by(tags, options) or (AGGREGATOR_TAG in tags and options.deployment == "lambda-vpc-rules"
                                        and not any(t.get("Key") == DEPLOYMENT_TAG for t in tags)):
            config.delete_configuration_aggregator(ConfigurationAggregatorName=options.aggregator)
            progress(f"aggregator {options.aggregator}: deleted")
        else:
            progress(f"aggregator {options.aggregator}: not created by deploy, left alone")
    _delete_stack(clients("cloudformation"), aggregator_role_stack(options), options, clients.home_region, progress)


def _delete_stack_sets(cloudformation: Any, names: list[tuple[str, list[str]]], root_id: str | None,
                       ca: dict[str, str], options: DeployOptions, progress: Progress, owned: bool = True
                       ) -> list[str]:
    """Each StackSet's instances (in the regions they are in), all operations at once, then the StackSets. Only
    StackSets carrying the deployment's tag (`owned`; the legacy layout's has none)."""
    from .status import list_stack_instances

    operations, present = [], []
    for name, _ in names:
        described = describe_stack_set(cloudformation, name, ca)
        if described is None:
            continue
        if owned and not tagged_by(described.get("Tags"), options):
            progress(f"StackSet {name}: not this deployment's, left alone")
            continue
        present.append(name)
        instance_regions = sorted({i["Region"] for i in list_stack_instances(cloudformation, name, ca)})
        if not instance_regions:
            continue
        answer = cloudformation.delete_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [root_id]},
            Regions=instance_regions, RetainStacks=False,
            OperationPreferences={"RegionConcurrencyType": "PARALLEL",
                                  "MaxConcurrentPercentage": options.max_concurrent_percentage,
                                  "FailureTolerancePercentage": options.failure_tolerance_percentage,
                                  "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}, **ca)
        progress(f"StackSet {name}: deleting its instances (operation {answer['OperationId']})")
        operations.append((name, answer["OperationId"]))
    failures = wait_for_operations(cloudformation, operations, options, progress)
    for name in present:
        try:
            cloudformation.delete_stack_set(StackSetName=name, **ca)
            progress(f"StackSet {name}: deleted")
        except ClientError as error:
            failures.append(f"StackSet {name}: {error.response['Error']['Code']}: "
                            f"{error.response['Error'].get('Message', '')}")
    return failures


def _delete_stack(cloudformation: Any, name: str, options: DeployOptions, region: str, progress: Progress,
                  owned: bool = True) -> list[str]:
    if not stack_exists(cloudformation, name):
        return []
    if owned:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if not tagged_by(stack.get("Tags"), options):
            progress(f"{region}: stack {name}: not this deployment's (no {DEPLOYMENT_TAG}={options.deployment} tag), "
                     "left alone")
            return []
    cloudformation.delete_stack(StackName=name)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={
            "Delay": max(1, int(options.waiter_delay)),
            "MaxAttempts": max(1, int(options.timeout / max(options.waiter_delay, 1)))})
    except WaiterError as error:
        return [f"{region}: stack {name} was not deleted: {error}"]
    progress(f"{region}: stack {name}: deleted")
    return []


def _delete_artifacts(s3: Any, bucket: str, options: DeployOptions, region: str, progress: Progress, owner: str,
                      keep_record: bool) -> None:
    """Every version under the deployment's own prefix that carries its tag; its bucket policy statement."""
    record = record_key(options)
    try:
        versions = [(item["Key"], item.get("VersionId")) for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=options.code_root, ExpectedBucketOwner=owner)
            for item in [*(page.get("Versions") or ()), *(page.get("DeleteMarkers") or ())]]
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucket":
            return
        raise
    ours, others = [], 0
    for key, version in versions:
        if keep_record and key == record:
            continue
        selector = {"VersionId": version} if version and version != "null" else {}
        try:
            tags = s3.get_object_tagging(Bucket=bucket, Key=key, ExpectedBucketOwner=owner, **selector)["TagSet"]
        except ClientError as error:  # a delete marker has no tags: it goes with the versions it hides
            if error.response["Error"]["Code"] not in ("MethodNotAllowed", "NoSuchKey", "405", "404"):
                raise
            tags = [{"Key": DEPLOYMENT_TAG, "Value": options.deployment}]
        if tagged_by(tags, options):
            ours.append({"Key": key, **selector})
        else:
            others += 1
    ours.sort(key=lambda item: item["Key"] == record)  # the record last
    for start in range(0, len(ours), 1000):  # DeleteObjects takes at most 1,000 keys
        s3.delete_objects(Bucket=bucket, Delete={"Objects": ours[start:start + 1000], "Quiet": True},
                          ExpectedBucketOwner=owner)
    sid = org_read_sid(options)
    policy = current_bucket_policy(s3, bucket, owner)
    kept = [s for s in policy.get("Statement", []) if s.get("Sid") != sid]
    if len(kept) != len(policy.get("Statement", [])):
        if kept:
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**policy, "Statement": kept}),
                                 ExpectedBucketOwner=owner)
        else:
            s3.delete_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner)
    progress(f"{region}: s3://{bucket}/{options.code_root}: {len(ours)} object version(s) deleted"
             + (f", {others} not carrying the deployment's tag left alone" if others else ""))
