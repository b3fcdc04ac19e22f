"""The network rules against moto: through the RDK handlers (change and scheduled events) and `scan`.

moto never marks a route `blackhole` after its NAT gateway is deleted (the route stays `active`), so the
deleted-NAT case here checks that the rule judges the gateway's own state; the blackhole state itself is
covered in the pure-core table tests."""

from __future__ import annotations

import json
import os
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from aws_support import (
    REGION,
    ConfigCalls,
    Estate,
    build_network,
    change_event,
    configuration_item,
    scheduled_event,
)
from conftest import FAKE_ENVIRONMENT, load_rule_module
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

NAT_RULE, NAT_DIR = "lambda-vpc-private-subnet-nat", "LAMBDA_VPC_PRIVATE_SUBNET_NAT"
IPV6_RULE, IPV6_DIR = "lambda-vpc-ipv6-dual-stack", "LAMBDA_VPC_IPV6_DUAL_STACK"
NO_INTERNET = {"lambda-vpc-rules:internet-access": "none"}

# function name -> (subnet names, Ipv6AllowedForDualStack, tags)
FUNCTIONS = {
    "behind-nat": (["private-a", "private-b"], None, None),
    "in-public": (["public"], None, None),
    "isolated": (["isolated"], None, None),
    "isolated-by-choice": (["isolated"], None, NO_INTERNET),
    "public-by-choice": (["public"], None, NO_INTERNET),
    "dead-nat": (["dead-nat"], None, None),
    "via-tgw": (["via-tgw"], None, None),
    "half-public": (["private-a", "public"], None, None),
    "ipv6-on": (["dual-a"], True, None),
    "ipv6-on-mixed": (["dual-a", "private-a"], True, None),
    "ipv6-off-dual": (["dual-a", "dual-b"], False, None),
    "ipv6-on-no-egress": (["dual-a", "dual-b"], True, None),
    "inspected": (["inspected"], None, None),
    "bypass": (["bypass"], None, None),
}


@pytest.fixture(scope="module")
def network():
    """Built once for the module: no test here changes the estate."""
    with mock.patch.dict(os.environ, FAKE_ENVIRONMENT), mock_aws(), moto_as_aws_answers():
        estate = Estate(boto3.Session(region_name=REGION))
        ids = build_network(estate)
        made = {}
        for name, (subnets, ipv6, tags) in FUNCTIONS.items():
            made[name] = estate.function(name, [ids[s] for s in subnets], ipv6=ipv6, tags=tags)
        made["no-vpc"] = estate.function("no-vpc")
        yield ids, made


@pytest.fixture
def config_calls(network):
    return ConfigCalls.on_default_session()


NAT_CASES = [
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

IPV6_CASES = [
    ("ipv6-on", {}, "COMPLIANT", []),
    ("ipv6-on", {"RequireIpv6Egress": "true"}, "COMPLIANT", []),
    ("ipv6-on-mixed", {}, "NON_COMPLIANT", ["no IPv6"]),
    ("ipv6-off-dual", {}, "NON_COMPLIANT", ["cannot use"]),
    ("ipv6-off-dual", {"RequireDualStackWhenAvailable": "false"}, "COMPLIANT", []),
    ("ipv6-on-no-egress", {"RequireIpv6Egress": "true"}, "NON_COMPLIANT", ["egress-only"]),
    ("behind-nat", {}, "COMPLIANT", []),
    ("no-vpc", {}, "NOT_APPLICABLE", []),
]


def _tags_for(function_name: str) -> dict:
    spec = FUNCTIONS.get(function_name)
    return (spec[2] or {}) if spec else {}


@pytest.mark.parametrize(
    ("rule_dir", "rule_name", "function", "parameters", "compliance", "words"),
    [(NAT_DIR, NAT_RULE, *case) for case in NAT_CASES] + [(IPV6_DIR, IPV6_RULE, *case) for case in IPV6_CASES],
)
def test_change_notification(config_calls, network, rule_dir, rule_name, function, parameters, compliance, words):
    _, made = network
    handler = load_rule_module(rule_dir).lambda_handler
    item = configuration_item(made[function], tags=_tags_for(function))
    handler(change_event(item, rule_name, parameters), None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceResourceId"] == function
    assert evaluation["ComplianceType"] == compliance, evaluation.get("Annotation")
    for word in words:
        assert word in evaluation["Annotation"]


def test_scheduled_nat_rule_reads_tags_once_and_judges_every_function(config_calls, network):
    handler = load_rule_module(NAT_DIR).lambda_handler
    handler(scheduled_event(NAT_RULE), None)
    verdicts = {rid: e["ComplianceType"] for rid, e in config_calls.by_resource().items()}
    expected = {name: compliance for name, parameters, compliance, _ in NAT_CASES if not parameters}
    expected["via-tgw"] = "NON_COMPLIANT"
    for name, compliance in expected.items():
        assert verdicts[name] == compliance, name
    assert verdicts["ipv6-on"] == "COMPLIANT"  # dual-a routes 0.0.0.0/0 to the NAT gateway too


def test_bad_parameter_is_an_error_response_naming_it(config_calls, network):
    _, made = network
    handler = load_rule_module(NAT_DIR).lambda_handler
    event = change_event(configuration_item(made["behind-nat"]), NAT_RULE, {"AllowedEgressTargets": "carrier-pigeon"})
    response = handler(event, None)
    assert response["customerErrorCode"] == "InvalidParameterValueException"
    assert "AllowedEgressTargets" in response["customerErrorMessage"]
    assert config_calls.evaluations == []


def test_scan_runs_every_rule_from_one_read(network, capsys):
    code = main(["scan", "--region", "us-east-1", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    verdicts = {(e["rule"], e["resource_id"]): e["compliance"] for e in report["evaluations"]}
    for function, parameters, compliance, _ in NAT_CASES:
        if not parameters:
            assert verdicts[(NAT_RULE, function)] == compliance, function
    for function, parameters, compliance, _ in IPV6_CASES:
        if not parameters:
            assert verdicts[(IPV6_RULE, function)] == compliance, function


def test_scan_passes_parameters(network, capsys):
    main(
        [
            "scan",
            "--region",
            "us-east-1",
            "--format",
            "json",
            "--rule",
            NAT_RULE,
            "--param",
            "AllowedEgressTargets=nat-gateway,transit-gateway",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    verdicts = {e["resource_id"]: e["compliance"] for e in report["evaluations"]}
    assert verdicts["via-tgw"] == "COMPLIANT"
    assert {e["rule"] for e in report["evaluations"]} == {NAT_RULE}
