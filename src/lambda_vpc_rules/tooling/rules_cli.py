"""`lambda-vpc-rules rules`: the pack's rules and their parameters, from the rule registry and each rule's
metadata (nothing is written by hand here): name, severity, title, and for every parameter its type, default,
allowed values and meaning - what `--param NAME=VALUE` (scan, evidence, demo) and deploy's `--param` accept."""

from __future__ import annotations

import argparse
import json
import textwrap

from ..core.rules import RULES, Rule


def add_rules_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people, json for tools (default: text)")


def rules_document(rules: tuple[Rule, ...] = RULES) -> list[dict]:
    return [
        {
            "rule": rule.config_rule_name,
            "severity": rule.metadata.severity,
            "title": rule.metadata.title,
            "parameters": [
                {"name": p.name, "type": p.kind, "default": p.default, "allowed": list(p.allowed),
                 "description": p.description}
                for p in rule.parameters
            ],
        }
        for rule in rules
    ]


def render_text(rules: tuple[Rule, ...] = RULES, width: int = 100) -> str:
    lines: list[str] = []
    for entry in rules_document(rules):
        lines.append(f"{entry['rule']}  [{entry['severity']}]")
        lines += textwrap.wrap(entry["title"], width, initial_indent="  ", subsequent_indent="  ")
        if not entry["parameters"]:
            lines.append("  parameters: none")
        for parameter in entry["parameters"]:
            allowed = f", allowed: {', '.join(parameter['allowed'])}" if parameter["allowed"] else ""
            lines.append(f"  --param {parameter['name']}=...  ({parameter['type']}, default: {parameter['default']}"
                         f"{allowed})")
            lines += textwrap.wrap(parameter["description"], width, initial_indent="      ",
                                   subsequent_indent="      ")
        lines.append("")
    lines.append("A parameter applies to every selected rule that has it; unknown names are refused.")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    import shutil
    import sys

    if args.format == "json":
        sys.stdout.write(json.dumps(rules_document(), indent=2) + "\n")
    else:
        width = min(100, shutil.get_terminal_size().columns) if sys.stdout.isatty() else 100
        sys.stdout.write(render_text(width=width))
    return 0
