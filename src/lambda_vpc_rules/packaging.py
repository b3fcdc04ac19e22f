"""Files generated from the rule registry, so they cannot drift from the code: each rule folder's RDK
`parameters.json`. Run `python -m lambda_vpc_rules.packaging parameters` (or `make rdk-parameters`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .model import LAMBDA_RESOURCE_TYPE
from .rules import RULES, Rule

RDK_RUNTIME = "python3.12-lib"
DEFAULT_PERIOD = "TwentyFour_Hours"


def parameters_json(rule: Rule) -> dict:
    """The RDK rule definition (parameters.json) for one rule."""
    optional = {parameter.name: parameter.default for parameter in rule.parameters}
    return {
        "Version": "1.0",
        "Parameters": {
            "RuleName": rule.rdk_name,
            "Description": rule.description,
            "SourceRuntime": RDK_RUNTIME,
            "CodeKey": f"{rule.rdk_name}.zip",
            "InputParameters": json.dumps({}),
            "OptionalParameters": json.dumps(optional),
            "SourceEvents": LAMBDA_RESOURCE_TYPE,
            "SourcePeriodic": DEFAULT_PERIOD,
        },
        "Tags": "[]",
    }


def render_parameters_json(rule: Rule) -> str:
    return json.dumps(parameters_json(rule), indent=2) + "\n"


def write_parameters(root: Path) -> list[Path]:
    written = []
    for rule in RULES:
        path = root / "rules" / rule.rdk_name / "parameters.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_parameters_json(rule), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if argv[:1] != ["parameters"]:
        print("usage: python -m lambda_vpc_rules.packaging parameters", file=sys.stderr)
        return 2
    for path in write_parameters(Path.cwd()):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
