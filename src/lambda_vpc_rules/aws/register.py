"""The exceptions register's AWS side: where the deployed rules read it, and the OUs it names resolved.

The deployed rules read the register that `lambda-vpc-rules exceptions publish` wrote: validated, as JSON (the
Lambda runtime has no YAML parser, and the bundles carry only rdklib and the package), with its OUs resolved to
accounts (a member account cannot ask AWS Organizations), to an S3 object in a bucket with versioning that the
organization can read (docs/exceptions.md: the bucket policy). The rule parameter `ExceptionsRegister` names it:
`s3://bucket/key`; its newest version is read, once per invocation (s3:GetObject), and the version read is
named in every error and log line (publish prints the version it wrote).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from ..core.exceptions import Register, RegisterError, parse_register
from ..core.rules import RULES
from .clients import Clients

PARAMETER = "ExceptionsRegister"
MAX_BYTES = 5 * 1024 * 1024  # a register is a few kilobytes; anything near this is not one


def parse_location(text: str) -> tuple[str, str]:
    """(bucket, key) from `s3://bucket/key`; `RegisterError` when it is not one."""
    parsed = urlparse(text.strip())
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/") or parsed.query or parsed.fragment:
        raise RegisterError([f"{PARAMETER} must be s3://bucket/key, got {text!r}"])
    return parsed.netloc, parsed.path.lstrip("/")


def read_published(clients: Clients, location: str) -> Register:
    """The published register at `location` (one s3:GetObject). Not JSON, too large, or not a valid register:
    `RegisterError`, naming the location (and the entries at fault)."""
    bucket, key = parse_location(location)
    try:
        answer = clients("s3").get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        # no such object or bucket: the parameter names nothing, a setting to mend, not a passing fault (an
        # error response like a bad parameter); anything else (AccessDenied, throttling) stays an AWS error
        if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "NoSuchBucket"):
            raise
        raise RegisterError([f"no such object ({error.response['Error']['Code']}); publish it with "
                             "`lambda-vpc-rules exceptions publish`"], f"exceptions register {location}") from None
    body = answer["Body"].read(MAX_BYTES + 1)
    where = f"exceptions register {location}" + (f" (version {answer['VersionId']})" if answer.get("VersionId")
                                                 else "")
    if len(body) > MAX_BYTES:
        raise RegisterError([f"larger than {MAX_BYTES} bytes"], where)
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise RegisterError([f"not JSON ({error}); publish it with `lambda-vpc-rules exceptions publish`"],
                            where) from None
    return parse_register(document, [rule.config_rule_name for rule in RULES], where)


def resolve_ous(clients: Clients, ous: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each OU (or root) with every account in it at any depth (organizations:ListAccountsForParent and
    ListOrganizationalUnitsForParent; from the management account or a delegated administrator)."""
    resolved = {}
    for ou in sorted(set(ous)):
        accounts: set[str] = set()
        pending = [ou]
        while pending:
            parent = pending.pop()
            accounts |= set(clients.pages("organizations", "list_accounts_for_parent", "Accounts",
                                          lambda account: account["Id"], ParentId=parent))
            pending += list(clients.pages("organizations", "list_organizational_units_for_parent",
                                          "OrganizationalUnits", lambda unit: unit["Id"], ParentId=parent))
        resolved[ou] = frozenset(accounts)
    return resolved


def with_ous_resolved(clients: Clients, register: Register) -> Register:
    """The register with its OUs resolved, when it names any and they were not resolved yet."""
    if not register.ous or register.ou_accounts is not None:
        return register
    return register.with_ou_accounts(resolve_ous(clients, register.ous))
