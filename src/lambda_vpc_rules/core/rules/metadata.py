"""Rule metadata (title, description, severity, risk, remediation, references, related controls): one JSON
file beside each rule's module (`default_tenancy.json`), validated against `schema.json` by the tests. It
feeds the Config rule's description, the Security Hub findings, the evidence report and the README table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_FOLDER = resources.files("lambda_vpc_rules.core.rules")


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


def raw_metadata(module: str) -> dict[str, Any]:
    return json.loads((_FOLDER / f"{module}.json").read_text(encoding="utf-8"))


def schema() -> dict[str, Any]:
    return json.loads((_FOLDER / "schema.json").read_text(encoding="utf-8"))


@cache
def load(module: str) -> RuleMetadata:
    """The metadata of the rule in `<module>.py`, from `<module>.json` beside it."""
    raw = raw_metadata(module)
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
