"""The CLI in the user's terms: `rules` lists every parameter, a refused parameter names the valid ones before
any set-up, an unreachable --endpoint-url is said at once, verify-evidence checks its arguments, every --help
states the parser's real defaults."""

from __future__ import annotations

import argparse
import json
import re
import socket

import pytest
from botocore.exceptions import EndpointConnectionError

from lambda_vpc_rules.core.rules import RULES
from lambda_vpc_rules.tooling import demo
from lambda_vpc_rules.tooling.cli import build_parser, main

# ------------------------------------------------------------------------------------------------- rules


def test_rules_lists_every_rule_and_parameter_from_the_registry(capsys):
    assert main(["rules"]) == 0
    text = capsys.readouterr().out
    for rule in RULES:
        assert f"{rule.config_rule_name}  [{rule.metadata.severity}]" in text
        for parameter in rule.parameters:
            assert f"--param {parameter.name}=...  ({parameter.kind}, default: {parameter.default}" in text
    assert "parameters: none" in text  # default tenancy takes none


def test_rules_json_gives_type_default_allowed_and_meaning(capsys):
    assert main(["rules", "--format", "json"]) == 0
    document = {entry["rule"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert list(document) == [rule.config_rule_name for rule in RULES]
    multi_az = document["lambda-vpc-multi-az"]["parameters"]
    assert multi_az == [{"name": "MinAvailabilityZones", "type": "integer", "default": "2",
                         "allowed": ["1", "2", "3", "4", "5", "6"], "description": multi_az[0]["description"]}]
    nat = {p["name"]: p for p in document["lambda-vpc-private-subnet-nat"]["parameters"]}
    assert nat["RequireInternetAccess"]["type"] == "boolean"
    assert nat["RequireInternetAccess"]["allowed"] == ["true", "false"]
    assert nat["AllowedEgressTargets"]["type"] == "comma-separated list"
    assert "transit-gateway" in nat["AllowedEgressTargets"]["allowed"]
    # every listed allowed value is accepted by the rule's own parser, and the default is one of them
    for rule in RULES:
        for parameter in rule.parameters:
            for value in parameter.allowed:
                parameter.parse(value)
            if parameter.allowed:
                assert set(parameter.default.split(",")) <= set(parameter.allowed), parameter.name


@pytest.fixture
def no_demo_set_up(monkeypatch):
    """Fails the test if the demo starts building its estate."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the demo estate was built before the parameters were checked")

    monkeypatch.setattr(demo, "build_demo_estate", refuse)


def test_an_unknown_parameter_names_the_valid_ones_before_any_set_up(no_demo_set_up, capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--param", "Foo=bar"]) == 2
    err = capsys.readouterr().err
    assert "no selected rule has parameter Foo; valid: " in err
    for rule in RULES:
        for parameter in rule.parameters:
            assert parameter.name in err
    assert main(["demo", "--out", str(tmp_path), "--rule", "lambda-vpc-default-tenancy", "--param", "Foo=1"]) == 2
    assert "the selected rules take no parameters" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_bad_parameter_value_is_refused_before_any_set_up(no_demo_set_up, capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--param", "MinAvailabilityZones=9"]) == 2
    assert "MinAvailabilityZones: invalid value '9': expected a whole number from 1 to 6" in capsys.readouterr().err


def test_scan_checks_parameters_before_any_aws_call(capsys, monkeypatch):
    import boto3

    monkeypatch.setattr(boto3, "Session", lambda *a, **k: pytest.fail("a session was made"))
    assert main(["scan", "--region", "us-east-1", "--param", "RequireInternetAccess=maybe"]) == 2
    assert "RequireInternetAccess: invalid value 'maybe'" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- endpoint


def _refusing_port() -> int:
    """A loopback port nothing listens on (bound, never listening, so it stays ours and refuses)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    _refusing_port.holder = holder  # kept open for the test's life
    return holder.getsockname()[1]


def test_a_refused_endpoint_is_said_at_once_and_not_called_an_aws_error(capsys, monkeypatch):
    port = _refusing_port()
    from lambda_vpc_rules.aws import account

    monkeypatch.setattr(account, "scan", lambda *a, **k: pytest.fail("scanned an unreachable endpoint"))
    code = main(["scan", "--region", "us-east-1", "--endpoint-url", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"lambda-vpc-rules: cannot connect to --endpoint-url http://127.0.0.1:{port}: connection "
                   f"refused (nothing listens on 127.0.0.1:{port}; is the emulator running?)\n")
    assert "AWS error" not in err


def test_a_connection_lost_later_is_a_network_problem_not_an_aws_error():
    from lambda_vpc_rules.tooling.cli import _describe

    text = _describe(EndpointConnectionError(endpoint_url="https://lambda.us-east-1.amazonaws.com/"))
    assert text.startswith("cannot connect to https://lambda.us-east-1.amazonaws.com/ (network, proxy or endpoint")
    assert "AWS error" not in text


# ------------------------------------------------------------------------------------- verify-evidence


def test_verify_evidence_refuses_a_malformed_digest_and_a_file_with_exit_2(tmp_path, capsys):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    assert main(["verify-evidence", str(bundle), "--manifest-sha256", "abc"]) == 2
    assert "not a SHA-256 (64 hex digits): 'abc'" in capsys.readouterr().err
    assert main(["verify-evidence", str(bundle), "--manifest-sha256", "g" * 64]) == 2
    capsys.readouterr()
    a_file = tmp_path / "manifest.json"
    a_file.write_text("{}")
    assert main(["verify-evidence", str(a_file)]) == 2
    assert "a file, not a bundle directory" in capsys.readouterr().err
    assert main(["verify-evidence", str(tmp_path / "absent")]) == 2
    assert "no such bundle directory" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ help

STATED_DEFAULT = re.compile(r"\(default:? ([^)]*)\)|(\S+) \(default\)")
# Defaults that depend on where the command runs: the parser holds None (or an empty list) and decides later.
CONDITIONAL = {"the profile's or AWS_REGION", "table on a terminal, else json", "all", "--region",
               "a temporary directory", "none", "--stack-name", "the key the signature names"}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_default_a_help_text_states_is_the_parsers(command, capsys):
    subparser = _subcommands()[command]
    with pytest.raises(SystemExit) as exit_:
        subparser.parse_args(["--help"])
    assert exit_.value.code == 0
    shown = "".join(capsys.readouterr().out.split())  # argparse wraps lines (also after hyphens)
    for action in subparser._actions:
        if action.help in (None, argparse.SUPPRESS) or isinstance(action, argparse._HelpAction):
            continue
        text = " ".join(action.help.split())
        assert "".join(text.split()) in shown, action.dest  # argparse printed it (no %-format left over)
        stated = [(m.group(1) or m.group(2)) for m in STATED_DEFAULT.finditer(text)]
        has_default = action.default not in (None, False, [], argparse.SUPPRESS)
        if has_default:
            assert stated, f"{command} {action.option_strings}: default {action.default!r} not stated"
        for value in stated:
            value = value.split("; ")[-1].strip().rstrip(".")
            if value in CONDITIONAL and not has_default:
                continue
            assert value == str(action.default), f"{command} {action.option_strings}: says {value!r}, " \
                                                 f"parser has {action.default!r}"


def test_the_demo_prints_a_table_even_when_piped(tmp_path, capsys):
    """`demo --help` says table by default: stdout here is not a terminal."""
    from lambda_vpc_rules.core.model import ScanReport
    from lambda_vpc_rules.tooling.cli import _emit

    args = build_parser().parse_args(["demo"])
    _emit(ScanReport("123456789012", "us-east-1", "2026-12-05T00:00:00+00:00", []), args.format, None)
    assert "0 evaluations" in capsys.readouterr().out


def test_evidence_prints_the_manifest_digest_and_the_exact_command_that_checks_it(estate, tmp_path, capsys):
    import shlex

    estate.function("fn", [estate.subnet(estate.vpc("10.0.0.0/16"), "10.0.1.0/24")])
    bundle = tmp_path / "my bundle"
    assert main(["evidence", "--out", str(bundle), "--region", "us-east-1",
                 "--rule", "lambda-vpc-default-tenancy"]) == 0
    out = capsys.readouterr().out.splitlines()
    digest = out[0].split("sha256 ")[1].split()[0]
    assert re.fullmatch("[0-9a-f]{64}", digest)
    assert out[1].startswith("verify later with: lambda-vpc-rules verify-evidence ")
    command = shlex.split(out[1].removeprefix("verify later with: "))
    assert command == ["lambda-vpc-rules", "verify-evidence", str(bundle), "--manifest-sha256", digest]
    assert main(command[1:]) == 0
