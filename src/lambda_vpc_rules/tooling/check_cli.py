"""`lambda-vpc-rules check PATH...`: the rules on templates and plans before deployment (docs/check.md).

Exit codes as `scan`: 0 nothing NON_COMPLIANT; 1 something NON_COMPLIANT; 2 an error, or a verdict that
could not be established before deployment (the verdicts are still written, as scan writes them when its
coverage is incomplete).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from collections.abc import Callable
from typing import Any

from ..core.model import Compliance
from ..core.rules import RULES, get_rule
from ..iac.check import CheckReport, CheckRow, check_paths
from ..iac.resolve import Context
from ..outputs import sarif

EXIT_OK, EXIT_NON_COMPLIANT, EXIT_ERROR = 0, 1, 2
ORDER = {Compliance.NON_COMPLIANT: 0, Compliance.COMPLIANT: 1, Compliance.NOT_APPLICABLE: 2}


def add_check_arguments(parser: argparse.ArgumentParser, key_value: Callable[[str], tuple[str, str]]) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="CloudFormation/SAM templates (YAML or JSON; CDK: cdk.out/*.template.json) "
                        "or Terraform plans (terraform show -json), or directories of them (searched for "
                        ".yaml, .yml, .json and .template files; those that are neither are skipped and listed)")
    parser.add_argument("--rule", action="append", choices=[rule.config_rule_name for rule in RULES],
                        help="rule to run (repeatable; default: all)")
    parser.add_argument("--param", action="append", type=key_value, default=[], metavar="NAME=VALUE",
                        help="rule parameter, as in AWS Config (repeatable)")
    parser.add_argument("--parameter", action="append", type=key_value, default=[], metavar="NAME=VALUE",
                        help="template parameter value (repeatable; default: the template's Default)")
    parser.add_argument("--account", help="the account ID the stack deploys to (read from the credentials with "
                        "--region/--profile)")
    parser.add_argument("--stack-name", help="the stack name (AWS::StackName)")
    parser.add_argument("--format", choices=("table", "json", "sarif"),
                        help="output format (default: table on a terminal, else json)")
    parser.add_argument("--output", help="write the result to this file instead of standard output")
    parser.add_argument("--only-failing", action="store_true",
                        help="list only NON_COMPLIANT verdicts no exception in force covers")
    parser.add_argument("--exceptions", metavar="FILE",
                        help="the exceptions register (YAML or JSON), applied as the deployed rules apply it: an "
                        "excepted verdict stays NON_COMPLIANT, names its exception and does not fail the run")


def _row_dict(row: CheckRow) -> dict[str, Any]:
    return {"path": row.path, "line": row.line, "logical_id": row.logical_id, **row.result.as_dict(),
            "established": row.established, "not_established_because": list(row.unknown)}


def _ordered(report: CheckReport, only_failing: bool) -> list[CheckRow]:
    rows = [r for r in report.rows if not only_failing or r.result.failing]
    return sorted(rows, key=lambda r: (ORDER[r.result.compliance], r.path, r.line or 0, r.logical_id, r.result.rule))


def to_json(report: CheckReport, only_failing: bool = False) -> str:
    rows = _ordered(report, only_failing)
    counts = {c.value: sum(1 for r in report.rows if r.result.compliance is c) for c in Compliance}
    document = {"generated_at": report.generated_at, "files": report.files, "skipped": report.skipped,
                "summary": {"evaluations": len(report.rows), **counts,
                            "not_established": sum(1 for r in report.rows if not r.established)},
                "evaluations": [_row_dict(r) for r in rows]}
    return json.dumps(document, indent=2) + "\n"


def to_table(report: CheckReport, only_failing: bool = False, width: int | None = None) -> str:
    rows = _ordered(report, only_failing)
    cells = [("!" if r.result.compliance is Compliance.NON_COMPLIANT else "", f"{r.path}:{r.line or '-'}",
              r.logical_id, r.result.rule, r.result.compliance.value + ("" if r.established else "?"),
              r.result.annotation) for r in rows]
    headers = ("", "FILE", "RESOURCE", "RULE", "VERDICT", "ANNOTATION")
    widths = [max([len(headers[i])] + [len(c[i]) for c in cells]) for i in range(5)]
    indent = sum(widths) + 10
    room = max(30, (width or 10_000) - indent)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + "  ANNOTATION"]
    for cell in cells:
        wrapped = textwrap.wrap(cell[5], room) or [""]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=False)) + "  " + wrapped[0])
        lines += [" " * indent + part for part in wrapped[1:]]
    unknown = sum(1 for r in report.rows if not r.established)
    failing = sum(1 for r in report.rows if r.result.compliance is Compliance.NON_COMPLIANT)
    lines.append(f"{len(report.rows)} verdicts, {failing} NON_COMPLIANT"
                 + (f" ({unknown} not established before deployment, marked ?)" if unknown else ""))
    return "\n".join(lines) + "\n"


def exit_code(report: CheckReport) -> int:
    if not report.complete:
        missing = sum(1 for r in report.rows if not r.established)
        print(f"lambda-vpc-rules: {missing} verdict(s) could not be established before deployment (listed in the "
              "report; pass --region to read what the templates name but do not define)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_NON_COMPLIANT if report.has_non_compliant else EXIT_OK


def run(args: argparse.Namespace, clients_factory: Callable[[], Any]) -> int:
    """`clients_factory`: the caller's clients (`aws.clients.Clients`), made only when --region or --profile
    is given: then what the templates name but do not define is read from the account."""
    rules = [get_rule(name) for name in args.rule] if args.rule else list(RULES)
    context = Context(account_id=args.account, stack_name=args.stack_name, parameters=dict(args.parameter),
                      region=args.region)
    reader = iam_client = None
    if args.region or args.profile:
        from ..aws.facts import FactReader

        clients = clients_factory()
        reader = FactReader(clients)
        context.region = clients.region
        if not context.account_id:
            context.account_id = clients("sts").get_caller_identity()["Account"]
        context.exports = dict(clients.pages("cloudformation", "list_exports", "Exports",
                                             lambda export: (export["Name"], export["Value"])))
        iam_client = clients("iam")
    exceptions = None
    if args.exceptions:
        import datetime as dt

        from ..core.exceptions import InForce
        from .exceptions_cli import load_register

        exceptions = InForce(load_register(args.exceptions), dt.datetime.now(dt.UTC))
    report = check_paths(args.paths, rules, dict(args.param), context, reader, iam_client, exceptions)
    if report.skipped:
        shown = ", ".join(report.skipped[:5]) + (f" and {len(report.skipped) - 5} more" if len(report.skipped) > 5
                                                 else "")
        print(f"lambda-vpc-rules: checked {len(report.files)} template(s) or plan(s); skipped "
              f"{len(report.skipped)} file(s) that are neither: {shown}", file=sys.stderr)
    on_terminal = args.output is None and sys.stdout.isatty()
    fmt = args.format or ("table" if on_terminal else "json")
    if fmt == "sarif":
        text = sarif.render((_row_dict(r) for r in _ordered(report, args.only_failing)), rules)
    elif fmt == "table":
        text = to_table(report, args.only_failing, shutil.get_terminal_size().columns if on_terminal else None)
    else:
        text = to_json(report, args.only_failing)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return exit_code(report)
