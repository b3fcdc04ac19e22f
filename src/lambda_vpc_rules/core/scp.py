"""Service control policies (SCPs): does an account's SCP chain let a request through? Pure; no AWS calls.

AWS Organizations User Guide, "SCP evaluation" (orgs_manage_policies_scps_evaluation):
- "For a permission to be allowed for a specific account, there must be an explicit Allow statement at every
  level from the root through each OU in the direct path to the account (including the target account
  itself)": each level of the chain (root, each OU, the account) must allow the request on its own. An
  SCP grants nothing; it only lets an identity policy's grant through. The AWS managed SCP FullAWSAccess
  (Allow `*` on `*`) is attached at every level when SCPs are enabled; where it is detached and nothing
  replaces it, that level allows nothing.
- "If a Deny statement at any level ... applies, the request is denied": any Deny that may apply denies.
- SCPs do not affect the management account's principals ("SCPs don't affect users or roles in the
  management account", orgs_manage_policies_scps), nor service-linked roles; Lambda's ENI requests are made
  with the function's execution role, which is neither an SLR nor exempt, so they count in member accounts.

Statements are judged with the identity-policy semantics of `iam_policy` (Action/NotAction, Resource/
NotResource, Condition with three values, policy variables): an Allow lets a request through only if it
applies whatever the unknown keys are; a Deny denies if it may apply (doubt about a Deny is doubt).

Resource control policies (RCPs) apply only to the resources of the services AWS lists for them (Amazon S3,
AWS STS, AWS KMS, Amazon SQS, AWS Secrets Manager, and the services AWS added since: "List of AWS services
that support RCPs", orgs_manage_policies_rcps); Amazon EC2 is not among them, so no RCP can reach Lambda's
EC2 requests for its network interfaces, and the pack does not read them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import PackError
from .iam_policy import Authorization, Policy, PolicyParseError, evaluate, parse_policy


@dataclass(frozen=True)
class ScpLevel:
    """One level of an account's path: the root, an OU, or the account itself, with its SCPs."""

    target: str  # "root r-ab12", "OU ou-ab12-cd34ef56", "account 111122223333"
    policies: tuple[tuple[str, object], ...] = ()  # (policy name, document) of every SCP attached there


@dataclass(frozen=True)
class ScpChain:
    """An account's SCP chain as read, root first. `unread`: why it could not be read (then `levels` is
    empty and nothing is known of it); `management`: the organization's management account, which SCPs do
    not affect; `stale`: the chain comes from a published document older than its maximum age (why), so a
    Deny it shows still counts, but its Allows prove nothing."""

    account_id: str
    levels: tuple[ScpLevel, ...] = ()
    management: bool = False
    unread: str = ""
    stale: str = ""
    organization_id: str = ""  # the organization the account is in (aws:PrincipalOrgID); "" not known


@dataclass(frozen=True)
class ScpCheck:
    allowed: bool
    detail: str = ""  # when not allowed: the deciding SCP statement (or level) and why


def _parsed(chain: ScpChain) -> list[tuple[str, list[Policy]]] | str:
    """The chain's levels with their SCPs parsed (once per chain), or why one cannot be parsed."""
    known = chain.__dict__.get("_parsed")
    if known is None:
        known = _parse(chain)
        object.__setattr__(chain, "_parsed", known)
    return known


def _parse(chain: ScpChain) -> list[tuple[str, list[Policy]]] | str:
    levels = []
    for level in chain.levels:
        policies = []
        for name, document in level.policies:
            try:
                policies.append(parse_policy(f"SCP {name}", document))
            except PolicyParseError as error:
                return f"SCP {name} ({level.target}) cannot be parsed: {error}"
        levels.append((level.target, policies))
    return levels


def check_scps(chain: ScpChain, action: str, authorizations: Sequence[Authorization]) -> ScpCheck:
    """Whether every level of the chain lets `action` through for every authorization, and no Deny may apply.
    A Deny anywhere decides first; then the first level whose Allows do not cover the request."""
    if chain.management:
        return ScpCheck(True)
    levels = _parsed(chain)
    if isinstance(levels, str):
        return ScpCheck(False, levels)
    outcomes = [(target, evaluate(policies, action, authorizations)) for target, policies in levels]
    for target, outcome in outcomes:
        if outcome.reason == "denied":
            return ScpCheck(False, f"denied {outcome.detail} ({target})")
    for target, outcome in outcomes:
        if not outcome.allowed:
            why = "no SCP there allows it" if outcome.reason == "missing" else f"{outcome.reason}: {outcome.detail}"
            return ScpCheck(False, f"not allowed at {target} ({why})")
    return ScpCheck(True)


def scp_policies(chain: ScpChain | None) -> list[Policy]:
    """The chain's parsed SCPs, every level (for `iam_policy.valid_until`); none when unread or unparseable."""
    if chain is None or chain.unread or chain.management:
        return []
    levels = _parsed(chain)
    return [] if isinstance(levels, str) else [policy for _, policies in levels for policy in policies]


# ---------------------------------------------------------------------------------- the published document
# `lambda-vpc-rules scps publish` writes every in-scope account's chain as one JSON document, which the deployed
# ENI rule reads (rule parameter ScpChains; docs/scp.md). Levels and policies are written once and referenced,
# so the document grows with accounts + OUs + policies, not accounts times levels. `sha256` covers the rest of
# the document (canonical JSON), so a document edited or cut short by hand is refused, not half-read.

DOCUMENT_FORMAT = "lambda-vpc-rules/scp-chains/1"


class ScpDocumentError(PackError):
    """A published SCP chains document that cannot be used (never a verdict: the handler answers with an error)."""


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chains_document(chains: Sequence[ScpChain], generated_at: dt.datetime) -> dict:
    """The document for `chains`, generated at `generated_at` (UTC)."""
    policies: list[dict] = []
    policy_index: dict[str, int] = {}
    levels: dict[str, list[int]] = {}
    accounts: dict[str, dict] = {}
    for chain in chains:
        entry: dict = {"levels": [level.target for level in chain.levels]}
        if chain.management:
            entry["management"] = True
        if chain.unread:
            entry["unread"] = chain.unread
        accounts[chain.account_id] = entry
        for level in chain.levels:
            indices = []
            for name, document in level.policies:
                key = json.dumps([name, document], sort_keys=True)
                if key not in policy_index:
                    policy_index[key] = len(policies)
                    policies.append({"name": name, "document": document})
                indices.append(policy_index[key])
            if levels.setdefault(level.target, indices) != indices:
                raise ScpDocumentError(f"{level.target} was read with two different sets of SCPs")
    body = {"format": DOCUMENT_FORMAT,
            "generated_at": generated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "accounts": accounts, "levels": levels, "policies": policies}
    organizations = {chain.organization_id for chain in chains if chain.organization_id}
    if len(organizations) > 1:
        raise ScpDocumentError(f"chains of two organizations: {', '.join(sorted(organizations))}")
    if organizations:  # optional: a document without it (published before) leaves aws:PrincipalOrgID unknown
        body["organization_id"] = organizations.pop()
    return {**body, "sha256": hashlib.sha256(_canonical(body)).hexdigest()}


@dataclass(frozen=True)
class PublishedChains:
    generated_at: dt.datetime
    sha256: str
    chains: dict[str, ScpChain]

    def older_than(self, max_age: dt.timedelta, now: dt.datetime) -> bool:
        return now - self.generated_at > max_age


def chains_from_document(document: object) -> PublishedChains:
    """The chains a document holds; `ScpDocumentError` naming what is wrong (format, digest, a reference)."""
    if not isinstance(document, dict) or document.get("format") != DOCUMENT_FORMAT:
        raise ScpDocumentError(f"not an SCP chains document (format {DOCUMENT_FORMAT} expected)")
    body = {key: value for key, value in document.items() if key != "sha256"}
    digest = hashlib.sha256(_canonical(body)).hexdigest()
    if document.get("sha256") != digest:
        raise ScpDocumentError("its sha256 does not match its content (edited or cut short after publication)")
    try:
        generated_at = dt.datetime.strptime(document["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        policies = [(str(policy["name"]), policy["document"]) for policy in document["policies"]]
        levels = {str(target): tuple(policies[index] for index in indices)
                  for target, indices in document["levels"].items()}
        organization_id = document.get("organization_id", "")
        if not isinstance(organization_id, str):
            raise TypeError("organization_id is not a string")
        chains = {}
        for account, entry in document["accounts"].items():
            chains[str(account)] = ScpChain(
                str(account), tuple(ScpLevel(target, levels[target]) for target in entry["levels"]),
                management=entry.get("management") is True, unread=str(entry.get("unread") or ""),
                organization_id=organization_id if not entry.get("unread") else "")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ScpDocumentError(f"malformed ({type(error).__name__}: {error})") from None
    return PublishedChains(generated_at, digest, chains)


def published_chain(published: PublishedChains, account_id: str, now: dt.datetime, max_age: dt.timedelta,
                    where: str) -> ScpChain:
    """The account's chain for a verdict at `now`: `unread` when the document lacks the account; `stale` when
    it is older than `max_age` (its Denies still count: doubt about a Deny is doubt; its Allows prove
    nothing)."""
    chain = published.chains.get(account_id)
    stamp = published.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if chain is None:
        return ScpChain(account_id, unread=f"account not in the chains published {stamp} at {where}")
    if published.older_than(max_age, now) and not chain.unread and not chain.management:
        hours = int(max_age.total_seconds() // 3600)
        return dataclasses.replace(chain, stale=f"chains published {stamp}, over {hours} h old")
    return chain
