"""Verdicts as AWS Security Finding Format (ASFF) findings, and their import into Security Hub.

- `Id` is a hash of rule, account, region and function: a re-scan updates a finding instead of adding one.
- COMPLIANT is `Compliance.Status` PASSED with severity INFORMATIONAL, so an earlier failure of the same
  function turns PASSED; NON_COMPLIANT is FAILED with the rule's severity; NOT_APPLICABLE (the function
  left its VPC) is NOT_AVAILABLE with `RecordState` ARCHIVED, which retires an earlier finding (AWS
  Config's own findings map NOT_APPLICABLE the same way).
- Severity and Types go both top-level (read when a finding is created) and in `FindingProviderFields`
  (how a finding provider updates them later: BatchImportFindings does not overwrite the top-level ones
  once a customer changed them with BatchUpdateFindings).
- `Workflow.Status` is set only when a finding is created (RESOLVED for a first PASSED, SUPPRESSED for a
  verdict an exception covers, else NEW): "After a finding is created, BatchImportFindings cannot be used to
  update ... Note, UserDefinedFields, VerificationState, Workflow" (BatchImportFindings API reference;
  [import]). Security Hub resets RESOLVED to NEW itself when a finding turns FAILED again; turning a fixed
  finding RESOLVED is the customer's call (BatchUpdateFindings, or a Security Hub automation rule; README).
- The exceptions register (`core.exceptions`): for an existing finding the documented way to set `Workflow`
  and `Note` is BatchUpdateFindings ([update]; up to 100 findings a call, one Workflow and one Note each), made
  by `apply_exceptions`: a finding an exception in force covers is SUPPRESSED with a Note naming it; one whose
  exception expired and that is still SUPPRESSED goes back to NEW with a Note saying it expired (read first
  with GetFindings, so a finding the team has since marked NOTIFIED or RESOLVED is left alone).

[import]: https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html
[update]: https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchupdatefindings.html
- `Resources[0]` is the `AwsLambdaFunction` by ARN; severity, remediation and related requirements come
  from the rule metadata.
- An account-region a run could not read (a coverage gap) is a finding too, in the account and region the
  run was made from, about the `AwsAccount` it could not read: `Compliance.Status` NOT_AVAILABLE (the
  check "could not be performed", ASFF Compliance), ACTIVE, severity MEDIUM ("must be addressed but not
  urgently"): the functions there were not evaluated at all.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable
from typing import Any

import botocore.session

from ..aws.clients import send_in_batches
from ..core.coverage import EVERY_REGION, Coverage
from ..core.model import Compliance, EvaluationResult
from ..core.rules import metadata_for
from ..errors import PackError

BATCH = 100  # BatchImportFindings takes at most 100 findings; BatchUpdateFindings at most 100 identifiers
ID_FILTER_VALUES = 20  # the Id values asked per GetFindings call (its filters take at most 20 values per field)
NOTE_LIMIT = 512  # NoteUpdate.Text
UPDATED_BY = "lambda-vpc-rules"
FINDING_TYPE = "Software and Configuration Checks/AWS Security Best Practices"
STATUS = {
    Compliance.COMPLIANT: "PASSED",
    Compliance.NON_COMPLIANT: "FAILED",
    Compliance.NOT_APPLICABLE: "NOT_AVAILABLE",
}


class PublishError(PackError):
    """Findings Security Hub refused, even after a retry; the message names them and why."""


@functools.cache
def partition_of(region: str) -> str:
    """The region's partition, from botocore's endpoint data ("aws", "aws-cn", "aws-us-gov", ...).

    Cached per region: building a botocore session loads its endpoint data (about 44 ms), and this is
    asked twice per finding; 300 findings took minutes before.
    """
    return botocore.session.get_session().get_partition_for_region(region)


def finding_id(rule: str, account_id: str, region: str, resource_id: str) -> str:
    digest = hashlib.sha256(f"{rule}|{account_id}|{region}|{resource_id}".encode()).hexdigest()
    return f"lambda-vpc-rules/{rule}/{digest[:32]}"


def _timestamp(iso: str) -> str:
    moment = dt.datetime.fromisoformat(iso).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _envelope(finding_id_: str, generator: str, account_id: str, region: str, generated_at: str,
              severity_label: str) -> dict[str, Any]:
    """What every finding of the pack carries: identity, product, times, severity and types (top-level and in
    FindingProviderFields)."""
    partition = partition_of(region)
    when = _timestamp(generated_at)
    severity = {"Label": severity_label}
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id_,
        "ProductArn": f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default",
        "GeneratorId": generator,
        "AwsAccountId": account_id,
        "Types": [FINDING_TYPE],
        "CreatedAt": when,
        "UpdatedAt": when,
        "LastObservedAt": when,
        "Severity": severity,
        "FindingProviderFields": {"Severity": dict(severity), "Types": [FINDING_TYPE]},
    }


def to_finding(result: EvaluationResult, generated_at: str) -> dict[str, Any]:
    """The finding of one verdict, in the account and region it was made in."""
    account_id, region = result.account_id, result.region
    meta = metadata_for(result.rule)
    partition = partition_of(region)
    status = STATUS[result.compliance]
    arn = result.resource_arn or f"arn:{partition}:lambda:{region}:{account_id}:function:{result.resource_id}"
    return {
        **_envelope(finding_id(result.rule, account_id, region, result.resource_id), f"lambda-vpc-rules/{result.rule}",
                    account_id, region, generated_at, meta.severity if status == "FAILED" else "INFORMATIONAL"),
        "Title": meta.title[:256],
        "Description": f"{result.compliance.value}: {result.annotation} ({meta.description})"[:1024],
        "Remediation": {"Recommendation": {"Text": meta.remediation["text"][:512], "Url": meta.references[0]}},
        "ProductFields": {"lambda-vpc-rules/ConfigRuleName": result.rule,
                          "lambda-vpc-rules/Verdict": result.compliance.value,
                          **({"lambda-vpc-rules/Exception": result.exception_id,
                              "lambda-vpc-rules/ExceptionState": result.exception_state}
                             if result.exception_state else {})},
        "Resources": [{"Type": "AwsLambdaFunction", "Id": arn, "Partition": partition, "Region": region}],
        "Compliance": {"Status": status, "RelatedRequirements": meta.requirements[:32]},
        "Workflow": {"Status": "RESOLVED" if status == "PASSED" else "SUPPRESSED" if result.excepted else "NEW"},
        "RecordState": "ARCHIVED" if status == "NOT_AVAILABLE" else "ACTIVE",
        **({"Note": {"Text": note_text(result), "UpdatedBy": UPDATED_BY, "UpdatedAt": _timestamp(generated_at)}}
           if result.exception_state else {}),
    }


def to_findings(results: Iterable[EvaluationResult], generated_at: str) -> list[dict]:
    return [to_finding(result, generated_at) for result in results]


def coverage_findings(coverage: Coverage, generated_at: str) -> list[dict[str, Any]]:
    """One finding per gap of `coverage`, reported in the account and region the run was made from."""
    account_id, region = coverage.reader_account, coverage.reader_region
    if not (account_id and region):
        return []
    partition = partition_of(region)
    findings = []
    for gap in coverage.gaps:
        where = "every region" if gap.region == EVERY_REGION else gap.region
        findings.append({
            **_envelope(finding_id("coverage", gap.account_id, gap.region, "account"), "lambda-vpc-rules/coverage",
                        account_id, region, generated_at, "MEDIUM"),
            "Title": f"lambda-vpc-rules could not evaluate account {gap.account_id} ({where})"[:256],
            "Description": f"Not evaluated: {gap.reason}"[:1024],
            "ProductFields": {"lambda-vpc-rules/Coverage": "NOT_COVERED",
                              "lambda-vpc-rules/Region": gap.region},
            "Resources": [{"Type": "AwsAccount", "Id": f"AWS::::Account:{gap.account_id}", "Partition": partition,
                           "Region": region if gap.region == EVERY_REGION else gap.region}],
            "Compliance": {"Status": "NOT_AVAILABLE"},
            "Workflow": {"Status": "NEW"},
            "RecordState": "ACTIVE",
        })
    return findings


def import_findings(securityhub, findings: list[dict[str, Any]]) -> int:
    """BatchImportFindings in batches of 100; findings it refuses are sent once more, then reported."""
    reasons: dict[str, str] = {}

    def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        failed = securityhub.batch_import_findings(Findings=batch).get("FailedFindings") or []
        reasons.update({f["Id"]: f"{f.get('ErrorCode')} {f.get('ErrorMessage', '')}".strip() for f in failed})
        refused = {f["Id"] for f in failed}
        return [finding for finding in batch if finding["Id"] in refused]

    refused = send_in_batches(findings, BATCH, send)
    if refused:
        detail = "; ".join(f"{f['Id']}: {reasons[f['Id']]}" for f in refused)
        raise PublishError(f"Security Hub refused {len(refused)} finding(s) after a retry: {detail}")
    return len(findings)


def note_text(result: EvaluationResult) -> str:
    """The Note of a finding an exception covers (or covered): the annotation, which names it."""
    return result.annotation[:NOTE_LIMIT]


def apply_exceptions(securityhub, results: Iterable[EvaluationResult], product_arns: dict[str, str]) -> int:
    """After BatchImportFindings: the Workflow and Note of existing findings, per the exceptions register, with
    BatchUpdateFindings (module docstring). `product_arns`: finding Id -> its ProductArn. Returns how many
    findings were updated; findings it refuses are a `PublishError`."""
    covered = {finding_id(r.rule, r.account_id, r.region, r.resource_id): r for r in results
               if r.compliance is Compliance.NON_COMPLIANT and r.exception_state}
    if not covered:
        return 0
    current = _current(securityhub, sorted(covered))
    groups: dict[tuple[str, str], list[str]] = {}
    for id_, result in covered.items():
        workflow, note = current.get(id_, (None, None))
        if result.excepted and (workflow, note) != ("SUPPRESSED", note_text(result)):
            groups.setdefault(("SUPPRESSED", note_text(result)), []).append(id_)
        elif not result.excepted and workflow == "SUPPRESSED":  # expired: back to NEW, once
            groups.setdefault(("NEW", note_text(result)), []).append(id_)
    updated, refused = 0, []
    for (status, text), ids in sorted(groups.items()):
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            answer = securityhub.batch_update_findings(
                FindingIdentifiers=[{"Id": id_, "ProductArn": product_arns[id_]} for id_ in chunk],
                Workflow={"Status": status}, Note={"Text": text, "UpdatedBy": UPDATED_BY})
            updated += len(answer.get("ProcessedFindings") or [])
            refused += [f"{u['FindingIdentifier']['Id']}: {u.get('ErrorCode')} {u.get('ErrorMessage', '')}".strip()
                        for u in answer.get("UnprocessedFindings") or []]
    if refused:
        raise PublishError(f"Security Hub refused {len(refused)} workflow update(s): {'; '.join(refused)}")
    return updated


def _current(securityhub, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """Each finding's Workflow status and Note text now (GetFindings by Id; answers not asked for are ignored)."""
    wanted, found = set(ids), {}
    for start in range(0, len(ids), ID_FILTER_VALUES):
        filters = {"Id": [{"Value": id_, "Comparison": "EQUALS"} for id_ in ids[start:start + ID_FILTER_VALUES]]}
        for page in securityhub.get_paginator("get_findings").paginate(Filters=filters):
            for finding in page.get("Findings") or ():
                if finding.get("Id") in wanted:
                    found[finding["Id"]] = ((finding.get("Workflow") or {}).get("Status"),
                                            (finding.get("Note") or {}).get("Text"))
    return found
