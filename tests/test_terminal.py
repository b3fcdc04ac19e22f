"""What a person sees (outputs/terminal.py, rich): the table's severity column and summaries, colour only where
it is read, progress and the files written on stderr whether or not it is a terminal, --quiet."""

from __future__ import annotations

import io

import pytest

from lambda_vpc_rules.core.model import Compliance, EvaluationResult, ScanReport
from lambda_vpc_rules.outputs.terminal import Reporter, colour_wanted, render_table, severity_of
from lambda_vpc_rules.tooling.cli import main

TENANCY, NAT, IPV6 = "lambda-vpc-default-tenancy", "lambda-vpc-private-subnet-nat", "lambda-vpc-ipv6-dual-stack"
ANSI = "\x1b["


def _report() -> ScanReport:
    results = [EvaluationResult(TENANCY, "fn-a", Compliance.NON_COMPLIANT, "dedicated tenancy"),
               EvaluationResult(NAT, "fn-a", Compliance.NON_COMPLIANT, "public subnet"),
               EvaluationResult(NAT, "fn-b", Compliance.NON_COMPLIANT, "public subnet"),
               EvaluationResult(IPV6, "fn-b", Compliance.COMPLIANT, "fine"),
               EvaluationResult(IPV6, "fn-c", Compliance.NOT_APPLICABLE, "Function is not attached to a VPC.")]
    return ScanReport("123456789012", "us-east-1", "2026-12-05T00:00:00+00:00", results)


def test_the_table_has_the_rules_severity_and_counts_per_rule_and_per_severity():
    text = render_table(_report(), width=120)
    header = next(line for line in text.splitlines() if "SEVERITY" in line)
    assert header.split() == ["RULE", "SEVERITY", "FUNCTION", "VERDICT", "ANNOTATION"]
    row = next(line for line in text.splitlines() if TENANCY in line and "fn-a" in line)
    assert row.split()[:5] == ["!", TENANCY, "HIGH", "fn-a", "NON_COMPLIANT"]
    assert severity_of(TENANCY) == "HIGH" and severity_of(NAT) == "MEDIUM" and severity_of(IPV6) == "LOW"
    assert severity_of(f"{NAT}-conformance-pack-a1b2c3d4") == "MEDIUM" and severity_of("someone-elses") == "-"
    assert "5 evaluations: 1 COMPLIANT, 3 NON_COMPLIANT, 1 NOT_APPLICABLE" in text
    assert "NON_COMPLIANT by severity: 1 HIGH, 2 MEDIUM" in text
    per_rule = text[text.index("By rule"):].splitlines()
    assert per_rule[1].split() == ["RULE", "SEVERITY", "COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]
    assert [line.split() for line in per_rule[2:5]] == [[TENANCY, "HIGH", "0", "1", "0"],
                                                        [NAT, "MEDIUM", "0", "2", "0"],
                                                        [IPV6, "LOW", "1", "0", "1"]]
    assert ANSI not in text


def test_a_narrow_screen_gets_every_verdict_and_count_within_its_width():
    text = render_table(_report(), width=40)
    assert all(len(line) <= 40 for line in text.splitlines())
    assert "NON_COMPLIANT by severity" in text
    flat = " ".join(text.split())
    assert f"{NAT} MEDIUM: 0 COMPLIANT, 2 NON_COMPLIANT, 0 NOT_APPLICABLE" in flat


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert colour_wanted(Terminal()) and not colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "")  # empty: no effect (no-color.org)
    assert colour_wanted(Terminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(Terminal())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not colour_wanted(Terminal())
    coloured = render_table(_report(), width=120, colour=True)
    assert ANSI in coloured and "\x1b[1;31mNON_COMPLIANT" in coloured
    # the CLI asks for colour only for a terminal that wants it
    from lambda_vpc_rules.tooling import cli

    for no_color, expect in (("1", False), (None, True)):
        monkeypatch.setenv("TERM", "xterm")
        if no_color:
            monkeypatch.setenv("NO_COLOR", no_color)
        else:
            monkeypatch.delenv("NO_COLOR", raising=False)
        out = Terminal()
        monkeypatch.setattr(cli.sys, "stdout", out)
        cli._emit(_report(), None, None)
        assert (ANSI in out.getvalue()) is expect


def test_progress_and_files_go_to_stderr_even_when_piped_and_quiet_silences_them():
    stream = io.StringIO()
    reporter = Reporter(stream=stream)
    reporter("Listing Lambda functions")
    reporter.wrote("out/x.json", "the verdicts")
    reporter.close(["a note"])
    reporter.close(["said once"])
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("s Listing Lambda functions") and lines[0].split()[0].endswith("s")
    assert lines[1].startswith("Wrote (") and lines[2].split() == ["out/x.json", "the", "verdicts"]
    assert lines[3:] == ["a note"] and ANSI not in stream.getvalue()
    quiet = io.StringIO()
    silent = Reporter(quiet=True, stream=quiet)
    silent("step")
    silent.wrote("f", "g")
    silent.close(["note"])
    assert quiet.getvalue() == ""


@pytest.fixture
def small_account(estate):
    estate.function("fn", [estate.subnet(estate.vpc("10.0.0.0/16"), "10.0.1.0/24")])


def test_scan_says_its_stages_and_the_file_it_wrote_and_quiet_says_nothing(small_account, tmp_path, capsys):
    out = tmp_path / "verdicts.csv"
    assert main(["scan", "--region", "us-east-1", "--rule", TENANCY, "--format", "csv", "--output", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any(line.endswith("Listing Lambda functions") for line in err)
    assert any(line.endswith(f"Evaluating {TENANCY} (1/1)") for line in err)
    assert err[-1].split() == [str(out), "the", "verdicts", "(csv)"]
    assert main(["scan", "--region", "us-east-1", "--rule", TENANCY, "--output", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
