"""The tree shows the architecture: layers as packages whose imports point down only, no import cycles,
and one name per rule from which every other spelling derives."""

from __future__ import annotations

import ast
import json
import pathlib

from conftest import ROOT
from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling.packaging import conformance_pack, parameters_json

PACKAGE = ROOT / "src" / "lambda_vpc_rules"
# Lower layers never import higher ones; rdk, outputs and iac (the template and plan adapters of `check`)
# are side by side and do not import each other; hook (the CloudFormation hook) stands on iac.
LAYERS = {"errors": -1, "core": 0, "aws": 1, "rdk": 2, "outputs": 2, "iac": 2, "hook": 3, "tooling": 4}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports (relative imports resolved; imports inside functions too)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:  # `from . import parse` imports a module
                    candidate = f"{target}.{alias.name}"
                    imported.add(candidate if _exists(candidate) else target)
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        graph[name] = {module for module in imported if module.startswith("lambda_vpc_rules.") and module != name}
    return graph


def _exists(module: str) -> bool:
    relative = pathlib.Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_imports_point_down_only():
    wrong = []
    for module, imported in _imports().items():
        for target in imported:
            here, there = _layer(module), _layer(target)
            if here in LAYERS and there in LAYERS and (LAYERS[there] > LAYERS[here]
                                                       or (LAYERS[there] == LAYERS[here] and here != there)):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_import_cycles():
    # a package's __init__ re-exporting its own modules is not a cycle between modules
    graph = {module: {t for t in imported if not t.startswith(module + ".")} for module, imported in _imports().items()}
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_core_makes_no_aws_call():
    for path in (PACKAGE / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in modules if m.split(".")[0] in ("boto3", "rdklib")}, path


def test_every_spelling_of_a_rule_derives_from_its_name():
    pack = conformance_pack()
    for rule in RULES:
        name = rule.name
        assert name.startswith("lambda-vpc-") and name == name.lower()
        assert rule.config_rule_name == rule.function_name == name
        assert rule.rdk_name == name.upper().replace("-", "_")
        assert rule.logical_id == "".join(word.capitalize() for word in name.split("-"))
        assert (ROOT / "rules" / rule.rdk_name / f"{rule.rdk_name}.py").is_file()
        module = PACKAGE / "core" / "rules" / f"{rule.module}.py"
        assert module.is_file() and rule.check.__module__ == f"lambda_vpc_rules.core.rules.{rule.module}"
        assert json.loads(module.with_suffix(".json").read_text())["rule"] == name
        assert parameters_json(rule)["Parameters"]["RuleName"] == rule.rdk_name
        assert parameters_json(rule)["Parameters"]["CustomLambdaName"] == name
        assert pack["Resources"][rule.logical_id]["Properties"]["ConfigRuleName"] == name
        assert (ROOT / "tests" / "rules" / f"test_{rule.module}.py").is_file()
    assert len({rule.name for rule in RULES}) == len(RULES)


def test_deployment_code_is_its_own_package():
    """deploy, status and destroy live in tooling/deploy/; outside it only the CLI (registering the commands,
    DeployError) and the generator (the account templates of deploy/stacks.py) reach in, and the deploy package
    imports nothing of the CLI or the demo."""
    deploy = "lambda_vpc_rules.tooling.deploy"
    modules = {path.stem for path in (PACKAGE / "tooling" / "deploy").glob("*.py")}
    assert {"deploy", "cli", "steps", "org", "preflight", "stacks", "status", "destroy"} <= modules
    flat = {path.stem for path in (PACKAGE / "tooling").glob("*.py")}
    assert not flat & {"deploy_cli", "deploy_steps", "org", "preflight", "stacks", "status", "destroy"}
    allowed = {"lambda_vpc_rules.tooling.cli": {f"{deploy}.cli", f"{deploy}.steps"},
               "lambda_vpc_rules.tooling.packaging": {f"{deploy}.stacks", f"{deploy}.trust_templates"}}
    wrong = []
    for module, imported in _imports().items():
        inside = module == deploy or module.startswith(deploy + ".")
        for target in imported:
            if not inside and target.startswith(deploy + ".") and target not in allowed.get(module, ()):
                wrong.append(f"{module} imports {target}")
            if inside and target in ("lambda_vpc_rules.tooling.cli", "lambda_vpc_rules.tooling.demo"):
                wrong.append(f"{module} imports {target}")
    assert wrong == []
