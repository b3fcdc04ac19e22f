"""Rule metadata (title, severity, risk, remediation, references, related controls): one JSON file per rule
in `rules/metadata/`, validated against `rules/metadata/schema.json` by the tests. It feeds the Security Hub
findings, the evidence report and the README's rule table."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from . import __version__
from .rules import Rule, get_rule

_FOLDER = resources.files("lambda_vpc_rules.rules") / "metadata"


@dataclass(frozen=True)
class RuleMetadata:
    rule: str
    title: str
    description: str
    severity: str
    risk: str
    remediation: Mapping[str, str]
    references: tuple[str, ...]
    related_controls: tuple[Mapping[str, str], ...]

    @property
    def requirements(self) -> list[str]:
        return [f"{control['framework']} {control['id']}" for control in self.related_controls]


def raw_metadata(rule: Rule) -> dict[str, Any]:
    return json.loads((_FOLDER / f"{rule.rdk_name}.json").read_text(encoding="utf-8"))


def schema() -> dict[str, Any]:
    return json.loads((_FOLDER / "schema.json").read_text(encoding="utf-8"))


@cache
def metadata_for(rule_name: str) -> RuleMetadata:
    raw = raw_metadata(get_rule(rule_name))
    return RuleMetadata(
        rule=raw["rule"],
        title=raw["title"],
        description=raw["description"],
        severity=raw["severity"],
        risk=raw["risk"],
        remediation=raw["remediation"],
        references=tuple(raw["references"]),
        related_controls=tuple(raw["related_controls"]),
    )


@cache
def rule_version(rule_name: str) -> str:
    """The tool version plus a digest of the rule's logic and metadata: what an auditor can pin."""
    rule = get_rule(rule_name)
    digest = hashlib.sha256(inspect.getsource(inspect.getmodule(rule.check)).encode())
    digest.update(json.dumps(raw_metadata(rule), sort_keys=True).encode())
    return f"{__version__}+{digest.hexdigest()[:12]}"
