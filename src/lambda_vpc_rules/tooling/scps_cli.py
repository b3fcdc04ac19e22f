"""`lambda-vpc-rules scps publish --to s3://BUCKET/KEY [--accounts all|ID,ID]` (docs/scp.md).

Run from the management account or a delegated administrator: reads every in-scope account's SCP chain
(aws.organization_policies: organizations:DescribeOrganization, ListParents, ListPoliciesForTarget,
DescribePolicy; with `all`, organizations:ListAccounts for the ACTIVE accounts) and writes one JSON document
(core.scp.chains_document: the chains, their generation time, the document's SHA-256) to the S3 object the
deployed ENI rule reads (rule parameter `ScpChains`). Exit 0 when every chain was read; 2 when any could not
be (those accounts are written with the reason, and the ENI rule says SCPs were not considered for them), or
on any other error (nothing written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from ..aws.organization_policies import OrganizationPolicies
from ..aws.scp_chains import MAX_AGE, PARAMETER, parse_location
from ..core.scp import chains_document

EXIT_OK, EXIT_ERROR = 0, 2
ALL = "all"


def add_scps_arguments(parser: argparse.ArgumentParser, parents: list[argparse.ArgumentParser], accounts) -> None:
    """`parents`: the options of a command that talks to AWS; `accounts`: the CLI's `all|ID,ID` parser."""
    actions = parser.add_subparsers(dest="scps_command", required=True)
    publish = actions.add_parser("publish", parents=parents, help="read each account's SCP chain and write them, "
                                 "as JSON, to the S3 object the deployed ENI rule reads")
    publish.add_argument("--to", required=True, metavar="s3://BUCKET/KEY",
                         help=f"where the deployed ENI rule reads them (its {PARAMETER} rule parameter)")
    publish.add_argument("--accounts", type=accounts, default=ALL, metavar="all|ID,ID",
                         help="accounts to publish: all (the organization's ACTIVE accounts, the default) or a list")


def _accounts(clients, selection) -> list[str]:
    if selection != ALL:
        return sorted(set(selection))
    return sorted(account_id for account_id, state in clients.pages(
        "organizations", "list_accounts", "Accounts", lambda a: (a["Id"], a.get("State") or a.get("Status")))
        if state == "ACTIVE")


def run(args: argparse.Namespace, clients_for) -> int:
    """`scps publish`. `clients_for(args)`: the CLI's clients (the caller's credentials)."""
    bucket, key = parse_location(args.to)
    clients = clients_for(args)
    policies = OrganizationPolicies(clients)
    chains = [policies.chain(account_id) for account_id in _accounts(clients, args.accounts)]
    document = chains_document(chains, dt.datetime.now(dt.UTC))
    body = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
    answer = clients("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    version = answer.get("VersionId")
    unread = [chain for chain in chains if chain.unread]
    print(f"published the SCP chains of {len(chains)} account(s) (generated {document['generated_at']}, sha256 "
          f"{document['sha256']}) to {args.to}" + (f", S3 version {version}" if version else ""))
    print(f"rule parameter: {PARAMETER}={args.to} (the ENI rule treats it as stale after "
          f"{int(MAX_AGE.total_seconds() // 3600)} h: publish again on a schedule)")
    for chain in unread:
        print(f"lambda-vpc-rules: account {chain.account_id}: {chain.unread} (published as not read)", file=sys.stderr)
    return EXIT_ERROR if unread else EXIT_OK
