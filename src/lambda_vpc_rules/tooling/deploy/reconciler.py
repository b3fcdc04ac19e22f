"""The organization pack's reconciler: a Lambda function in the deploying account (home region) that re-submits
the organization conformance pack in a region where it failed in an account for want of that account's functions,
once they are there. It runs on its own, with boto3 only (its bundle holds this module, the pack template and
`reconciler.json`); `reconciler_deploy.py` builds, uploads and deploys it.

Why: an account that joins the organization gets its functions from the StackSets' automatic deployment and its
rules from AWS Config's organization pack, in no set order. A rule whose function does not exist yet fails to be
created, and AWS Config documents no retry for that; re-submitting the pack (PutOrganizationConformancePack, the
same template, parameters and excluded accounts) deploys it again to the accounts where it failed.

When: on "CloudFormation StackSet StackInstance Status Change" events of the deployment's functions StackSets
with detailed status SUCCEEDED (EventBridge, in the StackSets' account and region: CloudFormation User Guide,
"StackSet Stack Instance Status Change event detail"), and on a schedule, for what no event announced.

What, per region concerned: the accounts where the pack failed (GetOrganizationConformancePackDetailedStatus)
whose functions instance in that region SUCCEEDED (ListStackInstances): if any, the pack is re-submitted. An
account whose functions are not there yet is left for the event that announces them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

FAILED = ("CREATE_FAILED", "UPDATE_FAILED")
INSTANCE_EVENT = "CloudFormation StackSet StackInstance Status Change"


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "reconciler.json"), encoding="utf-8") as file:
        config = json.load(file)
    with open(os.path.join(here, "conformance-pack.yaml"), encoding="utf-8") as file:
        template = file.read()
    result = reconcile(event, lambda service, region: boto3.client(service, region_name=region), config, template)
    print(json.dumps({"reconciled": result}))
    return result


def regions_concerned(event: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The region an instance event is about (its stack-id's region), if one of the deployment's StackSets sent
    it; every region of the deployment for a scheduled run; none for anything else."""
    regions = list(config["stack_sets"])
    if event.get("detail-type") != INSTANCE_EVENT:
        return regions if event.get("detail-type") == "Scheduled Event" else []
    detail = event.get("detail") or {}
    if (detail.get("status-details") or {}).get("detailed-status") != "SUCCEEDED":
        return []
    stack_set = str(detail.get("stack-set-arn") or "").split(":stackset/")[-1].split(":")[0]
    arn = str(detail.get("stack-id") or "").split(":")
    region = arn[3] if len(arn) > 3 else ""
    return [region] if region in regions and config["stack_sets"][region] == stack_set else []


def reconcile(event: dict[str, Any], clients: Callable[[str, str], Any], config: dict[str, Any], template: str
              ) -> dict[str, list[str]]:
    """Region -> the accounts the pack was re-submitted for (a region with none is left out)."""
    call_as = {"CallAs": "DELEGATED_ADMIN"} if config.get("delegated_admin") else {}
    resubmitted: dict[str, list[str]] = {}
    for region in regions_concerned(event, config):
        config_client = clients("config", region)
        failed = _failed_accounts(config_client, config["pack_name"])
        if not failed:
            continue
        ready = _functions_ready(clients("cloudformation", config["home_region"]), config["stack_sets"][region],
                                 region, call_as)
        accounts = sorted(failed & ready)
        if not accounts:
            continue
        [pack] = config_client.describe_organization_conformance_packs(
            OrganizationConformancePackNames=[config["pack_name"]])["OrganizationConformancePacks"]
        config_client.put_organization_conformance_pack(
            OrganizationConformancePackName=config["pack_name"], TemplateBody=template,
            ConformancePackInputParameters=pack.get("ConformancePackInputParameters") or [],
            ExcludedAccounts=pack.get("ExcludedAccounts") or [])
        resubmitted[region] = accounts
    return resubmitted


def _failed_accounts(config: Any, pack_name: str) -> set[str]:
    failed: set[str] = set()
    token = None
    while True:
        arguments: dict[str, Any] = {"OrganizationConformancePackName": pack_name, "Limit": 100}
        if token:
            arguments["NextToken"] = token
        try:
            answer = config.get_organization_conformance_pack_detailed_status(**arguments)
        except config.exceptions.NoSuchOrganizationConformancePackException:
            return set()
        failed |= {s["AccountId"] for s in answer.get("OrganizationConformancePackDetailedStatuses") or ()
                   if s.get("Status") in FAILED}
        token = answer.get("NextToken")
        if not token:
            return failed


def _functions_ready(cloudformation: Any, stack_set: str, region: str, call_as: dict[str, str]) -> set[str]:
    ready: set[str] = set()
    token = None
    while True:
        arguments: dict[str, Any] = {"StackSetName": stack_set, "MaxResults": 100, **call_as}
        if token:
            arguments["NextToken"] = token
        answer = cloudformation.list_stack_instances(**arguments)
        ready |= {i["Account"] for i in answer.get("Summaries") or () if i.get("Region") == region and (
            (i.get("StackInstanceStatus") or {}).get("DetailedStatus") == "SUCCEEDED")}
        token = answer.get("NextToken")
        if not token:
            return ready
