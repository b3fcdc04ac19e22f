"""An evidence bundle written to S3 under Object Lock retention, so that it cannot be rewritten or deleted for
the period (`evidence --upload s3://BUCKET/PREFIX --retain-days N`).

Each file is put with `ObjectLockMode` COMPLIANCE and `ObjectLockRetainUntilDate` (S3 user guide, "Locking
objects with Object Lock": in compliance mode no user, the root user included, can overwrite or delete the
object version, nor shorten its retention, until the date), and a SHA-256 checksum (a PUT with retention
settings needs an integrity checksum). The bucket must have been created with Object Lock enabled: that is
checked first (GetObjectLockConfiguration), and a bucket without it is an error, never a silent plain upload.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from ..errors import PackError


class ArchiveError(PackError):
    """The bundle cannot be written where asked, as asked."""


def parse_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ArchiveError(f"--upload {url!r}: expected s3://BUCKET/PREFIX")
    prefix = parsed.path.lstrip("/")
    return parsed.netloc, (prefix.rstrip("/") + "/") if prefix else ""


def upload_bundle(s3: Any, url: str, bundle: str | Path, retain_days: int,
                  now: dt.datetime | None = None) -> list[str]:
    """Put every file of the bundle under `url` with compliance-mode retention for `retain_days`; the keys."""
    bucket, prefix = parse_s3_url(url)
    if retain_days < 1:
        raise ArchiveError(f"--retain-days {retain_days}: at least 1")
    try:
        lock = s3.get_object_lock_configuration(Bucket=bucket).get("ObjectLockConfiguration") or {}
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ObjectLockConfigurationNotFoundError":
            raise
        lock = {}
    if lock.get("ObjectLockEnabled") != "Enabled":
        raise ArchiveError(f"bucket {bucket} does not have S3 Object Lock enabled: the bundle could be rewritten "
                           "there; create the bucket with Object Lock (nothing uploaded)")
    until = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=retain_days)
    keys = []
    for path in sorted(Path(bundle).iterdir()):
        key = prefix + path.name
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until, ChecksumAlgorithm="SHA256")
        keys.append(f"s3://{bucket}/{key}")
    return keys
