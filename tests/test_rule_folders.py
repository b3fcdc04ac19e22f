"""The RDK rule folders: one per registered rule, thin handlers, parameters.json generated from the
registry (so its defaults cannot drift from the code)."""

import ast
import json

import pytest

from conftest import ROOT
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling.packaging import render_parameters_json


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_parameters_json_is_generated_from_the_registry(rule):
    path = ROOT / "rules" / rule.rdk_name / "parameters.json"
    assert path.read_text() == render_parameters_json(rule), "run `make rdk-parameters`"
    parameters = json.loads(path.read_text())["Parameters"]
    assert parameters["SourceEvents"].split(",") == list(rule.scope)
    assert rule.scope[0] == "AWS::Lambda::Function"
    assert parameters["SourcePeriodic"] == "TwentyFour_Hours"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rdk_name)
def test_handler_is_thin(rule):
    source = (ROOT / "rules" / rule.rdk_name / f"{rule.rdk_name}.py").read_text()
    tree = ast.parse(source)
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert functions == ["lambda_handler"]
    assert len([line for line in source.splitlines() if line.strip()]) < 15
