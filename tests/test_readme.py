"""The README stays true: every command its shell blocks show is run as shown (the demo, `rules`,
`verify-evidence`; `scan` and `evidence` against an in-process moto account), or, where it needs a real
account or organization (deploy, status, a many-account scan), parsed by the CLI's own parser; a `make`
target exists and its recipe parses too. The sample table is what the demo prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from lambda_vpc_rules.tooling.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
PROGRAMS = (".venv/bin/lambda-vpc-rules", "lambda-vpc-rules")
RUN_WITHOUT_AWS = {"demo", "rules", "verify-evidence"}
RUN_IN_MOTO = {"scan", "evidence"}
NEEDS_AN_ORGANIZATION = ("--regions", "--accounts", "--organization")


def shell_commands(text: str) -> list[list[str]]:
    """The commands of the ```sh blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                commands.append(argv)
    return commands


def make_recipe(target: str, variables: dict[str, str]) -> list[str]:
    """The lambda-vpc-rules arguments of a Makefile target's recipe, its variables filled in."""
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n\t(.+)$", MAKEFILE, flags=re.M)
    assert match, f"make {target}: no such target"
    recipe = match.group(1)
    for name, value in variables.items():
        recipe = recipe.replace(f"$({name})", value)
    recipe = re.sub(r"\$\([A-Z]+\)", "", recipe.replace("$(BIN)/", ""))
    argv = shlex.split(recipe)
    return argv[1:] if argv[0] == "lambda-vpc-rules" else []


def cli_arguments(argv: list[str]) -> list[str] | None:
    """The arguments after the program, for a lambda-vpc-rules command; None for another program."""
    return argv[1:] if argv[0] in PROGRAMS else None


COMMANDS = shell_commands(README)


def test_the_readme_shows_only_commands_this_test_can_check():
    assert COMMANDS, "no shell block found"
    for argv in COMMANDS:
        assert argv[0] in (*PROGRAMS, "make"), f"{shlex.join(argv)}: a command this test does not know"
    shown = {argv[1] for argv in COMMANDS if argv[0] in PROGRAMS}
    assert {"rules", "scan", "evidence", "verify-evidence", "deploy", "status"} <= shown  # demo: as make demo


def test_every_command_and_make_target_parses():
    parser = build_parser()
    for argv in COMMANDS:
        if argv[0] == "make":
            variables = dict(part.split("=", 1) for part in argv[2:] if "=" in part)
            arguments = make_recipe(argv[1], variables)
        else:
            arguments = cli_arguments(argv)
        if arguments:
            parser.parse_args(arguments)  # argparse exits (SystemExit) on anything it refuses


def test_the_quick_start_runs_as_shown_and_the_sample_table_is_the_demos(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ran = []
    for argv in COMMANDS:
        arguments = make_recipe(argv[1], {}) if argv[0] == "make" else cli_arguments(argv)
        if not arguments or arguments[0] not in RUN_WITHOUT_AWS:
            continue
        assert main(arguments) == 0, shlex.join(argv)
        ran.append(arguments[0])
        if arguments[0] == "demo":
            demo_table = capsys.readouterr().out
    assert ran[:1] == ["demo"] and {"rules", "verify-evidence"} <= set(ran)
    # the sample: its header, rows (IDs differ on each run) and summary lines are the demo's
    sample = re.search(r"```text\n(.*?)```", README, flags=re.S).group(1).splitlines()
    printed = demo_table.splitlines()
    header = next(line for line in sample if "SEVERITY" in line and "ANNOTATION" in line)
    assert header in printed
    printed_rows = {tuple(line.split()[:5]) for line in printed if line.startswith("!")}
    for row in (line for line in sample if line.startswith("!")):
        assert tuple(row.split()[:5]) in printed_rows, row
    start = sample.index(next(line for line in sample if line.endswith("NOT_APPLICABLE") and "evaluations" in line))
    summary = sample[start:]
    assert "\n".join(summary) in "\n".join(printed)


def test_scan_and_evidence_commands_run_against_moto(estate, tmp_path, monkeypatch, capsys):
    """What the README says to run in an account, run in a moto one: a working VPC function and one in a
    dedicated-tenancy VPC."""
    monkeypatch.chdir(tmp_path)
    estate.function("good", [estate.subnet(estate.vpc("10.0.0.0/16"), "10.0.1.0/24")])
    estate.function("bad", [estate.subnet(estate.vpc("10.1.0.0/16", tenancy="dedicated"), "10.1.1.0/24")])
    ran = 0
    for argv in COMMANDS:
        arguments = cli_arguments(argv)
        if not arguments or arguments[0] not in RUN_IN_MOTO or set(arguments) & set(NEEDS_AN_ORGANIZATION):
            continue
        code = main(arguments)
        err = capsys.readouterr().err
        assert code in (0, 1), f"{shlex.join(argv)}: exit {code}: {err}"
        ran += 1
    assert ran >= 4
    assert (tmp_path / "findings.csv").is_file()
    assert (tmp_path / "evidence-2026-12" / "manifest.json").is_file()


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_the_readme_links_every_docs_page_and_each_link_resolves(page):
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not link.startswith("http")]
    assert all((ROOT / link).exists() for link in local), local
    assert f"docs/{page}" in local
