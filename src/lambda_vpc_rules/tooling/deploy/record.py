"""The deployment record: what one deployment (`--stack-name`) put where, written by deploy, read back by status
and destroy (`signing_statement` and `hook_statement`: status's lines on what the deployment enforces).

It is one JSON object, `<key-prefix><stack-name>/deployment.json` in the home region's bucket, tagged with the
deployment's identity like everything else deploy creates. It is a record, not an authority: destroy deletes only
what also carries the deployment's tag where AWS has tags (stacks, StackSets, S3 objects, Config rules, the
aggregator), and status reads whether code signing is enforced from the deployed stacks' own parameters.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from botocore.exceptions import ClientError

from .steps import DEPLOYMENT_TAG, Artifacts, DeployOptions, Progress, RegionalClients, bucket_name, sha256_b64

RECORD_NAME = "deployment.json"


def record_key(options: DeployOptions) -> str:
    return f"{options.code_root}{RECORD_NAME}"


def write_record(clients: RegionalClients, options: DeployOptions, regions: list[str], artifacts: Artifacts,
                 owner: str, identity: dict[str, str], progress: Progress, extra: dict[str, Any]) -> dict[str, Any]:
    record = {
        "deployment": options.deployment,
        "account": identity["Account"],
        "deployed_by": identity["Arn"],
        "deployed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "home_region": clients.home_region,
        "regions": regions,
        "bucket": options.bucket,
        "bucket_owner": owner,
        "code_prefix": artifacts.prefix,
        "code_sha256": artifacts.digest,
        "code_versions": artifacts.versions,
        "signing": {"profile": options.signing_profile, "profile_version_arns": artifacts.signing_arns,
                    "allow_unsigned": options.allow_unsigned},
        "stacks": {"iam": options.iam_stack_name, "functions": options.stack_name},
        "mode": options.mode,
        **extra,
    }
    previous = read_record(clients, options, owner)
    if previous is not None and previous.get("aggregator_created"):
        record["aggregator_created"] = True  # created by an earlier run, reused by this one: still this deployment's
    if previous is not None and {**previous, "deployed_at": None, "deployed_by": None} == {
            **record, "deployed_at": None, "deployed_by": None}:
        progress(f"deployment record: unchanged ({previous.get('deployed_at')})")
        return previous  # a re-run that changed nothing writes nothing
    body = json.dumps(record, indent=2, sort_keys=True).encode()
    s3, bucket = clients("s3"), bucket_name(options.bucket, clients.home_region)
    s3.put_object(Bucket=bucket, Key=record_key(options), Body=body, ChecksumSHA256=sha256_b64(body),
                  ContentType="application/json", ExpectedBucketOwner=owner,
                  Tagging=f"{DEPLOYMENT_TAG}={options.deployment}")
    progress(f"deployment record: s3://{bucket}/{record_key(options)}")
    return record


def read_record(clients: RegionalClients, options: DeployOptions, owner: str) -> dict[str, Any] | None:
    """The deployment's record, or None if there is none (or it is not tagged as this deployment's)."""
    s3, bucket = clients("s3"), bucket_name(options.bucket, clients.home_region)
    try:
        tags = s3.get_object_tagging(Bucket=bucket, Key=record_key(options), ExpectedBucketOwner=owner)["TagSet"]
        if not any(t["Key"] == DEPLOYMENT_TAG and t["Value"] == options.deployment for t in tags):
            return None
        body = s3.get_object(Bucket=bucket, Key=record_key(options), ExpectedBucketOwner=owner)["Body"].read()
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket", "NotFound"):
            return None
        raise
    try:
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("deployment") == options.deployment else None


def signing_statement(signing_arns: str | None, record: dict[str, Any] | None) -> str:
    """One line on code signing, from the functions' own parameter (SigningProfileVersionArns, what Lambda
    enforces) and the record (whether unsigned code was allowed on purpose)."""
    if signing_arns:
        return f"code signing enforced (Lambda runs only code signed by {signing_arns})"
    if signing_arns is None:
        return "code signing unknown (no functions stack or StackSet read)"
    if record and (record.get("signing") or {}).get("allow_unsigned"):
        return (f"code signing NOT enforced: deployed with --allow-unsigned by {record.get('deployed_by')} at "
                f"{record.get('deployed_at')}")
    return "code signing NOT enforced"


def hook_statement(failure_mode: str | None) -> str:
    """One line on the CloudFormation hook (`deploy --hook`), from the functions stack's HookFailureMode."""
    if failure_mode is None:
        return "CloudFormation hook unknown (no functions stack or StackSet read)"
    if not failure_mode:
        return "CloudFormation hook not deployed (deploy --hook FAIL|WARN judges functions before they exist)"
    effect = "blocks" if failure_mode == "FAIL" else "lets CloudFormation go on, with a warning, past"
    return (f"CloudFormation hook deployed, FailureMode {failure_mode}: it {effect} a Lambda function a rule finds "
            "NON_COMPLIANT or cannot establish (docs/check.md)")
