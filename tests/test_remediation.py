"""Remediation (core.remediation, tooling.remediate): the plans the pack makes for the demo estate, the
least-privilege ENI policy judged by the pack's own ENI rule (COMPLIANT for its function, no broader), the
refusals, the exceptions hook, and the executors (direct, in moto; SSM, with botocore-checked answers) with
their records.

The demo estate is built once for the module; `remediate --dry-run` runs on it in the fixture, before any test
changes it, and the tests that make changes each touch functions no other test reads afterwards."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from conftest import FAKE_ENVIRONMENT, REGION
from lambda_vpc_rules.aws.clients import Clients, session_clients
from lambda_vpc_rules.aws.remediation import current_state, dedicated_instances
from lambda_vpc_rules.core.engine import evaluate_functions, parse_parameters
from lambda_vpc_rules.core.model import Compliance, ManagedPolicy, Role
from lambda_vpc_rules.core.remediation import (
    ENI,
    IPV6,
    MODES,
    MULTI_AZ,
    PRIVATE,
    ROLE_POLICY_SIZE_LIMIT,
    TENANCY,
    Context,
    Status,
    changed_facts,
    eni_policy,
    plan,
)
from lambda_vpc_rules.core.rules import RULES, get_rule
from lambda_vpc_rules.tooling import remediate
from lambda_vpc_rules.tooling.cli import main
from lambda_vpc_rules.tooling.demo import build_demo_estate, moto_as_aws_answers

# What the demo estate's NON_COMPLIANT findings a document can fix (PROPOSED: subnets, with the operator's
# choice); every other finding gets a refusal that says why, never a change.
FIXABLE = {
    (ENI, "audit-exporter"), (ENI, "metrics-agent"),  # too narrow a resource; a condition not met
    (TENANCY, "billing-sync"),
    (IPV6, "ipv6-mismatch"), (IPV6, "ipv6-unused"),
    (PRIVATE, "public-webhook"), (PRIVATE, "report-mailer"), (PRIVATE, "legacy-poller"),
    (MULTI_AZ, "public-webhook"), (MULTI_AZ, "ledger-writer"), (MULTI_AZ, "report-mailer"),
    (MULTI_AZ, "legacy-poller"), (MULTI_AZ, "ipv6-mismatch"), (MULTI_AZ, "inventory-sync"),
}
REFUSED = {
    (ENI, "payments-worker"): "explicit Deny",  # its guard denies deleting ENIs: a person decides
    (TENANCY, "retired-subnet-job"): "not found", (IPV6, "retired-subnet-job"): "not found",
    (PRIVATE, "retired-subnet-job"): "cannot be established", (MULTI_AZ, "retired-subnet-job"): "cannot be established",
    (PRIVATE, "billing-sync"): "no subnet", (MULTI_AZ, "billing-sync"): "no subnet",  # its VPC has no private one
}
DEFAULTS = parse_parameters(list(RULES), {})


@pytest.fixture(scope="module")
def demo():
    """The demo estate in moto, `remediate --dry-run --format json` run on it (its planning kept)."""
    environment = {**FAKE_ENVIRONMENT, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    with mock.patch.dict(os.environ, environment), mock_aws(), moto_as_aws_answers():
        session = boto3.Session(region_name=REGION)
        build_demo_estate(session)
        kept = []
        original = remediate.plan_account

        def spy(*args, **kwargs):
            kept.append(original(*args, **kwargs))
            return kept[-1]

        out = io.StringIO()
        with mock.patch.object(remediate, "plan_account", spy), contextlib.redirect_stdout(out):
            code = main(["remediate", "--dry-run", "--format", "json", "--region", REGION])
        yield {"session": session, "clients": Clients(session_clients(session)), "code": code,
               "printed": json.loads(out.getvalue()), "planning": kept[0]}


def _verdicts(planning, rule, functions=None, facts=None, parameters=None):
    rule_ = get_rule(rule)
    results = evaluate_functions(rule_, functions or planning.functions.values(), facts or planning.facts,
                                 parameters or DEFAULTS[rule])
    return {(r.rule, r.resource_id): r.compliance for r in results}


# ------------------------------------------------------------------------------------------ the demo estate


def test_dry_run_lists_one_planned_change_per_fixable_finding_and_none_for_the_rest(demo):
    planning, printed = demo["planning"], demo["printed"]
    non_compliant = {key for rule in RULES for key, verdict in _verdicts(planning, rule.config_rule_name).items()
                     if verdict is Compliance.NON_COMPLIANT}
    keys = [(p["rule"], p["function"]) for p in printed]
    assert len(keys) == len(set(keys))  # one entry per finding
    assert set(keys) == non_compliant  # and none for a COMPLIANT or NOT_APPLICABLE verdict
    changes = {(p["rule"], p["function"]) for p in printed if p["status"] in ("planned", "proposed")}
    assert changes == FIXABLE
    refused = {(p["rule"], p["function"]): p["summary"] for p in printed if p["status"] == "refused"}
    assert set(refused) == set(REFUSED) and set(refused) | changes == non_compliant
    for key, why in REFUSED.items():
        assert why in refused[key], key
    assert demo["code"] == 1  # findings: something to do
    # what runs without the operator: the planned ones; subnets only proposed, with no API call
    for entry in printed:
        assert bool(entry["calls"]) == (entry["status"] == "planned")
        subnets = entry["rule"] in (PRIVATE, MULTI_AZ)
        assert (entry["status"] == "proposed") == (subnets and entry["status"] != "refused")


def test_every_planned_or_proposed_change_makes_its_rule_compliant(demo):
    """The plan's `after`, applied to the facts, is what the rule judges COMPLIANT (the planner's own proof,
    checked here from the outside)."""
    planning = demo["planning"]
    for entry in planning.plans:
        if not entry.is_change:
            continue
        function, facts = planning.functions[entry.function], planning.facts
        if entry.rule == ENI:
            role = facts.roles[entry.after["RoleName"]]
            role = dataclasses.replace(role, inline_policies={**role.inline_policies,
                                                              entry.after["PolicyName"]: entry.after["PolicyDocument"]})
            facts = changed_facts(facts, roles={**facts.roles, role.name: role})
        elif entry.rule == IPV6:
            function = dataclasses.replace(function, ipv6_allowed_for_dual_stack=entry.after["Ipv6AllowedForDualStack"])
        elif entry.rule == TENANCY:
            vpc = dataclasses.replace(facts.vpcs[entry.after["VpcId"]], instance_tenancy="default")
            facts = changed_facts(facts, vpcs={**facts.vpcs, vpc.vpc_id: vpc})
        else:
            function = dataclasses.replace(function, subnet_ids=tuple(entry.after["SubnetIds"]))
            # a proposal keeps the function private too
            assert _verdicts(planning, PRIVATE, [function], facts)[(PRIVATE, function.name)] is Compliance.COMPLIANT
        assert _verdicts(planning, entry.rule, [function], facts)[(entry.rule, function.name)] is Compliance.COMPLIANT


# ------------------------------------------------------------------------------------------ ENI: least privilege


def _alone(planning, function, document, **changes):
    """The function (changed as asked) with a role that has only `document`."""
    role = Role("only-the-plan", "arn:aws:iam::123456789012:role/only-the-plan", {"plan": document})
    facts = changed_facts(planning.facts, roles={**planning.facts.roles, role.name: role})
    return dataclasses.replace(function, role_arn=role.arn, **changes), facts


def _eni(planning, function, facts, **parameters):
    return get_rule(ENI).evaluate(function, facts, {**DEFAULTS[ENI], **parameters})


@pytest.mark.parametrize("name", ["audit-exporter", "stock-reader"])  # no security group; one of its own
def test_the_eni_policy_alone_makes_the_rule_compliant_for_its_function(demo, name):
    planning = demo["planning"]
    function = planning.functions[name]
    fixed, facts = _alone(planning, function, eni_policy(function, planning.facts))
    assert _eni(planning, fixed, facts).compliance is Compliance.COMPLIANT
    # also under the strictest parameters: no ec2:* grant, and the function's code kept from the ENI writes
    strict = _eni(planning, fixed, facts, FlagOverbroadEc2=True, RequireFunctionCodeGuard=True)
    assert strict.compliance is Compliance.COMPLIANT, strict.annotation


def test_the_eni_policy_is_no_broader_than_its_function(demo):
    planning = demo["planning"]
    own = planning.functions["stock-reader"]  # private-a, private-b and its own security group
    document = eni_policy(own, planning.facts)
    elsewhere = planning.functions["public-webhook"].subnet_ids  # another subnet of the same VPC
    for changes in ({"subnet_ids": elsewhere},
                    {"subnet_ids": (*own.subnet_ids, *elsewhere)},
                    {"security_group_ids": ("sg-0123456789abcdef0",)},
                    {"security_group_ids": (*own.security_group_ids, "sg-0123456789abcdef0")},
                    {"arn": own.arn.replace(REGION, "eu-west-1")}):
        other, facts = _alone(planning, own, document, **changes)
        verdict = _eni(planning, other, facts)
        assert verdict.compliance is Compliance.NON_COMPLIANT, changes


def test_every_resource_of_the_eni_policy_is_needed(demo):
    """Least privilege: take any one resource or subnet condition away and the rule fails."""
    planning = demo["planning"]
    function = planning.functions["stock-reader"]
    document = eni_policy(function, planning.facts)
    create = next(s for s in document["Statement"] if s["Sid"] == "CreateInOwnSubnetsAndGroups")
    manage = next(s for s in document["Statement"] if s["Sid"] == "ManageLambdaEnisInOwnSubnets")
    assert manage["Resource"].endswith(":network-interface/eni-*")
    assert create["Resource"][0].endswith(":network-interface/*") and len(create["Resource"]) == 4
    cuts = [("Resource", create, i) for i in range(len(create["Resource"]))]
    cuts += [("Subnet", manage, i) for i in range(len(manage["Condition"]["ArnEquals"]["ec2:Subnet"]))]
    for what, statement, index in cuts:
        cut = json.loads(json.dumps(document))
        target = next(s for s in cut["Statement"] if s["Sid"] == statement["Sid"])
        values = target["Resource"] if what == "Resource" else target["Condition"]["ArnEquals"]["ec2:Subnet"]
        del values[index]
        fixed, facts = _alone(planning, function, cut)
        assert _eni(planning, fixed, facts).compliance is Compliance.NON_COMPLIANT, (what, index)
    describe = next(s for s in document["Statement"] if s["Sid"].startswith("Describe"))
    assert describe["Resource"] == "*"  # no resource-level permissions for them (Lambda guide)
    guard = next(s for s in document["Statement"] if s["Effect"] == "Deny")
    assert guard["Condition"] == {"ArnEquals": {"lambda:SourceFunctionArn": function.arn}}


def test_eni_refuses_when_a_boundary_or_the_size_limit_blocks(demo):
    planning = demo["planning"]
    function = planning.functions["audit-exporter"]
    context = Context(DEFAULTS)
    role = planning.facts.roles["audit-exporter-role"]
    boundary = ManagedPolicy("arn:aws:iam::123456789012:policy/s3-only", "s3-only",
                             {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                                      "Resource": "*"}]})
    bounded = dataclasses.replace(role, permissions_boundary_arn=boundary.arn)
    facts = changed_facts(planning.facts, roles={**planning.facts.roles, role.name: bounded},
                          policies={**planning.facts.policies, boundary.arn: boundary})
    refused = plan(ENI, function, facts, context)
    assert refused.status is Status.REFUSED and "permissions boundary" in refused.summary and not refused.calls
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                   "Resource": "arn:aws:s3:::" + "b" * (ROLE_POLICY_SIZE_LIMIT - 200)}]}
    full = dataclasses.replace(role, inline_policies={**role.inline_policies, "big": big})
    facts = changed_facts(planning.facts, roles={**planning.facts.roles, role.name: full})
    refused = plan(ENI, function, facts, context)
    assert refused.status is Status.REFUSED and "10,240" in refused.summary


def test_excepted_functions_are_never_remediated(demo):
    planning = demo["planning"]
    function = planning.functions["audit-exporter"]
    excepted = plan(ENI, function, planning.facts, Context(DEFAULTS),
                    excepted=lambda rule, fn: fn.name == function.name)
    assert excepted.status is Status.EXCEPTED and not excepted.is_change and not excepted.calls
    calls = []

    class Recorder:
        name = "recorder"

        def run(self, plan_, progress):
            calls.append(plan_)
            return "", "Success"

    assert remediate.execute([excepted], demo["clients"], Recorder(), None, "me", "123456789012") == []
    assert calls == []


def test_tenancy_lists_the_dedicated_instances_it_leaves_unchanged(demo):
    planning = demo["planning"]
    billing = planning.functions["billing-sync"]
    vpc_id = planning.facts.subnets[billing.subnet_ids[0]].vpc_id
    found = plan(TENANCY, billing, planning.facts, Context(DEFAULTS, {vpc_id: ["i-0aaa", "i-0bbb"]}))
    assert found.status is Status.PLANNED and found.after["DedicatedInstancesUnchanged"] == ["i-0aaa", "i-0bbb"]
    assert "2 dedicated instance(s) keep their tenancy" in found.notes[0]
    unread = plan(TENANCY, billing, planning.facts, Context(DEFAULTS, None))
    assert "not read" in unread.notes[0]


def test_the_dedicated_instances_read_keeps_dedicated_ones_not_terminated():
    """moto 5.2 ignores Placement.Tenancy at launch (every instance is default): AWS-shaped answers instead,
    checked against botocore's model."""
    client = boto3.client("ec2", region_name=REGION)
    stubber = Stubber(client)

    def instance(instance_id, tenancy, state):
        return {"InstanceId": instance_id, "VpcId": "vpc-0a1b2c3d", "Placement": {"Tenancy": tenancy},
                "State": {"Name": state, "Code": 16}}

    stubber.add_response("describe_instances", {"Reservations": [{"Instances": [
        instance("i-0dedicated", "dedicated", "running"), instance("i-0default", "default", "running"),
        instance("i-0gone", "dedicated", "terminated"), instance("i-0stopped", "dedicated", "stopped")]}]},
        {"Filters": [{"Name": "vpc-id", "Values": ["vpc-0a1b2c3d", "vpc-0e0e0e0e"]}]})
    stubber.activate()
    found = dedicated_instances(Clients(lambda service, region=None: client), ["vpc-0e0e0e0e", "vpc-0a1b2c3d"])
    assert found == {"vpc-0a1b2c3d": ["i-0dedicated", "i-0stopped"], "vpc-0e0e0e0e": []}
    assert dedicated_instances(Clients(lambda service, region=None: client), []) == {}


def test_a_subnet_choice_is_applied_only_when_it_passes(demo):
    planning = demo["planning"]
    webhook = planning.functions["public-webhook"]
    proposed = plan(PRIVATE, webhook, planning.facts, Context(DEFAULTS))
    assert proposed.status is Status.PROPOSED and not proposed.calls and proposed.after["SubnetIds"]
    chosen = plan(PRIVATE, webhook, planning.facts, Context(DEFAULTS, subnet_choices={
        webhook.name: proposed.after["SubnetIds"]}))
    assert chosen.status is Status.PLANNED
    assert chosen.calls[0].parameters["VpcConfig"]["SubnetIds"] == proposed.after["SubnetIds"]
    public = plan(PRIVATE, webhook, planning.facts,
                  Context(DEFAULTS, subnet_choices={webhook.name: webhook.subnet_ids}))
    assert public.status is Status.REFUSED and PRIVATE in public.summary
    other_vpc = planning.functions["billing-sync"].subnet_ids
    elsewhere = plan(PRIVATE, webhook, planning.facts, Context(DEFAULTS, subnet_choices={webhook.name: other_vpc}))
    assert elsewhere.status is Status.REFUSED and "VPC" in elsewhere.summary


# ------------------------------------------------------------------------------------------ executing


def test_the_direct_executor_makes_the_planned_changes_and_records_them(demo, tmp_path):
    """metrics-agent (ENI), ipv6-mismatch (IPv6), inventory-sync (multi-AZ, the operator's choice), billing-sync
    (tenancy): run against moto, read back, judged again by the rules; each execution recorded."""
    clients, planning = demo["clients"], demo["planning"]
    by_key = {(p.rule, p.function): p for p in planning.plans}
    inventory = planning.functions["inventory-sync"]
    choice = plan(MULTI_AZ, inventory, planning.facts, Context(DEFAULTS, subnet_choices={
        inventory.name: by_key[(MULTI_AZ, "inventory-sync")].after["SubnetIds"]}))
    plans = [by_key[(ENI, "metrics-agent")], by_key[(IPV6, "ipv6-mismatch")], choice, by_key[(TENANCY, "billing-sync")],
             by_key[(ENI, "payments-worker")]]  # the refusal is not run
    records = tmp_path / "records.jsonl"
    shown = []
    done = remediate.execute(plans, clients, remediate.DirectExecutor(clients), records,
                             "arn:aws:iam::123456789012:user/operator", "123456789012", shown.append)
    assert [r["function"] for r in done] == ["metrics-agent", "ipv6-mismatch", "inventory-sync", "billing-sync"]
    assert all(r["status"] == "Success" and r["executor"] == "direct" for r in done)
    assert remediate.read_records(records) == json.loads(json.dumps(done))
    eni, ipv6, subnets, tenancy = done
    assert eni["before"]["PolicyDocument"] is None and eni["after"]["PolicyDocument"]["Statement"]
    assert (ipv6["before"]["Ipv6AllowedForDualStack"], ipv6["after"]["Ipv6AllowedForDualStack"]) == (True, False)
    assert subnets["after"]["SubnetIds"] == sorted(choice.after["SubnetIds"])
    assert (tenancy["before"]["InstanceTenancy"], tenancy["after"]["InstanceTenancy"]) == ("dedicated", "default")
    assert any("iam:PutRolePolicy" in line for line in shown)
    # read the account again: the rules now find these COMPLIANT
    again = remediate.plan_account(clients, [ENI, IPV6, MULTI_AZ, TENANCY])
    left = {(p.rule, p.function) for p in again.plans}
    for key in [(ENI, "metrics-agent"), (IPV6, "ipv6-mismatch"), (MULTI_AZ, "inventory-sync"),
                (TENANCY, "billing-sync")]:
        assert key not in left
    assert (ENI, "payments-worker") in left


def _stubbed_ssm(answers):
    """An SSM client whose answers botocore checks against the service model (Stubber)."""
    client = boto3.client("ssm", region_name=REGION)
    stubber = Stubber(client)
    for operation, response, expected in answers:
        stubber.add_response(operation, response, expected)
    stubber.activate()
    return client, stubber


def test_the_ssm_executor_starts_the_document_and_waits_showing_each_step():
    plan_ = remediate.Plan(IPV6, "ipv6-unused", Status.PLANNED, "set Ipv6AllowedForDualStack to true",
                           MODES[IPV6],
                           "LambdaVpcRules-Ipv6DualStack", resource="function/ipv6-unused")
    role = "arn:aws:iam::123456789012:role/lambda-vpc-rules-remediation"
    started = {"DocumentName": "LambdaVpcRules-Ipv6DualStack", "Parameters": {
        "FunctionName": ["ipv6-unused"], "AutomationAssumeRole": [role],
        "RuleParameters": [json.dumps({"RequireIpv6Egress": "true"})]}}
    execution = {"AutomationExecutionId": "4d3c2b1a-0123-4567-89ab-0123456789ab"}
    step = {"StepName": "Plan", "Action": "aws:invokeLambdaFunction", "StepStatus": "Success"}
    running = {"AutomationExecution": {**execution, "AutomationExecutionStatus": "InProgress", "StepExecutions": [
        step, {"StepName": "ReadPlan", "Action": "aws:executeScript", "StepStatus": "InProgress"}]}}
    finished = {"AutomationExecution": {**execution, "AutomationExecutionStatus": "Success", "StepExecutions": [
        step, {"StepName": "ReadPlan", "Action": "aws:executeScript", "StepStatus": "Success"},
        {"StepName": "Apply", "Action": "aws:executeAwsApi", "StepStatus": "Success"}]}}
    client, stubber = _stubbed_ssm([("start_automation_execution", execution, started),
                                    ("get_automation_execution", running, execution),
                                    ("get_automation_execution", finished, execution)])
    shown = []
    executor = remediate.SsmExecutor(lambda service: client, role, {"RequireIpv6Egress": "true",
                                                                    "MinAvailabilityZones": "3"}, poll_seconds=0)
    assert executor.run(plan_, shown.append) == (execution["AutomationExecutionId"], "Success")
    stubber.assert_no_pending_responses()
    assert [line.split(": ", 1)[1] for line in shown] == [
        f"LambdaVpcRules-Ipv6DualStack started ({execution['AutomationExecutionId']})", "step Plan: Success",
        "step ReadPlan: Success", "step Apply: Success"]


def test_a_failed_ssm_execution_is_a_failure_not_a_success():
    plan_ = remediate.Plan(ENI, "audit-exporter", Status.PLANNED, "put policy", MODES[ENI],
                           "LambdaVpcRules-EniPermissions", resource="role/r")
    execution = {"AutomationExecutionId": "4d3c2b1a-0123-4567-89ab-0123456789ab"}
    failed = {"AutomationExecution": {**execution, "AutomationExecutionStatus": "Failed",
                                      "FailureMessage": "Step ReadPlan failed: refused: an explicit Deny"}}
    client, stubber = _stubbed_ssm([("start_automation_execution", execution, None),
                                    ("get_automation_execution", failed, execution)])
    executor = remediate.SsmExecutor(lambda service: client, "arn:aws:iam::123456789012:role/x", poll_seconds=0)
    assert executor.run(plan_, lambda message: None)[1].startswith("Failed: Step ReadPlan failed")


def test_records_that_are_not_records_are_an_error(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"who": "me"}\n')
    with pytest.raises(remediate.RemediationError, match="records.jsonl:1: not a remediation record"):
        remediate.read_records(path)
    path.write_text("not json\n")
    with pytest.raises(remediate.RemediationError, match="records.jsonl:1: not JSON"):
        remediate.read_records(path)


def test_current_state_reads_what_a_change_touches(demo):
    clients = demo["clients"]
    assert current_state(clients, "role/demo-lambda-vpc", {"PolicyName": "absent"})["PolicyDocument"] is None
    assert current_state(clients, "function/orders-api", {})["SubnetIds"]
    with pytest.raises(ValueError, match="unknown resource"):
        current_state(clients, "bucket/x", {})


# ------------------------------------------------------------------------------------------ table rows, pure facts


def _facts(**changes):
    from lambda_vpc_rules.core.model import Facts, Subnet, Vpc

    subnets = {
        "subnet-dual-a": Subnet("subnet-dual-a", "vpc-1", ("2600:1f18::/64",), False, "10.0.1.0/24", "us-east-1a",
                                "use1-az1"),
        "subnet-dual-b": Subnet("subnet-dual-b", "vpc-1", ("2600:1f18:0:1::/64",), False, "10.0.2.0/24", "us-east-1b",
                                "use1-az2"),
        "subnet-v6only": Subnet("subnet-v6only", "vpc-1", ("2600:1f18:0:2::/64",), False, None, "us-east-1a",
                                "use1-az1"),
        "subnet-host": Subnet("subnet-host", "vpc-host", (), False, "10.9.0.0/24", "us-east-1a", "use1-az1"),
    }
    vpcs = {"vpc-1": Vpc("vpc-1", "default"), "vpc-host": Vpc("vpc-host", "host")}
    broad = Role("broad", "arn:aws:iam::123456789012:role/broad",
                 {"all": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*",
                                                                  "Resource": "*", "Condition": {"StringEquals": {
                                                                      "aws:RequestedRegion": "eu-west-1"}}},
                                                                 {"Effect": "Allow", "Action": "ec2:Describe*",
                                                                  "Resource": "*"}]}})
    return Facts(vpcs=vpcs, subnets=subnets, roles={"broad": broad}, **changes)


def _function(**changes):
    from lambda_vpc_rules.core.model import LambdaFunction

    fields = {"name": "fn", "arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
              "role_arn": "arn:aws:iam::123456789012:role/broad", "subnet_ids": ("subnet-dual-a", "subnet-dual-b")}
    return LambdaFunction(**{**fields, **changes})


@pytest.mark.parametrize("changes, facts, why", [
    ({"arn": None}, {}, "ARN is not known"),
    ({"role_arn": "arn:aws:iam::123456789012:role/gone"}, {}, "gone not found"),
    ({"role_arn": None}, {}, "names no execution role"),
])
def test_eni_refusals_of_the_table(changes, facts, why):
    found = plan(ENI, _function(**changes), _facts(**facts), Context(DEFAULTS))
    assert found.status is Status.REFUSED and why in found.summary and not found.calls


def test_eni_refuses_when_the_rule_flags_an_overbroad_grant_the_policy_cannot_take_away():
    ec2_all = Role("broad", "arn:aws:iam::123456789012:role/broad", {"all": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}})
    facts = _facts()
    facts = changed_facts(facts, roles={"broad": ec2_all})
    strict = {**DEFAULTS, ENI: {**DEFAULTS[ENI], "FlagOverbroadEc2": True}}
    found = plan(ENI, _function(), facts, Context(strict))
    assert found.status is Status.REFUSED and "FlagOverbroadEc2" in found.summary
    assert "its other policies" in found.summary
    # with the default parameters the same role is COMPLIANT: no plan at all
    assert plan(ENI, _function(), facts, Context(DEFAULTS)) is None


def test_ipv6_refusals_of_the_table():
    only6 = plan(IPV6, _function(subnet_ids=("subnet-dual-a", "subnet-v6only")), _facts(), Context(DEFAULTS))
    assert only6.status is Status.REFUSED and "IPv6-only" in only6.summary
    egress = {**DEFAULTS, IPV6: {**DEFAULTS[IPV6], "RequireIpv6Egress": True}}  # no route tables: no egress
    routes = plan(IPV6, _function(ipv6_allowed_for_dual_stack=True), _facts(), Context(egress))
    assert routes.status is Status.REFUSED and "already true" in routes.summary


def test_tenancy_refuses_what_modify_vpc_tenancy_cannot_change():
    found = plan(TENANCY, _function(subnet_ids=("subnet-host",)), _facts(), Context(DEFAULTS))
    assert found.status is Status.REFUSED and "'host'" in found.summary

