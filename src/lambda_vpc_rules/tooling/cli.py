"""`lambda-vpc-rules`: scan an account (read-only), send findings, write evidence, deploy, or run the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
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
from ..core.model import ScanReport
from ..core.rules import RULES, InvalidParameter, Rule, get_rule
from ..errors import PackError
from ..outputs.evidence import EvidenceError
from ..outputs.report import RENDERERS
from .deploy import DeployError

EXIT_OK, EXIT_NON_COMPLIANT, EXIT_ERROR = 0, 1, 2


class UsageError(PackError):
    """Bad arguments: reported in one line, exit code 2."""


def _clients(args: argparse.Namespace) -> Clients:
    """Clients for the account and region the arguments name."""
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        raise UsageError("no region: pass --region or set AWS_REGION")
    return Clients(session_clients(session, args.endpoint_url))


def _scan(clients: Clients, args: argparse.Namespace, rules: list[Rule]) -> ScanReport:
    try:
        return scan(clients, rules, dict(args.param), _progress_printer())
    except InvalidParameter as error:
        raise UsageError(str(error)) from None


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

    scan = commands.add_parser(
        "scan", parents=[aws], help="evaluate a live account and region, read-only")
    _add_evaluation_arguments(scan)

    scan.add_argument("--security-hub", action="store_true",
                      help="also send the verdicts to Security Hub as findings (BatchImportFindings)")
    scan.add_argument("--skip-config-rules", action="store_true",
                      help="with --security-hub: leave out rules deployed as AWS Config rules in this account and "
                      "region (AWS Config already sends their findings)")

    evidence = commands.add_parser(
        "evidence", parents=[aws], help="write an evidence bundle: evaluations, HTML report, manifest")
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


def _selected_rules(args: argparse.Namespace) -> list[Rule]:
    return [get_rule(name) for name in args.rule] if args.rule else list(RULES)


def _progress_printer():
    if not sys.stderr.isatty():
        return lambda message: None
    return lambda message: print(f"… {message}", file=sys.stderr, flush=True)


def _emit(report: ScanReport, fmt: str | None, output: str | None) -> None:
    fmt = fmt or ("table" if (output is None and sys.stdout.isatty()) else "json")
    text = RENDERERS[fmt](report)
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
    from ..outputs.evidence import MANIFEST, Evidence, RuleParameters, file_entry, identity, write_bundle

    if args.aggregator and args.source != "config":
        raise UsageError("--aggregator reads AWS Config: use it with --source config")
    if args.param and args.source != "scan":
        raise UsageError("--param applies to --source scan: AWS Config evaluated with the deployed rules' "
                         "parameters (the manifest records them)")
    rules = _selected_rules(args)
    clients = _clients(args)
    caller = identity(clients.caller_identity())
    names = [rule.config_rule_name for rule in rules]
    collected_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if args.source == "scan":
        evidence = Evidence.from_scan(_scan(clients, args, rules), "scan", caller)
    elif args.aggregator:
        rows = ConfigReader(clients).aggregate_evaluations(args.aggregator, names)
        # an aggregator does not tell the member accounts' rule parameters: the manifest says so (null)
        evidence = Evidence(collected_at, f"aggregator:{args.aggregator}", caller, rows, None)
    else:
        reader = ConfigReader(clients)
        deployed = reader.deployed_rules(names)
        rows = reader.evaluations(deployed, caller["Account"])
        parameters = [RuleParameters(d.rule, d.parameters, d.name) for d in deployed]
        evidence = Evidence(collected_at, "config", caller, rows, parameters)
    manifest = write_bundle(args.out, evidence)
    digest = file_entry(manifest, MANIFEST)["sha256"]
    print(f"lambda-vpc-rules: wrote {len(evidence.rows)} evaluations and {manifest}", file=sys.stderr)
    # The manifest vouches for the other files; its own digest must be kept apart from the bundle.
    print(f"{MANIFEST} sha256 {digest} (record it: verify-evidence --manifest-sha256 {digest})")
    return EXIT_OK


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
        _emit(report, args.format or "table", args.output)
        return EXIT_OK
    if args.command == "verify-evidence":
        return _verify_evidence(args.bundle, args.manifest_sha256)
    if args.command in ("deploy", "status", "destroy"):
        from .deploy_cli import run

        return run(args.command, boto3.Session(profile_name=args.profile, region_name=args.region), args)
    if args.command == "evidence":
        return _evidence(args)
    clients = _clients(args)
    report = _scan(clients, args, _selected_rules(args))
    _emit(report, args.format, args.output)
    if args.security_hub:
        _send_to_security_hub(clients, args, report)
    return EXIT_NON_COMPLIANT if report.has_non_compliant else EXIT_OK


def _describe(error: Exception) -> str:
    """One line saying what failed."""
    if isinstance(error, ClientError):
        return _describe_client_error(error)
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found (set a profile or AWS_* variables)"
    if isinstance(error, EvidenceError):
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
