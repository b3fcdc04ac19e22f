"""The command line of `deploy`, `status` and `destroy`: their arguments and how each runs (cli.py wires them in).

Exit codes: 0 everything in place; 2 anything failed - one line on stderr per failure (a pre-flight problem, a
StackSet operation, an account and region whose stack instance or conformance pack failed), or a bad argument.
Progress goes to stderr line by line; the result to stdout (a table on a terminal or with `--format table`, JSON
otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ...errors import PackError
from .stacks import DEFAULT_RETENTION_DAYS, RETENTION_DAYS

EXIT_OK, EXIT_ERROR = 0, 2


class CommandError(PackError):
    """Arguments that do not fit together: one line, exit 2."""


def _percentage(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"not a percentage from 0 to 100: {text!r}")
    return int(text)


def _regions(text: str) -> list[str]:
    regions = [item.strip() for item in text.split(",") if item.strip()]
    if regions != ["all"] and any(not _is_region(r) for r in regions):
        raise argparse.ArgumentTypeError(f"expected region names (us-east-1,eu-west-1) or 'all', got {text!r}")
    return regions


def _is_region(text: str) -> bool:
    import re

    return re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", text) is not None


def _retention(text: str) -> int:
    if not text.isdigit() or int(text) not in RETENTION_DAYS:
        raise argparse.ArgumentTypeError(f"CloudWatch Logs keeps logs for one of {', '.join(map(str, RETENTION_DAYS))} "
                                         "days")
    return int(text)


def _topic_arn(text: str) -> str:
    import re

    if not re.fullmatch(r"arn:aws[a-z-]*:sns:([a-z0-9-]+|\{region\}):\d{12}:[A-Za-z0-9_-]{1,256}", text):
        raise argparse.ArgumentTypeError(f"not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME, REGION may be "
                                         f"{{region}}): {text!r}")
    return text


def _placement_arguments(parser: argparse.ArgumentParser, account_list: Any) -> None:
    """What says where the pack is: shared by deploy, status and destroy."""
    parser.add_argument("--regions", type=_regions, default=[], metavar="R1,R2|all",
                        help="regions to cover (default: --region); 'all': every region enabled in this account")
    parser.add_argument("--organization", action="store_true",
                        help="every account of the organization (from the management account, or a delegated "
                        "administrator with --delegated-admin)")
    parser.add_argument("--delegated-admin", action="store_true",
                        help="with --organization: run from a delegated administrator "
                        "(StackSets CallAs=DELEGATED_ADMIN)")
    parser.add_argument("--excluded-accounts", type=account_list, default=[], metavar="ID,ID",
                        help="with --organization: accounts to leave out")
    parser.add_argument("--stack-name", default="lambda-vpc-rules",
                        help="the deployment's name and identity: stack and StackSet name prefix, the tag on "
                        "everything deploy creates, the prefix of its objects (default: lambda-vpc-rules)")
    parser.add_argument("--pack-name", help="conformance pack name (default: --stack-name)")
    parser.add_argument("--bucket-owner", metavar="ACCOUNT",
                        help="the account owning the buckets, named on every S3 call (ExpectedBucketOwner; default: "
                        "the deploying account)")
    parser.add_argument("--mode", choices=("pack", "rules"), default="pack",
                        help="one account: a conformance pack (default) or plain Config rules")
    parser.add_argument("--aggregator",
                        help="with --organization: the organization aggregator to create or reuse (default: "
                        "--stack-name)")
    parser.add_argument("--no-aggregator", action="store_true", help="with --organization: no aggregator")
    parser.add_argument("--format", choices=("table", "json"), help="output (default: table on a terminal, else json)")


def add_deploy_arguments(parser: argparse.ArgumentParser, account_list: Any, key_value: Any) -> None:
    parser.add_argument("--bucket", required=True,
                        help="S3 bucket for the bundles, in the region it serves; with several regions a name "
                        "holding {region}, e.g. my-artifacts-{region}")
    parser.add_argument("--key-prefix", default="lambda-vpc-rules/", help="S3 key prefix (default: lambda-vpc-rules/)")
    _placement_arguments(parser, account_list)
    parser.add_argument("--pack-param", action="append", type=key_value, default=[], metavar="NAME=VALUE",
                        help="conformance pack parameter, e.g. LambdaVpcEniPermissionsFlagOverbroadEc2=true")
    parser.add_argument("--remediation", action="append", type=key_value, default=[], metavar="RULE=automatic",
                        help="let AWS Config remediate the rule by itself; without it every rule's remediation is "
                        "manual (docs/remediation.md)")
    parser.add_argument("--log-retention-days", type=_retention, default=DEFAULT_RETENTION_DAYS, metavar="DAYS",
                        help=f"how long the functions' logs are kept (default: {DEFAULT_RETENTION_DAYS})")
    parser.add_argument("--signing-profile", metavar="NAME",
                        help="AWS Signer profile (the same name in each region): sign the bundles and enforce code "
                        "signing on the functions; the buckets must be versioned. Required with --organization "
                        "unless --allow-unsigned")
    parser.add_argument("--allow-unsigned", action="store_true",
                        help="with --organization: deploy code that is not signed, on purpose (status and the "
                        "deployment record say so)")
    parser.add_argument("--alarm-topic", type=_topic_arn, metavar="ARN",
                        help="SNS topic the pack's alarms notify, in each region deployed ({region} in the ARN: one "
                        "per region); default: the functions stack creates one per region (docs/control-health.md)")
    parser.add_argument("--reserved-concurrency", type=int, metavar="N",
                        help="concurrent executions reserved for each function (default: none)")
    parser.add_argument("--snapshots", metavar="s3://BUCKET/PREFIX",
                        help="where each scheduled run keeps its verdicts, for evidence over an audit period (an "
                        "existing bucket, Object Lock recommended: docs/audit-period.md); default: none")
    parser.add_argument("--snapshot-kms-key", metavar="KEY_ARN",
                        help="with --snapshots: an asymmetric KMS key (ECC_NIST_P256) that signs each snapshot")
    parser.add_argument("--max-concurrent-percentage", type=_percentage, default=25, metavar="PCT",
                        help="StackSet operations: share of accounts deployed at once, per region (default: 25)")
    parser.add_argument("--failure-tolerance-percentage", type=_percentage, default=0, metavar="PCT",
                        help="StackSet operations: share of accounts that may fail before a region stops (default: 0)")
    parser.add_argument("--region-concurrency", choices=("sequential", "parallel"), default="sequential",
                        help="StackSet operations after the first region (the canary): sequential (default), one "
                        "after another, or parallel, all at once")
    parser.add_argument("--wait-delay", type=float, default=10, metavar="SECONDS",
                        help="seconds between two looks at a running operation (default: 10)")
    parser.add_argument("--hook", choices=("FAIL", "WARN"),
                        help="also deploy the CloudFormation Lambda Hook (docs/check.md) judging Lambda functions "
                        "before CloudFormation creates or updates them: FAIL blocks, WARN warns (default: none)")
    parser.add_argument("--dist", help="where to build the bundles (default: a temporary directory)")


def add_status_arguments(parser: argparse.ArgumentParser, account_list: Any) -> None:
    _placement_arguments(parser, account_list)
    parser.add_argument("--bucket", help="the bucket (pattern) deploy used: its deployment record is read")
    parser.add_argument("--key-prefix", default="lambda-vpc-rules/",
                        help="S3 key prefix deploy used (default: lambda-vpc-rules/)")


def add_destroy_arguments(parser: argparse.ArgumentParser, account_list: Any) -> None:
    parser.add_argument("--bucket", required=True, help="the bucket (pattern) deploy used; its objects go")
    parser.add_argument("--key-prefix", default="lambda-vpc-rules/",
                        help="S3 key prefix deploy used (default: lambda-vpc-rules/)")
    _placement_arguments(parser, account_list)
    parser.add_argument("--legacy", action="store_true",
                        help="also remove the earlier central-function layout (StackSet and stack "
                        "lambda-vpc-rules-member-role)")
    parser.add_argument("--wait-delay", type=float, default=10, metavar="SECONDS",
                        help="seconds between two looks at a running operation (default: 10)")


def _remediation(choices: list[tuple[str, str]]) -> dict[str, str]:
    from ..remediation_documents import remediation_pack_parameters

    try:
        return remediation_pack_parameters(choices)
    except ValueError as error:
        raise CommandError(str(error)) from None


def options_from(args: argparse.Namespace) -> Any:
    from .deploy import DeployOptions

    if args.delegated_admin and not args.organization:
        raise CommandError("--delegated-admin applies to --organization")
    return DeployOptions(
        bucket=getattr(args, "bucket", None) or "",
        regions=args.regions,
        key_prefix=getattr(args, "key_prefix", "lambda-vpc-rules/"),
        stack_name=args.stack_name,
        pack_name=args.pack_name or args.stack_name,
        mode=args.mode,
        organization=args.organization,
        delegated_admin=args.delegated_admin,
        excluded_accounts=args.excluded_accounts,
        pack_parameters={**_remediation(getattr(args, "remediation", [])), **dict(getattr(args, "pack_param", []))},
        log_retention_days=getattr(args, "log_retention_days", DEFAULT_RETENTION_DAYS),
        signing_profile=getattr(args, "signing_profile", None),
        allow_unsigned=getattr(args, "allow_unsigned", False),
        bucket_owner=getattr(args, "bucket_owner", None),
        reserved_concurrency=getattr(args, "reserved_concurrency", None),
        snapshots=getattr(args, "snapshots", None),
        snapshot_kms_key=getattr(args, "snapshot_kms_key", None),
        alarm_topic=getattr(args, "alarm_topic", None),
        max_concurrent_percentage=getattr(args, "max_concurrent_percentage", 25),
        failure_tolerance_percentage=getattr(args, "failure_tolerance_percentage", 0),
        region_concurrency=getattr(args, "region_concurrency", "sequential"),
        aggregator=None if args.no_aggregator else (args.aggregator or args.stack_name),
        waiter_delay=getattr(args, "wait_delay", 10),
        dist=Path(args.dist) if getattr(args, "dist", None) else None,
        hook=getattr(args, "hook", None),
    )


def clients_for(session: Any, endpoint_url: str | None) -> Any:
    from ...aws.clients import guard, session_clients
    from .deploy import RegionalClients

    client_for = session_clients(session, endpoint_url)
    return RegionalClients(lambda service, region: guard(client_for(service, region)), session.region_name)


def progress_line(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def _emit(rows: list[Any], payload: dict[str, Any], fmt: str | None) -> None:
    from .status import render_table, summary

    if (fmt or ("table" if sys.stdout.isatty() else "json")) == "table":
        sys.stdout.write(render_table(rows) + summary(rows) + "\n")
    else:
        print(json.dumps(payload, indent=2, default=str))


def _fail(lines: list[str]) -> int:
    for line in lines:
        print(f"lambda-vpc-rules: FAILED {line}", file=sys.stderr)
    return EXIT_ERROR if lines else EXIT_OK


def run(command: str, session: Any, args: argparse.Namespace) -> int:
    """Run deploy, status or destroy; exit code."""
    from .deploy import PreflightFailed, deploy, resolve_regions

    if not session.region_name:
        raise CommandError("no region: pass --region or set AWS_REGION")
    options = options_from(args)
    clients = clients_for(session, args.endpoint_url)
    if command == "deploy":
        try:
            result = deploy(clients, options, progress_line)
        except PreflightFailed as error:
            _fail(error.problems)
            print(f"lambda-vpc-rules: {error}", file=sys.stderr)
            return EXIT_ERROR
        for note in result.notes:
            print(f"lambda-vpc-rules: note: {note}", file=sys.stderr)
        _emit(result.rows, result.as_json(), args.format)
        return _fail(result.failures)
    regions = resolve_regions(options.regions, clients)
    if command == "status":
        rows = read_status(clients, options, regions)
        signing, hook = read_deployment(clients, options, regions[0])
        print(f"lambda-vpc-rules: {signing}", file=sys.stderr)
        print(f"lambda-vpc-rules: {hook}", file=sys.stderr)
        _emit(rows, {"placements": [row.as_json() for row in rows], "code_signing": signing, "hook": hook},
              args.format)
        return _fail([failure for row in rows for failure in row.failures()])
    from .destroy import destroy

    return _fail(destroy(clients, options, regions, progress_line, legacy=args.legacy))


def read_deployment(clients: Any, options: Any, region: str) -> tuple[str, str]:
    """What the deployment enforces (in `region`), from the functions stack's (or StackSet's) own parameters:
    code signing (SigningProfileVersionArns, with the deployment record's word on --allow-unsigned) and the
    CloudFormation hook (HookFailureMode). Read, not recalled: a stack updated by hand shows as it is."""
    from botocore.exceptions import ClientError

    from .record import hook_statement, read_record, signing_statement

    parameters = None
    try:
        if options.organization:
            from .org import describe_stack_set, functions_stack_set
            from .preflight import call_as

            found = describe_stack_set(clients("cloudformation"), functions_stack_set(options, region),
                                       call_as(options))
        else:
            found = clients("cloudformation", region).describe_stacks(StackName=options.stack_name)["Stacks"][0]
        if found is not None:
            parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters") or ()}
    except ClientError:
        parameters = None
    record = None
    if options.bucket:
        owner = options.bucket_owner or clients("sts").get_caller_identity()["Account"]
        try:
            record = read_record(clients, options, owner)
        except ClientError:
            record = None
    arns = None if parameters is None else parameters.get("SigningProfileVersionArns", "")
    hook = None if parameters is None else parameters.get("HookFailureMode", "")
    return signing_statement(arns, record), hook_statement(hook)


def read_status(clients: Any, options: Any, regions: list[str]) -> list[Any]:
    from .status import account_placements

    account = clients("sts").get_caller_identity()["Account"]
    if not options.organization:
        return account_placements(clients, options, regions, account, with_evaluations=True)
    from .org import organization_placements, scope_of
    from .preflight import Preflight

    organizations = clients("organizations")
    report = Preflight(organization=organizations.describe_organization()["Organization"],
                       root_id=organizations.list_roots()["Roots"][0]["Id"])
    report.accounts = sorted(a["Id"] for page in organizations.get_paginator("list_accounts").paginate()
                             for a in page["Accounts"] if a.get("Status") == "ACTIVE")
    return organization_placements(clients, options, regions, scope_of(report, options), account, extras=True)
