"""AWS Config's compliance history of the pack's rules over a period: the `AWS::Config::ResourceCompliance`
configuration items of Lambda functions, as transitions (core/timeline.py).

What AWS Config keeps (AWS Config Developer Guide, "Viewing compliance history"; API reference,
GetResourceConfigHistory):
- compliance history is recorded only when the recorder records `AWS::Config::ResourceCompliance` (all
  supported types, or that type named), and only on a change of a resource's compliance;
- a configuration item lists, for one resource, each rule's complianceType (`configuration.configRuleList`,
  with `targetResourceType`/`targetResourceId`: the resource-type schema in awslabs/aws-config-resource-schema)
  and no annotation; AWS Config deletes NOT_APPLICABLE results, so a rule missing from the list of a later item
  is read as NOT_APPLICABLE;
- items are kept for the recorder's retention period (30 days to 7 years, default 7 years);
- "each call to the API is limited to span a duration of seven days": the period is read in windows of
  seven days, one call each (more when a window holds more items than a page).

Budget, stated in the report: one ListDiscoveredResources page per 100 resource-compliance items of the
account and region, then per Lambda function ceil(days / 7) GetResourceConfigHistory calls (more pages
only for a function whose compliance changed more than 100 times in a week).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.model import LAMBDA_RESOURCE_TYPE, Compliance
from ..core.timeline import DELETED, SOURCE_CONFIG, Key, Observation
from .clients import Clients
from .config import pack_rule_name

COMPLIANCE_TYPE = "AWS::Config::ResourceCompliance"
WINDOW = dt.timedelta(days=7)
DELETED_STATUSES = ("ResourceDeleted", "ResourceDeletedNotRecorded")


@dataclass
class HistoryRead:
    observations: list[Observation] = field(default_factory=list)
    functions: int = 0
    calls: int = 0


def windows(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """[start, end) cut into spans of at most seven days."""
    spans, cursor = [], start
    while cursor < end:
        spans.append((cursor, min(cursor + WINDOW, end)))
        cursor += WINDOW
    return spans


def observations_from_items(items: Iterable[dict[str, Any]], account_id: str, region: str,
                            rule_names: Iterable[str]) -> list[Observation]:
    """The pack's rules' states in a function's ResourceCompliance items (oldest first)."""
    rule_names = list(rule_names)
    found: list[Observation] = []
    seen: set[str] = set()  # the pack's rules this function had a result of
    for item in sorted(items, key=lambda i: i["configurationItemCaptureTime"]):
        at = item["configurationItemCaptureTime"]
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        try:
            configuration = json.loads(item.get("configuration") or "{}")
        except ValueError:
            configuration = {}
        target = configuration.get("targetResourceId") or item.get("resourceName") or ""
        if configuration.get("targetResourceType", LAMBDA_RESOURCE_TYPE) != LAMBDA_RESOURCE_TYPE or not target:
            continue
        if item.get("configurationItemStatus") in DELETED_STATUSES:
            found += [Observation(Key(account_id, region, rule, target), at, DELETED, SOURCE_CONFIG)
                      for rule in sorted(seen)]
            seen = set()
            continue
        now: set[str] = set()
        for entry in configuration.get("configRuleList") or []:
            rule = pack_rule_name(entry.get("configRuleName", ""), rule_names)
            if rule and entry.get("complianceType") in (Compliance.COMPLIANT, Compliance.NON_COMPLIANT):
                now.add(rule)
                found.append(Observation(Key(account_id, region, rule, target), at, entry["complianceType"],
                                         SOURCE_CONFIG))
        found += [Observation(Key(account_id, region, rule, target), at, Compliance.NOT_APPLICABLE, SOURCE_CONFIG)
                  for rule in sorted(seen - now)]
        seen = now
    return found


def _may_be_a_function(resource_id: str) -> bool:
    """A ResourceCompliance item's ID names its target as `<type>/<id>` (`AWS::Lambda::Function/name`); an ID
    of another type is skipped unread, one of another form is read and judged by its `targetResourceType`."""
    kind, slash, _ = resource_id.partition("/")
    return not (slash and kind.startswith("AWS::")) or kind == LAMBDA_RESOURCE_TYPE


def read_history(clients: Clients, account_id: str, start: dt.datetime, end: dt.datetime,
                 rule_names: Iterable[str]) -> HistoryRead:
    """The pack's rules' compliance transitions of every Lambda function of this account and region in
    [start, end), deleted functions included."""
    config, result = clients("config"), HistoryRead()
    region = config.meta.region_name
    rule_names = list(rule_names)
    resource_ids = []
    for page in config.get_paginator("list_discovered_resources").paginate(
            resourceType=COMPLIANCE_TYPE, includeDeletedResources=True, PaginationConfig={"PageSize": 100}):
        result.calls += 1
        resource_ids += [r["resourceId"] for r in page.get("resourceIdentifiers", [])
                         if _may_be_a_function(r["resourceId"])]
    for resource_id in sorted(resource_ids):
        items: list[dict[str, Any]] = []
        for earlier, later in windows(start, end):
            for page in config.get_paginator("get_resource_config_history").paginate(
                    resourceType=COMPLIANCE_TYPE, resourceId=resource_id, earlierTime=earlier, laterTime=later,
                    chronologicalOrder="Forward", PaginationConfig={"PageSize": 100}):
                result.calls += 1
                items += page.get("configurationItems", [])
        result.functions += 1
        # a window's end is inclusive in the API: an item exactly on a boundary may come twice
        unique = {(i["configurationItemCaptureTime"], i.get("configurationStateId")): i for i in items}
        result.observations += [o for o in observations_from_items(unique.values(), account_id, region, rule_names)
                                if start <= o.at < end]
    return result
