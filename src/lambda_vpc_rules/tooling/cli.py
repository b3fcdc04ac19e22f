"""`lambda-vpc-rules`: scan an account, or many accounts and regions (read-only), send findings, write
evidence, deploy, or run the demo."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shutil
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import NoReturn
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from .. import __version__
from ..aws.account import scan
from ..aws.actions import action_for
from ..aws.clients import Clients, is_access_denied, session_clients
from ..aws.config import ConfigReader
from ..aws.organization import ALL, Fleet, Selection, aggregator_coverage, scan_many, views_of_fleet
from ..core.coverage import Coverage, Covered
from ..core.model import ScanReport
from ..core.rules import RULES, InvalidParameter, Rule, get_rule
from ..errors import PackError
from ..outputs.evidence import EvidenceError, NothingToEvidence
from ..outputs.report import RENDERERS
from .deploy import DeployError

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
    return _parameters_checked(lambda: scan(clients, rules, dict(args.param), _progress_printer()))


def _scan_many(args: argparse.Namespace, selection: Selection, rules: list[Rule], sink=None) -> ScanReport:
    from .progress import ScanProgress

    fleet = _fleet(args, selection)
    with ScanProgress(getattr(args, "quiet", False)) as bar:
        messages = (lambda _: None) if bar.enabled or getattr(args, "quiet", False) else _progress_printer()
        return _parameters_checked(lambda: scan_many(
            fleet, rules, dict(args.param), args.concurrency, messages, checkpoint=getattr(args, "checkpoint", None),
            sink=sink, on_progress=bar, processes=getattr(args, "processes", 0)))


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
                      help="evaluate in N processes beside the reading threads (default 0: in the threads; see "
                      "docs/organization-scale.md)")
    many.add_argument("--checkpoint", metavar="FILE",
                      help="record each account-region read in FILE (JSON Lines); rerun with the same FILE to read "
                      "only what is missing and write one report as if uninterrupted")
    many.add_argument("--quiet", action="store_true", help="no progress on the terminal")

    scan = commands.add_parser(
        "scan", parents=[aws, many], help="evaluate live accounts and regions, read-only")
    _add_evaluation_arguments(scan)

    scan.add_argument("--security-hub", action="store_true",
                      help="also send the verdicts to Security Hub as findings (BatchImportFindings)")
    scan.add_argument("--skip-config-rules", action="store_true",
                      help="with --security-hub: leave out rules deployed as AWS Config rules in this account and "
                      "region (AWS Config already sends their findings)")

    evidence = commands.add_parser(
        "evidence", parents=[aws, many], help="write an evidence bundle: evaluations, HTML report, manifest")
    evidence.add_argument("--out", required=True, help="directory for the bundle")
    evidence.add_argument("--source", choices=("scan", "config"), default="scan",
                          help="scan the account now (default) or collect AWS Config's evaluations of the pack's rules")
    evidence.add_argument("--aggregator", help="with --source config: a Config aggregator, for a whole organization")
    evidence.add_argument("--rule", action="append", choices=[rule.config_rule_name for rule in RULES],
                          help="rule to include (repeatable; default: all)")
    evidence.add_argument("--param", action="append", type=_key_value, default=[], metavar="NAME=VALUE",
                          help="with --source scan: rule parameter, as in AWS Config (repeatable); the manifest "
                          "records every parameter the rules ran with")

    verify = commands.add_parser(
        "verify-evidence", parents=[common], help="re-check an evidence bundle's hashes against its manifest")
    verify.add_argument("bundle", help="the bundle directory")
    verify.add_argument("--manifest-sha256", metavar="HEX",
                        help="also check manifest.json against the SHA-256 `evidence` printed when it wrote the bundle")

    from .deploy_cli import add_deploy_arguments, add_destroy_arguments, add_status_arguments

    add_deploy_arguments(commands.add_parser(
        "deploy", parents=[aws], help="deploy the pack to this account, or to every account of the organization"),
        _account_list, _key_value)
    add_status_arguments(commands.add_parser(
        "status", parents=[aws], help="what is deployed where: stacks, packs and rules per account and region"),
        _account_list)
    add_destroy_arguments(commands.add_parser(
        "destroy", parents=[aws], help="remove everything deploy created"), _account_list)

    demo = commands.add_parser(
        "demo", parents=[common], help="evaluate a built-in demo estate in an in-process moto mock")
    demo.add_argument("--out", default="out", help="directory for the JSON result (default: out)")
    _add_evaluation_arguments(demo)
    return parser


def _add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    names = [rule.config_rule_name for rule in RULES]
    parser.add_argument("--rule", action="append", choices=names, help="rule to run (repeatable; default: all)")
    parser.add_argument(
        "--param",
        action="append",
        type=_key_value,
        default=[],
        metavar="NAME=VALUE",
        help="rule parameter, as in AWS Config (repeatable)",
    )
    parser.add_argument(
        "--format", choices=sorted(RENDERERS), help="output format (default: table on a terminal, else json)"
    )
    parser.add_argument("--output", help="write the result to this file instead of standard output")
    parser.add_argument("--only-failing", action="store_true",
                        help="list only NON_COMPLIANT verdicts (the summary still counts every verdict)")


def _selected_rules(args: argparse.Namespace) -> list[Rule]:
    return [get_rule(name) for name in args.rule] if args.rule else list(RULES)


def _progress_printer():
    """One line per step on a terminal's stderr (from several threads: one line at a time)."""
    if not sys.stderr.isatty():
        return lambda message: None
    lock = threading.Lock()

    def show(message: str) -> None:
        with lock:
            print(f"… {message}", file=sys.stderr, flush=True)

    return show


def _emit(report: ScanReport, fmt: str | None, output: str | None, only_failing: bool = False) -> None:
    on_terminal = output is None and sys.stdout.isatty()
    fmt = fmt or ("table" if on_terminal else "json")
    width = shutil.get_terminal_size().columns if on_terminal else None
    text = RENDERERS[fmt](report, only_failing=only_failing, width=width)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)


def _send_to_security_hub(clients: Clients, args: argparse.Namespace, report: ScanReport) -> None:
    from ..outputs.securityhub import import_findings, to_findings

    results = report.evaluations
    if args.skip_config_rules:
        deployed = {d.rule for d in ConfigReader(clients).deployed_rules([rule.config_rule_name for rule in RULES])}
        results = [result for result in results if result.rule not in deployed]
    sent = import_findings(clients("securityhub"), to_findings(results, report.generated_at))
    print(f"lambda-vpc-rules: sent {sent} findings to Security Hub", file=sys.stderr)


def _evidence(args: argparse.Namespace) -> int:
    from ..outputs.evidence import MANIFEST, Evidence, file_entry, identity, write_bundle

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
            views, coverage = views_of_fleet(fleet, names, args.concurrency, _progress_printer())
            evidence = Evidence.from_config(collected_at, "config", caller, views, coverage, many=True)
    else:
        clients = _clients(args)
        caller = identity(clients.caller_identity())
        if args.source == "scan":
            evidence = Evidence.from_scan(_scan(clients, args, rules), "scan", caller)
        else:
            view = ConfigReader(clients).view(names, caller["Account"])
            coverage = Coverage.of("the caller's own account, with its own credentials",
                                   f"one region: {clients.region}",
                                   [Covered(caller["Account"], clients.region, collected_at, len(view.evaluations))],
                                   [], reader=(caller["Account"], clients.region))
            evidence = Evidence.from_config(collected_at, "config", caller, [view], coverage)
    evidence = _with_rows_split(evidence)
    if not evidence.rows:
        where = evidence.coverage.statement() if evidence.coverage else ""
        gaps = "; ".join(f"{g.where}: {g.reason}" for g in (evidence.coverage.gaps if evidence.coverage else ())[:3])
        raise NothingToEvidence(f"nothing to evidence: no evaluation of a Lambda function was collected "
                                f"({where}{' ' + gaps if gaps else ''}); no bundle written")
    manifest = write_bundle(args.out, evidence)
    digest = file_entry(manifest, MANIFEST)["sha256"]
    print(f"lambda-vpc-rules: wrote {len(evidence.rows)} evaluations and {manifest}", file=sys.stderr)
    # The manifest vouches for the other files; its own digest must be kept apart from the bundle.
    print(f"{MANIFEST} sha256 {digest} (record it: verify-evidence --manifest-sha256 {digest})")
    if evidence.coverage and not evidence.coverage.complete:
        print(f"lambda-vpc-rules: coverage incomplete: {evidence.coverage.statement()} (the bundle lists them)",
              file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _with_rows_split(evidence):
    """Only the functions' evaluations are rows; the others (drift's NOT_APPLICABLE on a subnet, a route
    table, a role) are counted in the manifest."""
    from ..outputs.evidence import split_rows

    rows, others = split_rows(evidence.rows)
    counted = dict(evidence.other_evaluations)
    for resource_type, count in others.items():
        counted[resource_type] = counted.get(resource_type, 0) + count
    return dataclasses.replace(evidence, rows=rows, other_evaluations=dict(sorted(counted.items())))


def _verify_evidence(bundle: str, manifest_sha256: str | None) -> int:
    from pathlib import Path

    from ..outputs.evidence import verify_bundle

    if not Path(bundle).is_dir():
        raise UsageError(f"{bundle}: no such bundle directory")
    problems = verify_bundle(bundle, manifest_sha256)
    for problem in problems:
        print(f"lambda-vpc-rules: {bundle}: {problem}", file=sys.stderr)
    if not problems:
        recorded = " and the manifest its recorded SHA-256" if manifest_sha256 else ""
        print(f"{bundle}: every file matches its manifest{recorded}")
    return EXIT_NON_COMPLIANT if problems else EXIT_OK


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


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .demo import run_demo

        report = run_demo(args.out, _selected_rules(args), dict(args.param), _progress_printer())
        _emit(report, args.format or "table", args.output, args.only_failing)
        return EXIT_OK
    if args.command == "verify-evidence":
        return _verify_evidence(args.bundle, args.manifest_sha256)
    if args.command in ("deploy", "status", "destroy"):
        from .deploy_cli import run

        return run(args.command, boto3.Session(profile_name=args.profile, region_name=args.region), args)
    if args.command == "evidence":
        return _evidence(args)
    selection = _selection(args)
    if selection is not None:
        if args.security_hub:
            raise UsageError("--security-hub imports findings in the account and region scanned: use it with "
                             "--region (one account and region), or deploy the pack (AWS Config sends them)")
        if args.format == "jsonl":
            return _scan_many_streamed(args, selection, _selected_rules(args))
        report = _scan_many(args, selection, _selected_rules(args))
        _emit(report, args.format, args.output, args.only_failing)
        return _exit_code(report)
    clients = _clients(args)
    report = _scan(clients, args, _selected_rules(args))
    _emit(report, args.format, args.output, args.only_failing)
    if args.security_hub:
        _send_to_security_hub(clients, args, report)
    return _exit_code(report)


def _exit_code(report: ScanReport, non_compliant: bool | None = None) -> int:
    """2 when coverage is incomplete (the verdicts of the rest are still written), else 1 when something is
    NON_COMPLIANT (`non_compliant`: the verdicts were streamed, not kept), else 0."""
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
    if isinstance(error, BotoCoreError):
        return f"AWS error: {error}"
    if isinstance(error, PackError | ProfileNotFound | OSError):
        return str(error)
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"unexpected error: {type(error).__name__}: {first_line} (--debug prints the traceback)"


if __name__ == "__main__":
    sys.exit(main())
