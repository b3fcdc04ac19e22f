"""Each account's service control policy chain, read from the management account or a delegated
administrator (the caller of an organization scan), for `core.scp`.

- The organization: organizations:DescribeOrganization, once (its management account, which SCPs do not
  affect: AWS Organizations User Guide, "Service control policies").
- The path: organizations:ListParents from the account up to the root (the account, then each OU, then the
  root; an account has one parent), remembered per OU, so accounts that share OUs share the reads.
- The SCPs of each level: organizations:ListPoliciesForTarget with the SERVICE_CONTROL_POLICY filter, and each
  policy's document once (organizations:DescribePolicy), remembered per OU or root and per policy: the calls
  grow with OUs and distinct policies, not with accounts times levels.
- What is the account's own (its parent, the SCPs attached to it) is not remembered here: each account is
  read once per reader (`chain`'s caller keeps the chain, as the organization scan does per account), and
  a reader that remembered every account would grow with the organization.

What cannot be read (access denied from a member account without delegation, AWSOrganizationsNotInUse,
throttling that outlasted the retries, an unreadable answer) makes the chain `unread`, with the error in one
line: the rule then says that SCPs were not considered, and never turns the error into a verdict.
Thread-safe: the organization scan's workers share one reader (one lock around the cache).
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..core.scp import ScpChain, ScpLevel
from ..errors import PackError
from .actions import action_for
from .clients import Clients, is_access_denied, result

SCP_FILTER = "SERVICE_CONTROL_POLICY"
MAX_DEPTH = 7  # AWS: an OU tree is at most five OUs deep under the root; a longer walk is no AWS answer
KINDS = {"ROOT": "root", "ORGANIZATIONAL_UNIT": "OU", "ACCOUNT": "account"}


def _one_line(error: Exception) -> str:
    """The error in one line, naming the action an AccessDenied refused (as the organization scan's gaps do)."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code", "Unknown")
        if is_access_denied(error):
            return f"access denied: {action_for(error.operation_name)} was refused ({code})"
        return f"{error.operation_name} failed: {code}: {(info.get('Message') or '').strip()}".strip()
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class OrganizationPolicies:
    """Reads and remembers the SCP chains of the organization's accounts through `clients` (the caller's)."""

    def __init__(self, clients: Clients):
        self.clients = clients
        self._lock = threading.Lock()
        self._management: str | None = None
        self._organization_id = ""
        self._parents: dict[str, tuple[str, str]] = {}  # OU ID -> (parent ID, parent type)
        self._attached: dict[str, tuple[str, ...]] = {}  # OU or root ID -> its SCP IDs
        self._documents: dict[str, tuple[str, object]] = {}  # policy ID -> (name, document)

    def chain(self, account_id: str) -> ScpChain:
        """The account's chain, root first; `unread` says why it could not be read."""
        try:
            with self._lock:
                return self._chain(account_id)
        except (ClientError, BotoCoreError, PackError) as error:
            return ScpChain(account_id, unread=f"SCPs not read: {_one_line(error)}")

    def _chain(self, account_id: str) -> ScpChain:
        if self._management is None:
            organization = result(self.clients("organizations").describe_organization(), "Organization",
                                  "DescribeOrganization")
            self._management = organization.get("MasterAccountId") or ""
            self._organization_id = organization.get("Id") or ""
        path = [(account_id, "ACCOUNT")]
        while path[-1][1] != "ROOT":
            if len(path) > MAX_DEPTH:
                raise PackError(f"the path of account {account_id} does not reach a root in {MAX_DEPTH} levels")
            path.append(self._parent(*path[-1]))
        levels = tuple(ScpLevel(f"{KINDS.get(kind, kind)} {target}",
                                tuple(self._document(policy) for policy in self._policies(target, kind)))
                       for target, kind in reversed(path))
        return ScpChain(account_id, levels, management=account_id == self._management,
                        organization_id=self._organization_id)

    def _parent(self, child: str, kind: str) -> tuple[str, str]:
        if child in self._parents:
            return self._parents[child]
        parents = list(self.clients.pages("organizations", "list_parents", "Parents",
                                          lambda p: (p["Id"], p["Type"]), ChildId=child))
        if len(parents) != 1:
            raise PackError(f"ListParents of {child} answered {len(parents)} parents; AWS gives exactly one")
        if kind != "ACCOUNT":
            self._parents[child] = parents[0]
        return parents[0]

    def _policies(self, target: str, kind: str) -> tuple[str, ...]:
        if target in self._attached:
            return self._attached[target]
        attached = tuple(self.clients.pages("organizations", "list_policies_for_target", "Policies",
                                            lambda p: p["Id"], TargetId=target, Filter=SCP_FILTER))
        if kind != "ACCOUNT":
            self._attached[target] = attached
        return attached

    def _document(self, policy_id: str) -> tuple[str, object]:
        if policy_id not in self._documents:
            answer: dict[str, Any] = result(self.clients("organizations").describe_policy(PolicyId=policy_id),
                                            "Policy", "DescribePolicy")
            summary = answer.get("PolicySummary") or {}
            self._documents[policy_id] = (f"{summary.get('Name') or policy_id}", result(answer, "Content",
                                                                                          "DescribePolicy"))
        return self._documents[policy_id]
