"""The pack's own record of compliance over time: each scheduled run of a rule writes a compact snapshot of
the verdicts it put, for its account and region, to an S3 location the deployment names; `evidence --from
--to` reads them back (core/timeline.py merges them with AWS Config's transitions).

Why: AWS Config writes compliance history only on transitions (`AWS::Config::ResourceCompliance`), so
"still compliant on day 40" leaves no record there; a snapshot per run does.

- Where: `s3://BUCKET/PREFIX` from `LAMBDA_VPC_RULES_SNAPSHOTS` (the deployed functions) or `--snapshots`
  (the CLI). Key: `PREFIX<account>/<region>/<rule>/<YYYYMMDDTHHMMSSZ>.json.gz`, so that one listing per
  account, region and rule, started after the period's first day, finds the period's snapshots in order.
- What: gzip of `{"snapshot": {...}, "sha256": ..., "signature": ...}`. `snapshot` holds the format, the
  account, region, rule, the AWS Config rule, the time, the tool version and per function `[name,
  compliance, annotation]`; `sha256` is the digest of its canonical JSON (sorted keys, no spaces, UTF-8).
- Signed when a KMS key is named (`LAMBDA_VPC_RULES_SNAPSHOT_KMS_KEY`): `kms:Sign` of the short statement
  `lambda-vpc-rules snapshot sha256 <hex>` (`MessageType=RAW`, ECDSA_SHA_256: the key must be an asymmetric
  ECC_NIST_P256 SIGN_VERIFY key; KMS Sign API reference: a RAW message holds at most 4,096 bytes, which a
  snapshot may not, its statement always does), as evidence manifests are signed (outputs/signing.py), so
  that openssl can check it offline against the key's public key. Reading verifies the digest always, and the
  signature with `kms:Verify` when the reader holds the key id; a snapshot whose digest or signature does not
  verify is rejected (its days become gaps, and the report names it), an unsigned one is used and the report
  says integrity only was checked.
- Retention and immutability are the bucket's: S3 Object Lock default retention (compliance mode) and a
  lifecycle rule, set where the bucket is created (README); the writer only puts new keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .. import __version__
from ..core.model import Compliance
from ..core.timeline import Snapshot
from ..errors import InvalidSetting, PackError
from .clients import Clients

FORMAT = "lambda-vpc-rules/snapshot/1"
LOCATION_ENV = "LAMBDA_VPC_RULES_SNAPSHOTS"
KMS_KEY_ENV = "LAMBDA_VPC_RULES_SNAPSHOT_KMS_KEY"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
TIME_FORMAT = "%Y%m%dT%H%M%SZ"


class SnapshotError(PackError):
    """A snapshot could not be written or the location is not usable; the message says which and why."""


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    @classmethod
    def parse(cls, text: str) -> Location:
        if not text.startswith("s3://") or not text[5:].split("/", 1)[0]:
            raise InvalidSetting(f"snapshot location {text!r}: expected s3://BUCKET[/PREFIX]")
        bucket, _, prefix = text[5:].partition("/")
        return cls(bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/")

    def key(self, account_id: str, region: str, rule: str, taken_at: dt.datetime) -> str:
        return f"{self.prefix}{account_id}/{region}/{rule}/{taken_at.astimezone(dt.UTC).strftime(TIME_FORMAT)}.json.gz"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def snapshot_document(account_id: str, region: str, rule: str, config_rule: str, taken_at: dt.datetime,
                      evaluations: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The snapshot of a run, from the PutEvaluations entries it put (functions only)."""
    verdicts = sorted([e["ComplianceResourceId"], e["ComplianceType"], e.get("Annotation", "")]
                      for e in evaluations if e.get("ComplianceResourceType") == "AWS::Lambda::Function")
    return {"format": FORMAT, "account_id": account_id, "region": region, "rule": rule, "config_rule": config_rule,
            "taken_at": taken_at.astimezone(dt.UTC).isoformat(timespec="seconds"), "tool_version": __version__,
            "verdicts": verdicts}


def statement(digest_hex: str) -> bytes:
    """What a snapshot's signature signs."""
    return f"lambda-vpc-rules snapshot sha256 {digest_hex}".encode("ascii")


def seal(document: Mapping[str, Any], kms: Any = None, key_id: str | None = None) -> bytes:
    """The stored object: the snapshot, its digest, and a KMS signature of the digest when a key is named."""
    digest = hashlib.sha256(canonical(document)).digest()
    signature = None
    if key_id:
        answer = kms.sign(KeyId=key_id, Message=statement(digest.hex()), MessageType="RAW",
                          SigningAlgorithm=SIGNING_ALGORITHM)
        signature = {"key_id": answer["KeyId"], "algorithm": SIGNING_ALGORITHM,
                     "value": base64.b64encode(answer["Signature"]).decode("ascii")}
    envelope = {"snapshot": dict(document), "sha256": digest.hex(), "signature": signature}
    return gzip.compress(canonical(envelope), mtime=0)


def write_snapshot(clients: Clients, location: Location, document: Mapping[str, Any],
                   key_id: str | None = None) -> str:
    """Put one snapshot (a new key; the bucket's Object Lock keeps it); returns its key."""
    taken_at = dt.datetime.fromisoformat(document["taken_at"])
    key = location.key(document["account_id"], document["region"], document["rule"], taken_at)
    body = seal(document, clients("kms") if key_id else None, key_id)
    clients("s3").put_object(Bucket=location.bucket, Key=key, Body=body, ContentType="application/json",
                             ContentEncoding="gzip", ChecksumAlgorithm="SHA256")
    return key


def snapshot_settings() -> tuple[Location, str | None] | None:
    """The deployed functions' snapshot location and signing key (environment), or None: not configured."""
    text = os.environ.get(LOCATION_ENV, "").strip()
    if not text:
        return None
    return Location.parse(text), os.environ.get(KMS_KEY_ENV, "").strip() or None


@dataclass
class SnapshotRead:
    """What a period's reading of the snapshots found."""

    snapshots: list[Snapshot] = field(default_factory=list)
    targets: set[tuple[str, str, str]] = field(default_factory=set)  # (account, region, rule) with any snapshot
    rejected: list[str] = field(default_factory=list)  # "key: why"
    unsigned: int = 0
    signed: int = 0
    calls: int = 0  # S3 and KMS requests made


def _problem(envelope: Any, key: str, kms: Any, verify_with: str | None) -> str | None:
    if not isinstance(envelope, dict) or not isinstance(envelope.get("snapshot"), dict):
        return "not a snapshot"
    document = envelope["snapshot"]
    digest = hashlib.sha256(canonical(document)).digest()
    if envelope.get("sha256") != digest.hex():
        return "its content does not match its SHA-256 (changed after it was written)"
    if document.get("format") != FORMAT:
        return f"unknown format {document.get('format')!r}"
    signature = envelope.get("signature")
    if signature and verify_with:
        try:
            valid = kms.verify(KeyId=verify_with, Message=statement(digest.hex()), MessageType="RAW",
                               Signature=base64.b64decode(signature["value"]),
                               SigningAlgorithm=signature["algorithm"])["SignatureValid"]
        except ClientError as error:
            if error.response["Error"].get("Code") != "KMSInvalidSignatureException":
                raise
            valid = False
        if not valid:
            return f"its signature does not verify with {verify_with}"
    elif verify_with:
        return "unsigned, and a signing key was required"
    return None


def _parse(document: dict[str, Any], key: str) -> Snapshot:
    verdicts = {}
    for entry in document["verdicts"]:
        name, compliance, annotation = entry
        verdicts[name] = (Compliance(compliance).value, annotation)
    return Snapshot(document["account_id"], document["region"], document["rule"],
                    dt.datetime.fromisoformat(document["taken_at"]), verdicts, key)


def read_snapshots(clients: Clients, location: Location, start: dt.datetime, end: dt.datetime,
                   targets: Iterable[tuple[str, str]] | None = None, rules: Iterable[str] = (),
                   verify_with: str | None = None) -> SnapshotRead:
    """The snapshots taken in [start, end) under `location` (for these account-regions, or all found), each
    checked (module docstring). Listing: the accounts, their regions and rules by delimiter, then one listing
    per account, region and rule starting after `start`'s key."""
    s3, result = clients("s3"), SnapshotRead()
    wanted_rules = set(rules)

    def folders(prefix: str) -> list[str]:
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=prefix,
                                                                  Delimiter="/"):
            result.calls += 1
            found += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return found

    if targets is None:
        pairs = [(account, region) for account in folders(location.prefix)
                 for region in folders(f"{location.prefix}{account}/")]
    else:
        pairs = sorted(set(targets))
    first_key = start.astimezone(dt.UTC).strftime(TIME_FORMAT)
    last_key = end.astimezone(dt.UTC).strftime(TIME_FORMAT)
    for account, region in pairs:
        for rule in folders(f"{location.prefix}{account}/{region}/"):
            if wanted_rules and rule not in wanted_rules:
                continue
            result.targets.add((account, region, rule))
            base = f"{location.prefix}{account}/{region}/{rule}/"
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=base,
                                                                      StartAfter=base + first_key):
                result.calls += 1
                for item in page.get("Contents", []):
                    stamp = item["Key"][len(base):].split(".", 1)[0]
                    if stamp >= last_key:
                        break
                    result.snapshots += _read_one(clients, location, item["Key"], verify_with, result)
    result.snapshots.sort(key=lambda s: (s.taken_at, s.account_id, s.region, s.rule))
    return result


def _read_one(clients: Clients, location: Location, key: str, verify_with: str | None,
              result: SnapshotRead) -> list[Snapshot]:
    body = clients("s3").get_object(Bucket=location.bucket, Key=key)["Body"].read()
    result.calls += 1
    try:
        envelope = json.loads(gzip.decompress(body))
    except (OSError, ValueError) as error:
        result.rejected.append(f"{key}: unreadable ({error})")
        return []
    problem = _problem(envelope, key, clients("kms") if verify_with else None, verify_with)
    if verify_with and envelope.get("signature"):
        result.calls += 1
    if problem:
        result.rejected.append(f"{key}: {problem}")
        return []
    try:
        snapshot = _parse(envelope["snapshot"], key)
    except (KeyError, TypeError, ValueError) as error:
        result.rejected.append(f"{key}: malformed ({error!r})")
        return []
    if envelope.get("signature"):
        result.signed += 1
    else:
        result.unsigned += 1
    return [snapshot]
