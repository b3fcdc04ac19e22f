"""lambda-vpc-ipv6-dual-stack through its RDK handler (change events) and `scan`, in moto (the estate:
tests/network_estate.py)."""

from __future__ import annotations

import json

import pytest

from aws_support import ConfigCalls, change_event
from conftest import load_rule_module
from lambda_vpc_rules.tooling.cli import main
from network_estate import item_of, network_estate


@pytest.fixture(scope="module")
def network():
    with network_estate() as built:
        yield built


@pytest.fixture
def config_calls(network):
    return ConfigCalls.on_default_session()


def _change(config_calls, made, rule_dir, rule_name, function, parameters) -> dict:
    load_rule_module(rule_dir).lambda_handler(change_event(item_of(made, function), rule_name, parameters), None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceResourceId"] == function
    return evaluation

RULE, RULE_DIR = "lambda-vpc-ipv6-dual-stack", "LAMBDA_VPC_IPV6_DUAL_STACK"
CASES = [
    ("ipv6-on", {}, "COMPLIANT", []),
    ("ipv6-on", {"RequireIpv6Egress": "true"}, "COMPLIANT", []),
    ("ipv6-on-mixed", {}, "NON_COMPLIANT", ["no IPv6"]),
    ("ipv6-off-dual", {}, "NON_COMPLIANT", ["cannot use"]),
    ("ipv6-off-dual", {"RequireDualStackWhenAvailable": "false"}, "COMPLIANT", []),
    ("ipv6-on-no-egress", {"RequireIpv6Egress": "true"}, "NON_COMPLIANT", ["egress-only"]),
    ("behind-nat", {}, "COMPLIANT", []),
    ("no-vpc", {}, "NOT_APPLICABLE", []),
]


@pytest.mark.parametrize(("function", "parameters", "compliance", "words"), CASES)
def test_change_notification(config_calls, network, function, parameters, compliance, words):
    evaluation = _change(config_calls, network[1], RULE_DIR, RULE, function, parameters)
    assert evaluation["ComplianceType"] == compliance, evaluation.get("Annotation")
    for word in words:
        assert word in evaluation["Annotation"]


def test_scan_judges_every_function_as_the_handler_does(network, capsys):
    main(["scan", "--region", "us-east-1", "--format", "json", "--rule", RULE])
    report = json.loads(capsys.readouterr().out)
    verdicts = {e["resource_id"]: e["compliance"] for e in report["evaluations"]}
    for function, parameters, compliance, _ in CASES:
        if not parameters:
            assert verdicts[function] == compliance, function
