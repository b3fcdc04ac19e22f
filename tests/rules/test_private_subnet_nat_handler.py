"""lambda-vpc-private-subnet-nat through its RDK handler (change and scheduled events) and `scan`, in moto
(the estate: tests/network_estate.py)."""

from __future__ import annotations

import json

import pytest

from aws_support import ConfigCalls, change_event, scheduled_event
from conftest import load_rule_module
from lambda_vpc_rules.tooling.cli import main
from network_estate import FUNCTIONS, item_of, network_estate


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

RULE, RULE_DIR = "lambda-vpc-private-subnet-nat", "LAMBDA_VPC_PRIVATE_SUBNET_NAT"
CASES = [
    ("behind-nat", {}, "COMPLIANT", ["private"]),
    ("in-public", {}, "NON_COMPLIANT", ["public", "igw-"]),
    ("isolated", {}, "NON_COMPLIANT", ["no route for 0.0.0.0/0"]),
    ("isolated", {"RequireInternetAccess": "false"}, "COMPLIANT", ["not required"]),
    ("isolated-by-choice", {}, "COMPLIANT", ["not required"]),
    ("public-by-choice", {}, "NON_COMPLIANT", ["public"]),
    ("dead-nat", {}, "NON_COMPLIANT", ["deleted"]),
    ("via-tgw", {}, "NON_COMPLIANT", ["transit-gateway", "AllowedEgressTargets"]),
    ("via-tgw", {"AllowedEgressTargets": "nat-gateway,transit-gateway"}, "COMPLIANT", []),
    ("half-public", {}, "NON_COMPLIANT", ["public"]),
    ("inspected", {}, "COMPLIANT", ["nat-", "igw-"]),
    ("bypass", {}, "NON_COMPLIANT", ["vpce-", "without a NAT gateway"]),
    ("bypass", {"AllowedEgressTargets": "gateway-load-balancer-endpoint"}, "COMPLIANT", ["not checked beyond"]),
    ("no-vpc", {}, "NOT_APPLICABLE", []),
]


@pytest.mark.parametrize(("function", "parameters", "compliance", "words"), CASES)
def test_change_notification(config_calls, network, function, parameters, compliance, words):
    evaluation = _change(config_calls, network[1], RULE_DIR, RULE, function, parameters)
    assert evaluation["ComplianceType"] == compliance, evaluation.get("Annotation")
    for word in words:
        assert word in evaluation["Annotation"]


def test_scheduled_run_reads_tags_once_and_judges_every_function(config_calls, network):
    load_rule_module(RULE_DIR).lambda_handler(scheduled_event(RULE), None)
    verdicts = {rid: e["ComplianceType"] for rid, e in config_calls.by_resource().items()}
    expected = {name: compliance for name, parameters, compliance, _ in CASES if not parameters}
    expected["via-tgw"] = "NON_COMPLIANT"
    for name, compliance in expected.items():
        assert verdicts[name] == compliance, name
    assert verdicts["ipv6-on"] == "COMPLIANT"  # dual-a routes 0.0.0.0/0 to the NAT gateway too
    assert set(verdicts) == {*FUNCTIONS, "no-vpc"}


def test_bad_parameter_is_an_error_response_naming_it(config_calls, network):
    handler = load_rule_module(RULE_DIR).lambda_handler
    event = change_event(item_of(network[1], "behind-nat"), RULE, {"AllowedEgressTargets": "carrier-pigeon"})
    response = handler(event, None)
    assert response["customerErrorCode"] == "InvalidParameterValueException"
    assert "AllowedEgressTargets" in response["customerErrorMessage"]
    assert config_calls.evaluations == []


def test_scan_judges_every_function_as_the_handler_does(network, capsys):
    code = main(["scan", "--region", "us-east-1", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    verdicts = {(e["rule"], e["resource_id"]): e["compliance"] for e in report["evaluations"]}
    for function, parameters, compliance, _ in CASES:
        if not parameters:
            assert verdicts[(RULE, function)] == compliance, function


def test_scan_passes_parameters(network, capsys):
    main(["scan", "--region", "us-east-1", "--format", "json", "--rule", RULE,
          "--param", "AllowedEgressTargets=nat-gateway,transit-gateway"])
    report = json.loads(capsys.readouterr().out)
    verdicts = {e["resource_id"]: e["compliance"] for e in report["evaluations"]}
    assert verdicts["via-tgw"] == "COMPLIANT"
    assert {e["rule"] for e in report["evaluations"]} == {RULE}
