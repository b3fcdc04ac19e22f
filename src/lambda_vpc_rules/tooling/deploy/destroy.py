"""`lambda-vpc-rules destroy`: remove what `deploy` created, in the order that leaves nothing dangling.

1. the rules first (the organization conformance pack, whose deletion removes each account's, or this account's
   pack or plain rules), so that AWS Config stops invoking the functions; waited for;
2. the aggregator, if deploy created it (its `created-by` tag), and its role's stack;
3. the functions: each region's StackSet instances (deleted by deployment target, the organization root, as
   StackSets with service-managed permissions require), then the StackSet; this account's functions stacks;
4. the role: the IAM StackSet's instances and StackSet; this account's IAM stack;
5. with `legacy`, the earlier central-function layout's member-role StackSet and stack;
6. the uploaded objects under the key prefix, and the bucket policy statement deploy added.

What is not there is skipped, so destroy can be re-run after a partial failure. Returns one line per failure.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ...core.rules import RULES
from .org import (
    AGGREGATOR_TAG,
    ORG_READ_SID,
    aggregator_role_stack,
    current_bucket_policy,
    describe_stack_set,
    functions_stack_set,
    iam_stack_set,
    wait_for_operations,
)
from .preflight import LEGACY_STACK_SET, call_as
from .steps import DeployOptions, Progress, RegionalClients, bucket_name, stack_exists


def destroy(clients: RegionalClients, options: DeployOptions, regions: list[str], progress: Progress,
            legacy: bool = False) -> list[str]:
    failures: list[str] = []
    ca = call_as(options)
    root_id = None
    if options.organization:
        root_id = clients("organizations").list_roots()["Roots"][0]["Id"]
        regions = sorted(set(regions) | _stack_set_regions(clients, options), key=lambda r: (r != clients.home_region,
                                                                                              r))
    # 1. the rules
    for region in regions:
        config = clients("config", region)
        if options.organization:
            failures += _delete_organization_pack(config, options, region, progress)
        else:
            failures += _delete_account_rules(config, options, region, progress)
    # 2. the aggregator
    if options.organization and options.aggregator:
        _delete_aggregator(clients, options, progress)
    # 3 and 4. the functions, then the role
    if options.organization:
        cloudformation = clients("cloudformation")
        names = [(functions_stack_set(options, region), [region]) for region in regions]
        failures += _delete_stack_sets(cloudformation, names, root_id, ca, options, progress)
        failures += _delete_stack_sets(cloudformation, [(iam_stack_set(options), None)], root_id, ca, options,
                                       progress)
    for region in regions:
        failures += _delete_stack(clients("cloudformation", region), options.stack_name, options, region, progress)
    failures += _delete_stack(clients("cloudformation"), options.iam_stack_name, options, clients.home_region,
                              progress)
    # 5. the central-function layout
    if legacy:
        if options.organization:
            failures += _delete_stack_sets(clients("cloudformation"), [(LEGACY_STACK_SET, None)], root_id, ca,
                                           options, progress)
        failures += _delete_stack(clients("cloudformation"), LEGACY_STACK_SET, options, clients.home_region,
                                  progress)
    # 6. the artifacts
    for region in regions:
        _delete_artifacts(clients("s3", region), bucket_name(options.bucket, region), options, region, progress)
    return failures


def _stack_set_regions(clients: RegionalClients, options: DeployOptions) -> set[str]:
    """The regions with a functions StackSet of this deployment (`<stack>-<region>`)."""
    prefix = f"{options.stack_name}-"
    found = set()
    paginator = clients("cloudformation").get_paginator("list_stack_sets")
    for page in paginator.paginate(Status="ACTIVE", **call_as(options)):
        for summary in page["Summaries"]:
            if summary.get("Status", "ACTIVE") != "ACTIVE":
                continue
            name = summary["StackSetName"]
            rest = name[len(prefix):] if name.startswith(prefix) else ""
            if rest and rest not in ("iam", "aggregator-role") and rest.count("-") >= 2:
                found.add(rest)
    return found


def _delete_organization_pack(config: Any, options: DeployOptions, region: str, progress: Progress) -> list[str]:
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


def _delete_account_rules(config: Any, options: DeployOptions, region: str, progress: Progress) -> list[str]:
    """This account's conformance pack, or the plain rules of `--mode rules`."""
    try:
        config.delete_conformance_pack(ConformancePackName=options.pack_name)
        progress(f"{region}: conformance pack {options.pack_name}: deleted")
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchConformancePackException":
            raise
    for rule in RULES:
        try:
            config.delete_config_rule(ConfigRuleName=rule.config_rule_name)
            progress(f"{region}: Config rule {rule.config_rule_name}: deleted")
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchConfigRuleException":
                raise
    return []


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
        if AGGREGATOR_TAG in tags:
            config.delete_configuration_aggregator(ConfigurationAggregatorName=options.aggregator)
            progress(f"aggregator {options.aggregator}: deleted")
        else:
            progress(f"aggregator {options.aggregator}: not created by deploy, left alone")
    _delete_stack(clients("cloudformation"), aggregator_role_stack(options), options, clients.home_region, progress)


def _delete_stack_sets(cloudformation: Any, names: list[tuple[str, list[str] | None]], root_id: str | None,
                       ca: dict[str, str], options: DeployOptions, progress: Progress) -> list[str]:
    """Each StackSet's instances (all regions it has, or `regions`), all operations at once, then the StackSets."""
    from .status import list_stack_instances

    operations, present = [], []
    for name, regions in names:
        if describe_stack_set(cloudformation, name, ca) is None:
            continue
        present.append(name)
        instance_regions = sorted({i["Region"] for i in list_stack_instances(cloudformation, name, ca)})
        if not instance_regions:
            continue
        answer = cloudformation.delete_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [root_id]},
            Regions=regions or instance_regions, RetainStacks=False,
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


def _delete_stack(cloudformation: Any, name: str, options: DeployOptions, region: str, progress: Progress
                  ) -> list[str]:
    if not stack_exists(cloudformation, name):
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


def _delete_artifacts(s3: Any, bucket: str, options: DeployOptions, region: str, progress: Progress) -> None:
    try:
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                                      Prefix=options.key_prefix)
                for item in page.get("Contents") or ()]
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucket":
            return
        raise
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                                                 "Quiet": True})
    policy = current_bucket_policy(s3, bucket)
    kept = [s for s in policy.get("Statement", []) if s.get("Sid") != ORG_READ_SID]
    if len(kept) != len(policy.get("Statement", [])):
        if kept:
            import json

            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**policy, "Statement": kept}))
        else:
            s3.delete_bucket_policy(Bucket=bucket)
    progress(f"{region}: s3://{bucket}/{options.key_prefix}: {len(keys)} object(s) deleted")
