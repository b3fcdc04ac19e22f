"""Verdicts as AWS Security Finding Format (ASFF) findings, and their import into Security Hub.

- `Id` is a hash of rule, account, region and function: a re-scan updates a finding instead of adding one.
- COMPLIANT is `Compliance.Status` PASSED with severity INFORMATIONAL, so an earlier failure of the same
  function turns PASSED; NON_COMPLIANT is FAILED with the rule's severity; NOT_APPLICABLE (the function
  left its VPC) is NOT_AVAILABLE with `RecordState` ARCHIVED, which retires an earlier finding (AWS
  Config's own findings map NOT_APPLICABLE the same way).
- Severity and Types go both top-level (read when a finding is created) and in `FindingProviderFields`
  (how a finding provider updates them later: BatchImportFindings does not overwrite the top-level ones
  once a customer changed them with BatchUpdateFindings).
- `Workflow.Status` is set only when a finding is created (RESOLVED for a first PASSED, else NEW):
  Security Hub ignores `Workflow` in BatchImportFindings for an existing finding. It resets RESOLVED to
  NEW itself when a finding turns FAILED again; turning a fixed finding RESOLVED is the customer's call
  (BatchUpdateFindings, or a Security Hub automation rule; README).
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

BATCH = 100  # BatchImportFindings takes at most 100 findings
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
                          "lambda-vpc-rules/Verdict": result.compliance.value},
        "Resources": [{"Type": "AwsLambdaFunction", "Id": arn, "Partition": partition, "Region": region}],
        "Compliance": {"Status": status, "RelatedRequirements": meta.requirements[:32]},
        "Workflow": {"Status": "RESOLVED" if status == "PASSED" else "NEW"},
        "RecordState": "ARCHIVED" if status == "NOT_AVAILABLE" else "ACTIVE",
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
