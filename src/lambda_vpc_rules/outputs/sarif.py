"""SARIF 2.1.0 for code-scanning tools (GitHub code scanning, Azure DevOps...): `check`'s verdicts on a
template or plan, each at the file and line of the function resource.

One run, tool `lambda-vpc-rules`, one reportingDescriptor per rule (its metadata: title, description,
help with the remediation, the rule's references, a `security-severity` GitHub reads). Results:
- NON_COMPLIANT, established: level `error`;
- not established before deployment (`core.unknown`): level `warning`, property `established` false;
- COMPLIANT and NOT_APPLICABLE: `kind` `pass` / `notApplicable`, level `none` (code scanning shows no alert
  for them; they record that the function was judged).
Locations: `artifactLocation.uri` is the path as given (relative paths stay relative, `uriBaseId`
`%SRCROOT%`), `region.startLine` the line of the resource's logical ID (1-based; omitted when unknown, e.g.
a Terraform plan, whose JSON has no source lines). `partialFingerprints` make a result stable across runs
(rule, file, resource). Validated against the OASIS schema in the tests (tests/sarif/).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import __version__
from ..core.rules import RULES, Rule

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/lambda-vpc-rules/lambda-vpc-rules"
SECURITY_SEVERITY = {"CRITICAL": "9.0", "HIGH": "7.5", "MEDIUM": "5.0", "LOW": "3.0", "INFORMATIONAL": "0.0"}


def _descriptor(rule: Rule) -> dict[str, Any]:
    meta = rule.metadata
    remediation = meta.remediation.get("text", "")
    help_text = f"{meta.description}\n\nRisk: {meta.risk}\n\nRemediation: {remediation}"
    return {
        "id": rule.config_rule_name,
        "name": rule.logical_id,
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.description},
        "help": {"text": help_text},
        "helpUri": meta.references[0] if meta.references else INFORMATION_URI,
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["security", "aws", "lambda", "vpc"],
                       "security-severity": SECURITY_SEVERITY.get(meta.severity.upper(), "5.0"),
                       "severity": meta.severity},
    }


def _uri(path: str) -> tuple[str, str | None]:
    posix = pathlib.PurePath(path).as_posix()
    if pathlib.PurePath(path).is_absolute():
        return pathlib.Path(path).as_uri(), None
    return posix.removeprefix("./"), "%SRCROOT%"


def to_sarif(rows: Iterable[Mapping[str, Any]], rules: Sequence[Rule] = RULES) -> dict[str, Any]:
    """`rows`: dicts with rule, resource_id, compliance, annotation, path, line, logical_id, established."""
    results = []
    rule_index = {rule.config_rule_name: index for index, rule in enumerate(rules)}
    for row in rows:
        compliance, established = row["compliance"], row.get("established", True)
        if compliance == "NON_COMPLIANT":
            level, kind = ("error", "fail") if established else ("warning", "review")
        else:
            level, kind = "none", "pass" if compliance == "COMPLIANT" else "notApplicable"
        uri, base = _uri(row["path"])
        artifact = {"uri": uri, **({"uriBaseId": base} if base else {})}
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if row.get("line"):
            physical["region"] = {"startLine": int(row["line"])}
        fingerprint = hashlib.sha256(f"{row['rule']}|{uri}|{row['logical_id']}".encode()).hexdigest()
        result = {
            "ruleId": row["rule"],
            "level": level,
            "kind": kind,
            "message": {"text": f"{row['logical_id']}: {row['annotation']}"},
            "locations": [{"physicalLocation": physical,
                           "logicalLocations": [{"name": row["logical_id"], "kind": "resource"}]}],
            "partialFingerprints": {"lambdaVpcRules/v1": fingerprint},
            "properties": {"compliance": compliance, "established": bool(established),
                           "resourceId": row["resource_id"],
                           **({"notEstablishedBecause": row["not_established_because"]}
                              if row.get("not_established_because") else {})},
        }
        if row["rule"] in rule_index:
            result["ruleIndex"] = rule_index[row["rule"]]
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "lambda-vpc-rules", "version": __version__, "informationUri": INFORMATION_URI,
                                "rules": [_descriptor(rule) for rule in rules]}},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The directory check ran in."}}},
            "results": results,
        }],
    }


def render(rows: Iterable[Mapping[str, Any]], rules: Sequence[Rule] = RULES) -> str:
    return json.dumps(to_sarif(rows, rules), indent=2) + "\n"
