"""`lambda-vpc-rules exceptions validate FILE` and `exceptions publish FILE --bucket B`; the register file
read for `scan --exceptions FILE` and `evidence --exceptions FILE` (docs/exceptions.md).

A register file is YAML (PyYAML: `pip install 'lambda-vpc-rules[yaml]'`) or JSON (`.json`, no extra needed).
`validate` exits 0 for a valid register (printing what is expired, expiring and in force), 2 for one that is not
(every problem on its own line, naming the entry). `publish` validates, resolves the OUs the register names
(AWS Organizations, from the management account or a delegated administrator), and writes it as JSON to the
S3 object the deployed rules read (rule parameter `ExceptionsRegister`), printing the object's version.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..aws.register import PARAMETER, parse_location, with_ous_resolved
from ..core.exceptions import (
    DEFAULT_EXPIRING_WITHIN_DAYS,
    Register,
    RegisterError,
    expiry_lines,
    from_annotation,
    parse_register,
    register_use,
)
from ..core.rules import RULES

EXIT_OK, EXIT_ERROR = 0, 2


def _days(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}")
    return int(text)


def add_register_options(parser: argparse.ArgumentParser) -> None:
    """`--exceptions FILE` and `--expiring-within DAYS`, for scan and evidence."""
    parser.add_argument("--exceptions", metavar="FILE",
                        help="the exceptions register (YAML or JSON): excepted NON_COMPLIANT verdicts are shown "
                        "apart and do not fail the run (docs/exceptions.md)")
    parser.add_argument("--expiring-within", type=_days, default=DEFAULT_EXPIRING_WITHIN_DAYS, metavar="DAYS",
                        help=f"with --exceptions: list exceptions expiring within DAYS (default "
                        f"{DEFAULT_EXPIRING_WITHIN_DAYS})")


def add_exceptions_arguments(parser: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    """`parents`: the options every command takes, then those of a command that talks to AWS."""
    actions = parser.add_subparsers(dest="exceptions_command", required=True)
    validate = actions.add_parser("validate", parents=parents[:1], help="check a register file (exit 0 valid, 2 not)")
    validate.add_argument("file", help="the register, YAML or JSON")
    validate.add_argument("--expiring-within", type=_days, default=DEFAULT_EXPIRING_WITHIN_DAYS, metavar="DAYS",
                          help=f"list exceptions expiring within DAYS (default {DEFAULT_EXPIRING_WITHIN_DAYS})")
    publish = actions.add_parser("publish", parents=parents[1:], help="validate a register and write it, as JSON with "
                                 "its OUs resolved, to the S3 object the deployed rules read")
    publish.add_argument("file", help="the register, YAML or JSON")
    publish.add_argument("--to", required=True, metavar="s3://BUCKET/KEY",
                         help=f"where the deployed rules read it (their {PARAMETER} rule parameter)")


def read_document(path: str) -> Any:
    """The parsed file; unreadable or not YAML/JSON: `RegisterError` naming the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RegisterError([f"cannot be read: {error}"], path) from None
    if file.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise RegisterError([f"not JSON: {error}"], path) from None
    try:
        import yaml
    except ImportError:  # pragma: no cover - the extra not installed
        raise RegisterError(["a YAML register needs PyYAML: pip install 'lambda-vpc-rules[yaml]' (or give JSON)"],
                            path) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RegisterError([f"not YAML: {' '.join(str(error).split())}"], path) from None


def load_register(path: str) -> Register:
    return parse_register(read_document(path), [rule.config_rule_name for rule in RULES], path)


def register_for(args: argparse.Namespace, clients):
    """The register `--exceptions` names (its OUs resolved with `clients`), or None."""
    if not getattr(args, "exceptions", None):
        return None
    return with_ous_resolved(clients, load_register(args.exceptions))


def with_expiry_window(report, args: argparse.Namespace):
    """The scan report with the register's use over `--expiring-within`'s window."""
    use = report.exceptions
    if use is None or use.within_days == args.expiring_within:
        return report
    return replace(report, exceptions=register_use(use.register, report.evaluations, use.now, args.expiring_within))


def with_register(evidence, args: argparse.Namespace):
    """The evidence with the register --exceptions names: its file in the bundle, and its use. A scan applied
    it already (`scan --exceptions`); rows read from AWS Config name the exception in their annotation, as the
    handlers wrote it."""
    if not getattr(args, "exceptions", None):
        return evidence
    data = Path(args.exceptions).read_bytes()
    name = "exceptions-register.json" if args.exceptions.lower().endswith(".json") else "exceptions-register.yaml"
    use = evidence.exceptions
    if use is None:
        register = load_register(args.exceptions)
        rows = [from_annotation(row) for row in evidence.rows]
        at = dt.datetime.fromisoformat(evidence.collected_at)
        use = register_use(register, rows, at, args.expiring_within)
        evidence = replace(evidence, rows=rows)
    elif use.within_days != args.expiring_within:
        use = register_use(use.register, evidence.rows, use.now, args.expiring_within)
    return replace(evidence, exceptions=use, register_file=(name, data))


def status_lines(args: argparse.Namespace) -> int:
    """`status --exceptions FILE`: the register's expired and expiring exceptions (stale ones need a run: scan
    and evidence report them). Exit 2 for a register that is not valid."""
    try:
        register = load_register(args.exceptions)
    except RegisterError as error:
        print(f"lambda-vpc-rules: {error}", file=sys.stderr)
        return EXIT_ERROR
    use = register_use(register, [], dt.datetime.now(dt.UTC), args.expiring_within)
    print("\n".join(expiry_lines(use, after_a_run=False)))
    return EXIT_OK


def run(args: argparse.Namespace, clients_for=None) -> int:
    """`exceptions validate` / `exceptions publish`. `clients_for(args)`: the CLI's clients (publish only)."""
    now = dt.datetime.now(dt.UTC)
    try:
        register = load_register(args.file)
    except RegisterError as error:
        print(f"lambda-vpc-rules: {args.file}: not a valid exceptions register", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_ERROR
    if args.exceptions_command == "validate":
        print(f"{args.file}: valid, version {register.version}, sha256 {register.sha256}, "
              f"{len(register.entries)} exception(s)")
        use = register_use(register, [], now, args.expiring_within)
        for line in expiry_lines(use, after_a_run=False)[1:]:  # no run: nothing can be stale
            print(line)
        return EXIT_OK
    bucket, key = parse_location(args.to)
    clients = clients_for(args)
    published = with_ous_resolved(clients, register)
    body = json.dumps(published.canonical(), indent=2, sort_keys=True).encode("utf-8")
    answer = clients("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    version = answer.get("VersionId")
    print(f"published {args.file} (version {register.version}, sha256 {published.sha256}) to {args.to}"
          + (f", S3 version {version}" if version else " (bucket versioning is off: turn it on, so that every "
                                                       "register in force is kept)"))
    print(f"rule parameter: {PARAMETER}={args.to}")
    return EXIT_OK
