"""`lambda-vpc-rules`: scan an account, or many accounts and regions (read-only), send findings, write
evidence, deploy, or run the demo."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)

from .. import __version__
from ..aws.account import scan
from ..aws.actions import action_for
from ..aws.clients import Clients, is_access_denied, session_clients
from ..aws.config import ConfigReader, rule_notes, view_gaps
from ..aws.organization import ALL, Fleet, Selection, aggregator_coverage, scan_many, views_of_fleet
from ..core.coverage import Coverage, Covered, Gap
from ..core.engine import parse_parameters
from ..core.model import ScanReport
from ..core.rules import RULES, InvalidParameter, Rule, get_rule
from ..errors import PackError
from ..outputs.evidence import MANIFEST as MANIFEST_NAME
from ..outputs.evidence import EvidenceError, NothingToEvidence
from ..outputs.report import RENDERERS
from .deploy.steps import DeployError
from .endpoint import EndpointUnreachable, check_endpoint, describe_connection_error
from .exceptions_cli import (
    add_exceptions_arguments,
    add_register_options,
    register_for,
    with_expiry_window,
    with_register,
)

EXIT_OK, EXIT_NON_COMPLIANT, EXIT_ERROR = 0, 1, 2


class UsageError(PackError):
    """Bad arguments: reported in one line, exit code 2."""


def _session(args: argparse.Namespace, selection: Selection | None = None):
    """The caller's session; its region is where accounts and regions are listed from (default: the first
    region named)."""
    region = args.region
    if region is None and selection is not None and selection.regions != ALL:
        region = boto3.Session(profile_name=args.profile).region_name or selection.regions[0]
    session = boto3.Session(profile_name=args.profile, region_name=region)
    if not session.region_name:
        raise UsageError("no region: pass --region or set AWS_REGION")
    return session


def _clients(args: argparse.Namespace) -> Clients:
    """Clients for the account and region the arguments name."""
    return Clients(session_clients(_session(args), args.endpoint_url))


def _selection(args: argparse.Namespace, default_all: bool = False) -> Selection | None:
    """Many accounts or regions, as the arguments ask; None for one account and region (--region)."""
    if args.regions is None and args.accounts is None and not default_all:
        for option in ("role_name", "external_id", "excluded_accounts"):
            if getattr(args, option):
                raise UsageError(f"--{option.replace('_', '-')} applies to --accounts")
        return None
    regions = args.regions or ALL
    accounts = args.accounts or (ALL if default_all else None)
    return Selection(regions, accounts, args.role_name, args.external_id, frozenset(args.excluded_accounts or ()))


def _fleet(args: argparse.Namespace, selection: Selection) -> Fleet:
    return Fleet(_session(args, selection), selection, args.endpoint_url)


def _parameters_checked(run):
    try:
        return run()
    except InvalidParameter as error:
        raise UsageError(str(error)) from None


def _scan(clients: Clients, args: argparse.Namespace, rules: list[Rule]) -> ScanReport:
    register = register_for(args, clients)
    return with_expiry_window(_parameters_checked(
        lambda: scan(clients, rules, dict(args.param), args.reporter, register)), args)


def _scan_many(args: argparse.Namespace, selection: Selection, rules: list[Rule], sink=None) -> ScanReport:
    from .progress import ScanProgress

    fleet = _fleet(args, selection)
    register = register_for(args, fleet.source)
    with ScanProgress(getattr(args, "quiet", False)) as bar:
        # a bar on a terminal; else the reporter's lines (nothing with --quiet)
        messages = (lambda _: None) if bar.enabled or getattr(args, "quiet", False) else args.reporter
        return with_expiry_window(_parameters_checked(lambda: scan_many(
            fleet, rules, dict(args.param), args.concurrency, messages, register,
            checkpoint=getattr(args, "checkpoint", None), sink=sink, on_progress=bar,
            processes=getattr(args, "processes", 0))), args)


def _scan_many_streamed(args: argparse.Namespace, selection: Selection, rules: list[Rule]) -> int:
    """--format jsonl: each verdict written as it is made, none kept (outputs.jsonl)."""
    from ..outputs.jsonl import JsonlWriter

    handle = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        writer = JsonlWriter(handle, args.only_failing)
        report = _scan_many(args, selection, rules, sink=writer.write)
        writer.finish(report)
    finally:
        if args.output:
            handle.close()
    return _exit_code(report, writer.non_compliant)


def _regions(text: str) -> str | tuple[str, ...]:
    if text.strip() == ALL:
        return ALL
    names = tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
    bad = [name for name in names if not all(part.isalnum() for part in name.split("-")) or name.count("-") < 2]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"not region names: {', '.join(bad) or text!r} (e.g. us-east-1,eu-west-1 "
                                         "or all)")
    return names


def _accounts(text: str) -> str | tuple[str, ...]:
    return ALL if text.strip() == ALL else tuple(_account_list(text))


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number, 1 or more, got {text!r}")
    return int(text)


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, got {text!r}")
    return int(text)


def _account_list(text: str) -> list[str]:
    accounts = [item.strip() for item in text.split(",") if item.strip()]
    bad = [item for item in accounts if not (item.isdigit() and len(item) == 12)]
    if bad:
        raise argparse.ArgumentTypeError(f"not a 12-digit account ID: {', '.join(bad)}")
    return accounts


def _endpoint_url(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text


def _sha256(text: str) -> str:
    digest = text.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise argparse.ArgumentTypeError(f"not a SHA-256 (64 hex digits): {text!r}")
    return digest


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Bad arguments: one line (not argparse's usage block too), exit 2."""
        self.exit(EXIT_ERROR, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lambda-vpc-rules", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # Options every command takes, and those of every command that talks to AWS.
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="on an error, also print the traceback")
    aws = _Parser(add_help=False, parents=[common])
    aws.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")
    aws.add_argument("--profile", help="AWS named profile")
    aws.add_argument("--endpoint-url", type=_endpoint_url, help="AWS endpoint, e.g. a moto server")
    commands = parser.add_subparsers(dest="command", required=True)
    shown = _Parser(add_help=False)
    shown.add_argument("--quiet", "-q", action="store_true",
                       help="no progress and no list of the files written on stderr (errors are still said)")

    # Many accounts and regions (scan, evidence).
    many = _Parser(add_help=False)
    many.add_argument("--regions", type=_regions, metavar="all|R1,R2",
                      help="regions to read: all (each account's enabled regions) or a list; with it, one merged "
                      "report whose coverage lists what could not be read")
    many.add_argument("--accounts", type=_accounts, metavar="all|ID,ID",
                      help="accounts to read: all (the organization's ACTIVE accounts) or a list; needs --role-name")
    many.add_argument("--role-name", help="with --accounts: the role to assume in each account")
    many.add_argument("--external-id", help="with --role-name: the ExternalId the role's trust policy requires")
    many.add_argument("--excluded-accounts", type=_account_list, default=[], metavar="ID,ID",
                      help="with --accounts all: accounts to leave out (listed as left out)")
    many.add_argument("--concurrency", type=_positive, default=4, metavar="N",
                      help="account-regions read at once (default 4)")
    many.add_argument("--processes", type=_non_negative, default=0, metavar="N",
                      help="read and evaluate the accounts in N processes, each with its share of --concurrency "
                      "as threads (an account in one process only); 0 (default): all in this process's threads "
                      "(docs/organization-scale.md)")
    many.add_argument("--checkpoint", metavar="FILE",
                      help="record each account-region read in FILE (JSON Lines); rerun with the same FILE to read "
                      "only what is missing and write one report as if uninterrupted")

    scan = commands.add_parser(
        "scan", parents=[aws, many, shown], help="evaluate live accounts and regions, read-only")
    _add_evaluation_arguments(scan)

    scan.add_argument("--security-hub", action="store_true",
                      help="also send the verdicts to Security Hub as findings (BatchImportFindings)")
    scan.add_argument("--skip-config-rules", action="store_true",
                      help="with --security-hub: leave out rules deployed as AWS Config rules in this account and "
                      "region (AWS Config already sends their findings)")
    scan.add_argument("--show-excepted", action="store_true",
                      help="with --exceptions: list the excepted verdicts (table; json and csv always carry them)")
    add_register_options(scan)

    evidence = commands.add_parser(
        "evidence", parents=[aws, many, shown], help="write an evidence bundle: evaluations, HTML report, manifest")
    evidence.add_argument("--out", required=True, help="directory for the bundle")
    evidence.add_argument("--source", choices=("scan", "config"), default="scan",
                          help="scan: evaluate the account now; config: collect AWS Config's evaluations of the pack's "
                          "rules (default: scan)")
    evidence.add_argument("--aggregator", help="with --source config: a Config aggregator, for a whole organization")
    evidence.add_argument("--rule", action="append", choices=[rule.config_rule_name for rule in RULES],
                          help="rule to include (repeatable; default: all)")
    evidence.add_argument("--param", action="append", type=_key_value, default=[], metavar="NAME=VALUE",
                          help="with --source scan: rule parameter, as in AWS Config (repeatable); the manifest "
                          "records every parameter the rules ran with")
    evidence.add_argument("--remediation-records", metavar="FILE",
                          help="include the executions `remediate` recorded in FILE (remediations.json, the report)")
    from .period_evidence import add_period_arguments

    add_period_arguments(evidence)
    add_register_options(evidence)
    evidence.add_argument("--deployment", metavar="STACK",
                          help="the deployment whose rules these are (deploy's --stack-name): the bundle states "
                          "its code signing and CloudFormation hook, read from its functions stack in --region "
                          "(its StackSet with --deployment-organization); without it the bundle says they were "
                          "not read")
    evidence.add_argument("--deployment-organization", action="store_true",
                          help="with --deployment: it was deployed with --organization (run from the management "
                          "account)")
    evidence.add_argument("--deployment-bucket", metavar="BUCKET",
                          help="with --deployment: the bucket deploy used, whose deployment record says whether "
                          "unsigned code was allowed on purpose (--allow-unsigned)")
    evidence.add_argument("--kms-key-id", metavar="KEY",
                          help="sign the manifest with this asymmetric AWS KMS key (kms:Sign; key ID, ARN or alias)")
    evidence.add_argument("--upload", metavar="s3://BUCKET/PREFIX",
                          help="also write the bundle there under S3 Object Lock retention (needs --retain-days)")
    evidence.add_argument("--retain-days", type=_positive, metavar="N",
                          help="with --upload: COMPLIANCE-mode retention, in days")

    verify = commands.add_parser(
        "verify-evidence", parents=[aws], help="re-check an evidence bundle's hashes against its manifest")
    verify.add_argument("bundle", help="the bundle directory")
    verify.add_argument("--public-key", metavar="FILE",
                        help="check the signature offline with this public key (PEM or DER, as kms:GetPublicKey "
                        "gives it) instead of kms:Verify")
    verify.add_argument("--kms-key-id", metavar="KEY",
                        help="the key the bundle must be signed by (default: the key the signature names)")
    verify.add_argument("--manifest-sha256", metavar="HEX", type=_sha256,
                        help="also check manifest.json against the SHA-256 `evidence` printed when it wrote the bundle")

    from .deploy.cli import add_deploy_arguments, add_destroy_arguments, add_status_arguments

    add_deploy_arguments(commands.add_parser(
        "deploy", parents=[aws], help="deploy the pack to this account, or to every account of the organization"),
        _account_list, _key_value)
    status = commands.add_parser(
        "status", parents=[aws], help="what is deployed where: stacks, packs and rules per account and region")
    add_status_arguments(status, _account_list)
    add_register_options(status)
    add_destroy_arguments(commands.add_parser(
        "destroy", parents=[aws], help="remove everything deploy created"), _account_list)

    from .remediate import add_remediate_arguments

    add_remediate_arguments(commands.add_parser(
        "remediate", parents=[aws], help="fix NON_COMPLIANT functions with the pack's documents (--dry-run: show)"),
        _key_value)
    add_exceptions_arguments(commands.add_parser(
        "exceptions", help="the exceptions register: validate a file, publish it for the deployed rules"),
        [common, aws])
    from .scps_cli import add_scps_arguments

    add_scps_arguments(commands.add_parser(
        "scps", help="service control policies: publish each account's SCP chain for the deployed ENI rule"),
        [aws], _accounts)
    from .check_cli import add_check_arguments

    add_check_arguments(commands.add_parser(
        "check", parents=[aws], help="evaluate the functions CloudFormation/SAM templates or Terraform plans would "
        "create, before deployment (docs/check.md)"), _key_value)

    demo = commands.add_parser(
        "demo", parents=[common, shown], help="evaluate a built-in demo estate in an in-process moto mock")
    demo.add_argument("--out", default="out",
                      help="directory for everything the demo writes: demo-scan.json, demo-findings.asff.json, "
                      "demo-estate.json (what each demo function is meant to show) and the evidence/ bundle "
                      "(default: out)")
    _add_evaluation_arguments(demo, default_format="table")

    from .rules_cli import add_rules_arguments

    add_rules_arguments(commands.add_parser(
        "rules", parents=[common], help="list the rules and their parameters (type, default, allowed values)"))
    return parser


def _add_evaluation_arguments(parser: argparse.ArgumentParser, default_format: str | None = None) -> None:
    names = [rule.config_rule_name for rule in RULES]
    parser.add_argument("--rule", action="append", choices=names, help="rule to run (repeatable; default: all)")
    parser.add_argument(
        "--param",
        action="append",
        type=_key_value,
        default=[],
        metavar="NAME=VALUE",
        help="rule parameter, as in AWS Config (repeatable; `lambda-vpc-rules rules` lists them)",
    )
    parser.add_argument(
        "--format", choices=sorted(RENDERERS), default=default_format,
        help=f"output format (default: {default_format})" if default_format
        else "output format (default: table on a terminal, else json)")
    parser.add_argument("--output", help="write the result to this file instead of standard output")
    parser.add_argument("--only-failing", action="store_true",
                        help="list only NON_COMPLIANT verdicts (the summary still counts every verdict)")


def _selected_rules(args: argparse.Namespace) -> list[Rule]:
    return [get_rule(name) for name in args.rule] if args.rule else list(RULES)


def _emit(report: ScanReport, fmt: str | None, output: str | None, only_failing: bool = False,
          reporter=None, show_excepted: bool = False) -> None:
    from ..outputs.terminal import colour_wanted

    on_terminal = output is None and sys.stdout.isatty()
    fmt = fmt or ("table" if on_terminal else "json")
    width = shutil.get_terminal_size().columns if on_terminal else None
    text = RENDERERS[fmt](report, only_failing=only_failing, width=width,
                          colour=on_terminal and colour_wanted(sys.stdout), show_excepted=show_excepted)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        if reporter:
            reporter.wrote(output, f"the verdicts ({fmt})")
    else:
        sys.stdout.write(text)


def _send_to_security_hub(clients: Clients, args: argparse.Namespace, report: ScanReport) -> None:
    from ..outputs.securityhub import apply_exceptions, import_findings, to_findings

    results = report.evaluations
    if args.skip_config_rules:
        deployed = {d.rule for d in ConfigReader(clients).deployed_rules([rule.config_rule_name for rule in RULES])}
        results = [result for result in results if result.rule not in deployed]
    findings = to_findings(results, report.generated_at)
    args.reporter(f"Sending {len(findings)} findings to Security Hub (BatchImportFindings)")
    sent = import_findings(clients("securityhub"), findings)
    print(f"lambda-vpc-rules: sent {sent} findings to Security Hub", file=sys.stderr)
    updated = apply_exceptions(clients("securityhub"), results, {f["Id"]: f["ProductArn"] for f in findings})
    if updated:
        print(f"lambda-vpc-rules: set the workflow of {updated} findings per the exceptions register "
              "(BatchUpdateFindings)", file=sys.stderr)


def deployment_read(args: argparse.Namespace) -> dict[str, Any] | None:
    """What the deployment enforces, as `status` states it (`deploy.cli.read_deployment`), for the bundle; None
    without --deployment. Both kinds of bundle state it (`period_evidence` is handed it)."""
    if not args.deployment:
        return None
    from .deploy.cli import clients_for, read_deployment
    from .deploy.steps import DeployOptions

    session = _session(args)
    options = DeployOptions(bucket=args.deployment_bucket or "", stack_name=args.deployment,
                            organization=args.deployment_organization)
    signing, hook = read_deployment(clients_for(session, args.endpoint_url), options, session.region_name)
    return {"stack_name": args.deployment, "organization": args.deployment_organization,
            "region": session.region_name, "code_signing": signing, "hook": hook}


def _evidence(args: argparse.Namespace) -> int:
    from ..outputs.evidence import MANIFEST, Evidence, file_entry, identity, write_bundle

    if not args.deployment and (args.deployment_organization or args.deployment_bucket):  # before any read
        raise UsageError("--deployment-organization and --deployment-bucket describe --deployment STACK")
    if args.period_from or args.period_to or args.snapshots or args.config_history or args.snapshot_key:
        from .period_evidence import period_evidence

        if not args.period_from:
            raise UsageError("--to, --snapshots, --snapshot-key and --config-history describe an audit period: "
                             "give its start with --from")
        if (args.upload is None) != (args.retain_days is None):
            raise UsageError("--upload and --retain-days go together: a bundle in S3 is kept under Object Lock "
                             "retention")
        code, digest = period_evidence(args, _clients(args), deployment=deployment_read(args))
        _sign_and_upload(args, Path(args.out))  # the period's manifest signed as a snapshot bundle's is
        for line in manifest_digest_lines(args.out, digest):  # as for every bundle: kept apart from it
            print(line)
        return code

    if args.aggregator and args.source != "config":
        raise UsageError("--aggregator reads AWS Config: use it with --source config")
    if args.param and args.source != "scan":
        raise UsageError("--param applies to --source scan: AWS Config evaluated with the deployed rules' "
                         "parameters (the manifest records them)")
    rules = _selected_rules(args)
    names = [rule.config_rule_name for rule in rules]
    collected_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if args.aggregator:
        # expected: the organization's accounts (or those listed) x the regions (default: enabled ones)
        selection = _selection(args, default_all=True)
        fleet = _fleet(args, selection)
        caller = identity(fleet.caller())
        reader = ConfigReader(fleet.source)
        sources = reader.aggregate_sources(args.aggregator, names)
        rows = reader.aggregate_evaluations(args.aggregator, names, sources)
        coverage = aggregator_coverage(fleet, sources, rows, collected_at)
        # an aggregator does not tell the member accounts' rule parameters: the manifest says so (null)
        evidence = Evidence.from_config(collected_at, f"aggregator:{args.aggregator}", caller, [], coverage)
        evidence = dataclasses.replace(evidence, rule_parameters=None, rule_statuses=None, rows=rows)
    elif (selection := _selection(args)) is not None:
        fleet = _fleet(args, selection)
        caller = identity(fleet.caller())
        if args.source == "scan":
            evidence = Evidence.from_scan(_scan_many(args, selection, rules), "scan", caller)
        else:
            views, coverage = views_of_fleet(fleet, names, args.concurrency, args.reporter)
            evidence = Evidence.from_config(collected_at, "config", caller, views, coverage, many=True)
    else:
        clients = _clients(args)
        caller = identity(clients.caller_identity())
        if args.source == "scan":
            evidence = Evidence.from_scan(_scan(clients, args, rules), "scan", caller)
        else:
            view = ConfigReader(clients).view(names, caller["Account"])
            gaps = view_gaps(view, collected_at)  # the pack's own rule, recently evaluated
            coverage = Coverage.of("the caller's own account, with its own credentials",
                                   f"one region: {clients.region}",
                                   [] if gaps else [Covered(caller["Account"], clients.region, collected_at,
                                                            len(view.evaluations))],
                                   [Gap(caller["Account"], clients.region, "; ".join(gaps))] if gaps else [],
                                   notes=rule_notes(view), reader=(caller["Account"], clients.region))
            evidence = Evidence.from_config(collected_at, "config", caller, [view], coverage)
    evidence = with_register(_with_rows_split(evidence), args)
    evidence = dataclasses.replace(evidence, deployment=deployment_read(args))
    if args.remediation_records:
        from .remediate import read_records

        evidence = dataclasses.replace(evidence, remediations=read_records(args.remediation_records))
    if not evidence.rows:
        where = evidence.coverage.statement() if evidence.coverage else ""
        gaps = "; ".join(f"{g.where}: {g.reason}" for g in (evidence.coverage.gaps if evidence.coverage else ())[:3])
        raise NothingToEvidence(f"nothing to evidence: no evaluation of a Lambda function was collected "
                                f"({where}{' ' + gaps if gaps else ''}); no bundle written")
    if (args.upload is None) != (args.retain_days is None):
        raise UsageError("--upload and --retain-days go together: a bundle in S3 is kept under Object Lock retention")
    args.reporter(f"Writing the evidence bundle ({len(evidence.rows)} evaluations) to {args.out}")
    manifest = write_bundle(args.out, evidence)
    digest = file_entry(manifest, MANIFEST)["sha256"]
    args.reporter.wrote(f"{args.out}/", f"evidence bundle: {len(evidence.rows)} evaluations, report.html, "
                                        f"{MANIFEST}")
    _sign_and_upload(args, manifest.parent)
    # The manifest vouches for the other files; its own digest must be kept apart from the bundle.
    for line in manifest_digest_lines(args.out, digest):
        print(line)
    if evidence.coverage and not evidence.coverage.complete:
        print(f"lambda-vpc-rules: coverage incomplete: {evidence.coverage.statement()} (the bundle lists them)",
              file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def manifest_digest_lines(bundle: str, digest: str) -> list[str]:
    """The manifest's SHA-256 and the exact command that checks the bundle against it later."""
    import shlex

    return [f"{MANIFEST_NAME} sha256 {digest} (record it apart from the bundle; it vouches for every file)",
            f"verify later with: {shlex.quote(_program())} verify-evidence {shlex.quote(str(bundle))} "
            f"--manifest-sha256 {digest}"]


def _program() -> str:
    """How to call this command again: its name when it is on PATH, else the path it was run by (a fresh
    checkout's `.venv/bin/lambda-vpc-rules`)."""
    invoked = sys.argv[0] if sys.argv and Path(sys.argv[0]).name == "lambda-vpc-rules" else ""
    return invoked if invoked and not shutil.which("lambda-vpc-rules") else "lambda-vpc-rules"
def _sign_and_upload(args: argparse.Namespace, bundle) -> None:
    """`--kms-key-id`: the manifest signed (kms:Sign); `--upload`: the bundle under Object Lock retention."""
    session = None
    if args.kms_key_id:
        from ..outputs.signing import SIGNATURE, sign_manifest

        session = _session(args)
        signed = sign_manifest(Clients(session_clients(session, args.endpoint_url))("kms"), args.kms_key_id, bundle)
        print(f"lambda-vpc-rules: signed the manifest with {signed['key_id']} ({signed['signing_algorithm']}): "
              f"{bundle / SIGNATURE}", file=sys.stderr)
    if args.upload:
        from ..outputs.archive import upload_bundle

        session = session or _session(args)
        keys = upload_bundle(Clients(session_clients(session, args.endpoint_url))("s3"), args.upload, bundle,
                             args.retain_days)
        print(f"lambda-vpc-rules: uploaded {len(keys)} files to {args.upload} under COMPLIANCE retention for "
              f"{args.retain_days} days", file=sys.stderr)


def _with_rows_split(evidence):
    """Only the functions' evaluations are rows; the others (drift's NOT_APPLICABLE on a subnet, a route
    table, a role) are counted in the manifest."""
    from ..outputs.evidence import split_rows

    rows, others = split_rows(evidence.rows)
    counted = dict(evidence.other_evaluations)
    for resource_type, count in others.items():
        counted[resource_type] = counted.get(resource_type, 0) + count
    return dataclasses.replace(evidence, rows=rows, other_evaluations=dict(sorted(counted.items())))


def _verify_evidence(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..outputs.evidence import verify_bundle
    from ..outputs.signing import SIGNATURE, verify_signature

    bundle, manifest_sha256 = args.bundle, args.manifest_sha256
    if Path(bundle).exists() and not Path(bundle).is_dir():
        raise UsageError(f"{bundle}: a file, not a bundle directory (pass the directory `evidence --out` wrote)")
    if not Path(bundle).is_dir():
        raise UsageError(f"{bundle}: no such bundle directory")
    problems = verify_bundle(bundle, manifest_sha256)
    public_key = Path(args.public_key).read_bytes() if args.public_key else None
    kms = None
    if not problems and public_key is None and (Path(bundle) / SIGNATURE).exists():
        signed_with = args.kms_key_id or _signature_key(Path(bundle) / SIGNATURE)
        if signed_with:  # the key's own region, from its ARN
            region = signed_with.split(":")[3] if signed_with.startswith("arn:") else None
            session = boto3.Session(profile_name=args.profile, region_name=region or args.region)
            kms = Clients(session_clients(session, args.endpoint_url))("kms")
    check = verify_signature(bundle, kms, public_key, args.kms_key_id) if not problems else None
    problems += check.problems if check else []
    for problem in problems:
        print(f"lambda-vpc-rules: {bundle}: {problem}", file=sys.stderr)
    if not problems:
        recorded = " and the manifest its recorded SHA-256" if manifest_sha256 else ""
        print(f"{bundle}: every file matches its manifest{recorded}")
        print(f"{bundle}: {check.statement}")
    return EXIT_NON_COMPLIANT if problems else EXIT_OK


def _signature_key(path) -> str:
    import json

    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("key_id") or "")
    except (OSError, ValueError, AttributeError):
        return ""  # verify_signature names what is wrong with the file


def _describe_client_error(error: ClientError) -> str:
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", "")
    if is_access_denied(error):
        return (
            f"access denied: {action_for(error.operation_name)} was refused ({code}); grant it to the scanning "
            f"identity. {message}"
        )
    return f"{error.operation_name} failed: {code}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0: done, nothing NON_COMPLIANT; 1: a complete evaluation found something NON_COMPLIANT (or, for
    verify-evidence, the bundle does not verify); 2: anything else went wrong - one line on stderr, never a
    traceback unless --debug asks for one."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_ERROR if exit_.code else EXIT_OK
    try:
        return _run(args)
    except Exception as error:  # noqa: BLE001 - every failure is one line and exit 2, never a finding's code
        print(f"lambda-vpc-rules: {_describe(error)}", file=sys.stderr)
        if getattr(args, "debug", False):
            traceback.print_exc(file=sys.stderr)
        return EXIT_ERROR


def _check_before_set_up(args: argparse.Namespace) -> None:
    """What can be refused without AWS is refused before any set-up: rule parameters, an unreachable
    --endpoint-url."""
    if getattr(args, "param", None) and getattr(args, "source", "scan") == "scan":
        _parameters_checked(lambda: parse_parameters(_selected_rules(args), dict(args.param)))
    if getattr(args, "endpoint_url", None):
        check_endpoint(args.endpoint_url)


def _run(args: argparse.Namespace) -> int:
    if args.command == "rules":
        from .rules_cli import run

        return run(args)
    _check_before_set_up(args)
    try:
        from ..outputs.terminal import Reporter
    except ImportError as error:
        raise PackError(f"the command line's output needs rich ({error}): pip install 'lambda-vpc-rules[cli]'"
                        ) from None
    args.reporter = Reporter(quiet=getattr(args, "quiet", False))
    try:
        return _run_command(args)
    finally:
        args.reporter.close()


def _run_command(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from ..outputs.evidence import file_entry
        from .demo import run_demo

        report = run_demo(args.out, _selected_rules(args), dict(args.param), args.reporter, args.reporter.wrote)
        _emit(report, args.format, args.output, args.only_failing, args.reporter)
        bundle = Path(args.out, "evidence")
        args.reporter.close(manifest_digest_lines(str(bundle), file_entry(bundle / MANIFEST_NAME,
                                                                          MANIFEST_NAME)["sha256"]))
        return EXIT_OK
    if args.command == "verify-evidence":
        return _verify_evidence(args)
    if args.command in ("deploy", "status", "destroy"):
        from .deploy.cli import run

        register_code = EXIT_OK
        if args.command == "status" and args.exceptions:  # first: printed whatever the deployment's state
            from .exceptions_cli import status_lines

            register_code = status_lines(args)
        code = run(args.command, boto3.Session(profile_name=args.profile, region_name=args.region), args)
        return max(code, register_code)
    if args.command == "evidence":
        return _evidence(args)
    if args.command == "remediate":
        from .remediate import run as remediate

        return _parameters_checked(lambda: remediate(args, _clients(args), args.reporter))
    if args.command == "exceptions":
        from .exceptions_cli import run as run_exceptions

        return run_exceptions(args, _clients)
    if args.command == "scps":
        from .scps_cli import run as run_scps

        return run_scps(args, _clients)
    if args.command == "check":
        from .check_cli import run as run_check

        return run_check(args, lambda: _clients(args))
    selection = _selection(args)
    if selection is not None:
        if args.security_hub:
            raise UsageError("--security-hub imports findings in the account and region scanned: use it with "
                             "--region (one account and region), or deploy the pack (AWS Config sends them)")
        if args.format == "jsonl":
            return _scan_many_streamed(args, selection, _selected_rules(args))
        report = _scan_many(args, selection, _selected_rules(args))
        _emit(report, args.format, args.output, args.only_failing, args.reporter, args.show_excepted)
        return _exit_code(report)
    clients = _clients(args)
    report = _scan(clients, args, _selected_rules(args))
    _emit(report, args.format, args.output, args.only_failing, args.reporter, args.show_excepted)
    if args.security_hub:
        _send_to_security_hub(clients, args, report)
    return _exit_code(report)


def _exit_code(report: ScanReport, non_compliant: bool | None = None) -> int:
    """2 when coverage is incomplete (the verdicts of the rest are still written), else 1 when something is
    NON_COMPLIANT that no exception in force covers (`non_compliant`: the verdicts were streamed, not kept),
    else 0. The register's expired, expiring and stale exceptions are listed on stderr."""
    if report.exceptions is not None:
        from ..core.exceptions import expiry_lines

        for line in expiry_lines(report.exceptions):
            print(f"lambda-vpc-rules: {line}", file=sys.stderr)
    if report.coverage is not None and not report.coverage.complete:
        print(f"lambda-vpc-rules: coverage incomplete: {report.coverage.statement()} (listed in the report)",
              file=sys.stderr)
        return EXIT_ERROR
    found = report.has_non_compliant if non_compliant is None else non_compliant
    return EXIT_NON_COMPLIANT if found else EXIT_OK


def _describe(error: Exception) -> str:
    """One line saying what failed."""
    if isinstance(error, ClientError):
        return _describe_client_error(error)
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found (set a profile or AWS_* variables)"
    if isinstance(error, EvidenceError | NothingToEvidence):
        return f"evidence: {error}"
    if isinstance(error, DeployError):
        return f"deploy failed: {error}"
    if isinstance(error, EndpointUnreachable):
        return str(error)
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return describe_connection_error(error)
    if isinstance(error, BotoCoreError):
        return f"AWS error: {error}"
    if isinstance(error, PackError | ProfileNotFound | OSError):
        return str(error)
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"unexpected error: {type(error).__name__}: {first_line} (--debug prints the traceback)"


if __name__ == "__main__":
    sys.exit(main())
