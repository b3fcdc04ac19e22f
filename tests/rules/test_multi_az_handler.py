"""LAMBDA_VPC_MULTI_AZ through its RDK handler, with AWS Config events in the documented format, against
moto. The zone IDs come from moto's DescribeSubnets answers (`AvailabilityZoneId`); evaluations are read
from the PutEvaluations requests the handler makes."""

from __future__ import annotations

import boto3
import pytest

from aws_support import (
    CallRecorder,
    change_event,
    configuration_item,
    history_item,
    oversized_event,
    related_item,
    scheduled_event,
)
from conftest import load_rule_module

RULE_NAME, RULE_DIR = "lambda-vpc-multi-az", "LAMBDA_VPC_MULTI_AZ"


@pytest.fixture
def handler(config_calls):
    return load_rule_module(RULE_DIR).lambda_handler


@pytest.fixture
def net(estate):
    vpc = estate.vpc("10.0.0.0/16")
    ids = {"vpc": vpc}
    for name, cidr, az in [("a1", "10.0.1.0/24", "a"), ("a2", "10.0.2.0/24", "a"), ("b1", "10.0.3.0/24", "b"),
                           ("c1", "10.0.4.0/24", "c"), ("doomed", "10.0.9.0/24", "b")]:
        ids[name] = estate.subnet(vpc, cidr, az=az)
    answer = estate.ec2.describe_subnets(SubnetIds=[ids[n] for n in ("a1", "b1", "c1")])["Subnets"]
    ids.update({f"zone-{s['AvailabilityZone'][-1]}": s["AvailabilityZoneId"] for s in answer})
    return ids


@pytest.fixture
def functions(estate, net):
    made = {
        "two-zones": estate.function("two-zones", [net["a1"], net["b1"]]),
        "three-zones": estate.function("three-zones", [net["a1"], net["b1"], net["c1"]]),
        "one-zone": estate.function("one-zone", [net["a1"]]),
        "two-subnets-one-zone": estate.function("two-subnets-one-zone", [net["a1"], net["a2"]]),
        "subnet-gone": estate.function("subnet-gone", [net["a1"], net["doomed"]]),
        "no-vpc": estate.function("no-vpc"),
    }
    estate.ec2.delete_subnet(SubnetId=net["doomed"])
    return made


def test_moto_answers_zone_ids(net):
    """The rule counts `AvailabilityZoneId`: moto gives each zone name its own ID, as AWS does."""
    assert net["zone-a"].startswith("use1-az") and len({net["zone-a"], net["zone-b"], net["zone-c"]}) == 3


@pytest.mark.parametrize(
    ("name", "parameters", "compliance", "words"),
    [
        ("two-zones", {}, "COMPLIANT", ["2 Availability Zones", "zone-a", "zone-b"]),
        ("three-zones", {"MinAvailabilityZones": "3"}, "COMPLIANT", ["3 Availability Zones"]),
        ("two-zones", {"MinAvailabilityZones": "3"}, "NON_COMPLIANT", ["MinAvailabilityZones=3", "zone-a", "b1"]),
        ("one-zone", {}, "NON_COMPLIANT", ["1 Availability Zone,", "zone-a", "a1"]),
        ("two-subnets-one-zone", {}, "NON_COMPLIANT", ["1 Availability Zone,", "a1", "a2"]),
        ("subnet-gone", {}, "NON_COMPLIANT", ["doomed", "not found"]),
        ("no-vpc", {}, "NOT_APPLICABLE", []),
    ],
)
def test_change_notification(handler, config_calls, net, functions, name, parameters, compliance, words):
    handler(change_event(configuration_item(functions[name]), RULE_NAME, parameters), None)
    [evaluation] = config_calls.evaluations
    assert evaluation["ComplianceResourceId"] == name
    assert evaluation["ComplianceResourceType"] == "AWS::Lambda::Function"
    assert evaluation["ComplianceType"] == compliance, evaluation["Annotation"]
    for word in words:
        assert net.get(word, word) in evaluation["Annotation"], evaluation["Annotation"]


def test_a_change_reads_only_the_functions_subnets(handler, config_calls, functions):
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    handler(change_event(configuration_item(functions["two-zones"]), RULE_NAME), None)
    reads = [call for call in recorder.calls if call not in ("config:PutEvaluations", "sts:AssumeRole")]
    assert reads == ["ec2:DescribeSubnets"]


def test_oversized_notification_is_read_from_history(handler, config_calls, functions):
    item = configuration_item(functions["one-zone"])
    config_calls.history["one-zone"] = history_item(item)
    handler(oversized_event(item, RULE_NAME), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NON_COMPLIANT"]


def test_deleted_function_is_not_applicable(handler, config_calls, functions):
    handler(change_event(configuration_item(functions["one-zone"], status="ResourceDeleted"), RULE_NAME), None)
    assert [e["ComplianceType"] for e in config_calls.evaluations] == ["NOT_APPLICABLE"]


def test_scheduled_notification_evaluates_every_function(handler, config_calls, functions):
    handler(scheduled_event(RULE_NAME), None)
    verdicts = {rid: e["ComplianceType"] for rid, e in config_calls.by_resource().items()}
    assert verdicts == {
        "two-zones": "COMPLIANT",
        "three-zones": "COMPLIANT",
        "one-zone": "NON_COMPLIANT",
        "two-subnets-one-zone": "NON_COMPLIANT",
        "subnet-gone": "NON_COMPLIANT",
        "no-vpc": "NOT_APPLICABLE",
    }


@pytest.mark.parametrize("value", ["0", "7", "two", "2.5"])
def test_a_bad_minimum_is_a_parameter_error_not_a_verdict(handler, config_calls, functions, value):
    event = change_event(configuration_item(functions["two-zones"]), RULE_NAME, {"MinAvailabilityZones": value})
    response = handler(event, None)
    assert response["customerErrorCode"] == "InvalidParameterValueException"
    assert response["customerErrorMessage"].startswith("MinAvailabilityZones: invalid value")
    assert config_calls.put == []


def test_a_subnet_change_re_evaluates_the_functions_in_it(handler, config_calls, net, functions, estate):
    """Drift: the subnet's item re-evaluates the functions attached to it, and only those; deleted, they
    lose a zone."""
    spread = estate.subnet(net["vpc"], "10.0.5.0/24", az="b")
    estate.function("spread", [net["a1"], spread])
    estate.function("elsewhere", [net["b1"], net["c1"]])
    item = related_item("AWS::EC2::Subnet", spread, {"subnetId": spread, "vpcId": net["vpc"]}, vpc_id=net["vpc"])
    handler(change_event(item, RULE_NAME), None)
    assert {k: e["ComplianceType"] for k, e in config_calls.by_resource().items()} == {
        spread: "NOT_APPLICABLE", "spread": "COMPLIANT"}
    config_calls.put.clear()
    estate.ec2.delete_subnet(SubnetId=spread)
    deleted = related_item("AWS::EC2::Subnet", spread, None, vpc_id=net["vpc"], status="ResourceDeleted")
    handler(change_event(deleted, RULE_NAME), None)
    verdicts = config_calls.by_resource()
    assert {k: e["ComplianceType"] for k, e in verdicts.items()} == {
        spread: "NOT_APPLICABLE", "spread": "NON_COMPLIANT"}
    assert f"subnet {spread} not found" in verdicts["spread"]["Annotation"]
