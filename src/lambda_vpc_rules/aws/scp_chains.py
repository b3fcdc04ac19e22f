"""The published SCP chains: where the deployed ENI rule reads each account's service control policies.

`lambda-vpc-rules scps publish` (run from the management account or a delegated administrator) reads every
in-scope account's chain (aws.organization_policies) and writes one JSON document (core.scp.chains_document)
to an S3 object the organization can read; the rule parameter `ScpChains` names it (`s3://bucket/key`), and
each invocation reads its newest version once (s3:GetObject, granted on that bucket only). A document older
than `MAX_AGE` is stale: a Deny it shows still counts, but it no longer proves that the SCPs allow (docs/scp.md).
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from ..core.scp import PublishedChains, ScpDocumentError, chains_from_document
from .clients import Clients

PARAMETER = "ScpChains"
MAX_AGE = dt.timedelta(hours=48)  # publish runs daily (docs/scp.md); a document not refreshed for two days is doubt
MAX_BYTES = 20 * 1024 * 1024  # about 100 bytes per account, the SCPs once each (at most 5 KB apiece)


def parse_location(text: str) -> tuple[str, str]:
    """(bucket, key) from `s3://bucket/key`; `ScpDocumentError` when it is not one."""
    parsed = urlparse(text.strip())
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/") or parsed.query or parsed.fragment:
        raise ScpDocumentError(f"{PARAMETER} must be s3://bucket/key, got {text!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def read_published(clients: Clients, location: str) -> tuple[PublishedChains, str]:
    """The document at `location` (one s3:GetObject) and the S3 version read ("" without versioning). No such
    object, not JSON, too large, or not a valid document: `ScpDocumentError` naming the location."""
    bucket, key = parse_location(location)
    try:
        answer = clients("s3").get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        # no such object or bucket: a setting to mend (an error response); anything else stays an AWS error
        code = error.response.get("Error", {}).get("Code")
        if code not in ("NoSuchKey", "NoSuchBucket"):
            raise
        raise ScpDocumentError(f"SCP chains {location}: no such object ({code}); publish it with "
                               "`lambda-vpc-rules scps publish`") from None
    version = answer.get("VersionId") or ""
    where = f"SCP chains {location}" + (f" (version {version})" if version else "")
    body = answer["Body"].read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ScpDocumentError(f"{where}: larger than {MAX_BYTES} bytes")
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ScpDocumentError(f"{where}: not JSON ({error})") from None
    try:
        return chains_from_document(document), version
    except ScpDocumentError as error:
        raise ScpDocumentError(f"{where}: {error}") from None
