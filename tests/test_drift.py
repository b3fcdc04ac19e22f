"""Drift: a change to a route table, subnet, NAT gateway, VPC, role or policy re-evaluates exactly the
functions that depend on it, through the rule handlers, against moto. Each test changes the resource
the way an operator would and checks the right functions' verdicts flip and no other function is touched."""

from __future__ import annotations

import json

import boto3
import pytest

from aws_support import CallRecorder, build_network, change_event, related_item
from conftest import load_rule_module
from lambda_vpc_rules.aws.facts import FactReader
from lambda_vpc_rules.core.drift import affected_subnets

SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
ENI_DOC = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": SIX, "Resource": "*"}]})


@pytest.fixture
def world(estate):
    ids = build_network(estate)
    iam = estate.iam
    ids["policy"] = iam.create_policy(PolicyName="eni", PolicyDocument=ENI_DOC)["Policy"]["Arn"]
    ids["role-a"] = estate.role("role-a")
    iam.attach_role_policy(RoleName="role-a", PolicyArn=ids["policy"])
    ids["role-b"] = estate.role("role-b")
    iam.put_role_policy(RoleName="role-b", PolicyName="eni", PolicyDocument=ENI_DOC)
    legacy = estate.ec2.create_vpc(CidrBlock="172.16.0.0/16", InstanceTenancy="dedicated")["Vpc"]["VpcId"]
    ids["legacy-vpc"] = legacy
    functions = {
        "behind-nat-a": ([ids["private-a"]], "role-a", None),
        "behind-nat-b": ([ids["private-b"]], "role-a", None),
        "other-role": ([ids["private-a"]], "role-b", None),
        "isolated": ([ids["isolated"]], "role-b", None),
        "dual": ([ids["dual-a"], ids["dual-b"]], "role-b", True),
        "inspected": ([ids["inspected"]], "role-b", None),
        "legacy": ([estate.subnet(legacy, "172.16.1.0/24")], "role-b", None),
    }
    for name, (subnets, role, ipv6) in functions.items():
        estate.function(name, subnets, role=ids[role], ipv6=ipv6)
    return ids


def handle(config_calls, rule_dir: str, rule_name: str, item: dict) -> dict[str, str]:
    """Run the rule's handler on a change of `item`; the verdicts it put, by resource."""
    config_calls.put.clear()
    load_rule_module(rule_dir).lambda_handler(change_event(item, rule_name), None)
    return {e["ComplianceResourceId"]: e["ComplianceType"] for e in config_calls.evaluations}


NAT = ("LAMBDA_VPC_PRIVATE_SUBNET_NAT", "lambda-vpc-private-subnet-nat")


def route_table_item(ids, table_id, status="OK"):
    return related_item("AWS::EC2::RouteTable", table_id, {"routeTableId": table_id, "vpcId": ids["vpc"]},
                        vpc_id=ids["vpc"], status=status)


def test_route_table_edit_flips_the_functions_in_its_subnets(world, config_calls, estate):
    item = route_table_item(world, world["private-rtb"])
    before = handle(config_calls, *NAT, item)
    assert before == {world["private-rtb"]: "NOT_APPLICABLE", "behind-nat-a": "COMPLIANT",
                      "behind-nat-b": "COMPLIANT", "other-role": "COMPLIANT"}
    estate.ec2.replace_route(RouteTableId=world["private-rtb"], DestinationCidrBlock="0.0.0.0/0",
                             GatewayId=world["igw"])
    after = handle(config_calls, *NAT, item)
    assert {k: v for k, v in after.items() if k.startswith(("behind", "other"))} == {
        "behind-nat-a": "NON_COMPLIANT", "behind-nat-b": "NON_COMPLIANT", "other-role": "NON_COMPLIANT"}
    assert set(after) == set(before)  # isolated, dual and legacy untouched


def test_public_route_table_edit_reaches_the_functions_behind_its_nat_gateway(world, config_calls, estate):
    public = estate.ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [world["public"]]}])["RouteTables"][0]["RouteTableId"]
    estate.ec2.delete_route(RouteTableId=public, DestinationCidrBlock="0.0.0.0/0")
    verdicts = handle(config_calls, *NAT, route_table_item(world, public))
    assert verdicts.pop(public) == "NOT_APPLICABLE"
    assert verdicts == {"behind-nat-a": "NON_COMPLIANT", "behind-nat-b": "NON_COMPLIANT",
                        "other-role": "NON_COMPLIANT", "dual": "NON_COMPLIANT"}


def test_deleted_nat_gateway_flips_the_functions_routed_to_it(world, config_calls, estate):
    estate.ec2.delete_nat_gateway(NatGatewayId=world["nat"])
    item = related_item("AWS::EC2::NatGateway", world["nat"], None, vpc_id=world["vpc"], status="ResourceDeleted")
    verdicts = handle(config_calls, *NAT, item)
    assert verdicts.pop(world["nat"]) == "NOT_APPLICABLE"
    assert verdicts == {"behind-nat-a": "NON_COMPLIANT", "behind-nat-b": "NON_COMPLIANT",
                        "other-role": "NON_COMPLIANT", "dual": "NON_COMPLIANT"}


def test_deleted_route_table_re_evaluates_its_whole_vpc(world, config_calls):
    item = route_table_item(world, "rtb-0gone", status="ResourceDeleted")
    verdicts = handle(config_calls, *NAT, item)
    assert set(verdicts) == {"rtb-0gone", "behind-nat-a", "behind-nat-b", "other-role", "isolated", "dual",
                             "inspected"}


def test_firewall_subnet_route_table_edit_reaches_the_functions_whose_egress_passes_the_firewall(
        world, config_calls, estate):
    """AWS Network Firewall's design: inspected -> NAT gateway -> firewall endpoint -> internet gateway. The
    firewall subnet's route table is two hops away from the function's subnet."""
    item = route_table_item(world, world["firewall-rtb"])
    assert handle(config_calls, *NAT, item) == {world["firewall-rtb"]: "NOT_APPLICABLE", "inspected": "COMPLIANT"}
    estate.ec2.delete_route(RouteTableId=world["firewall-rtb"], DestinationCidrBlock="0.0.0.0/0")
    assert handle(config_calls, *NAT, item) == {world["firewall-rtb"]: "NOT_APPLICABLE", "inspected": "NON_COMPLIANT"}


def test_deleted_firewall_endpoint_flips_the_functions_whose_egress_passed_it(world, config_calls, estate):
    endpoint = world["firewall-endpoint"]
    estate.ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    item = related_item("AWS::EC2::VPCEndpoint", endpoint, None, vpc_id=world["vpc"], status="ResourceDeleted")
    config_calls.put.clear()
    load_rule_module(NAT[0]).lambda_handler(change_event(item, NAT[1]), None)
    [verdict] = [e for e in config_calls.evaluations if e["ComplianceResourceId"] == "inspected"]
    assert verdict["ComplianceType"] == "NON_COMPLIANT" and f"{endpoint} is deleted" in verdict["Annotation"]
    assert {e["ComplianceResourceId"] for e in config_calls.evaluations} == {endpoint, "inspected"}


def test_prefix_list_change_re_evaluates_the_functions_routed_by_it_in_every_vpc(world, config_calls, estate):
    """A prefix list is in no VPC: the handler asks which route tables refer to it. Here one of the private
    subnets' lists gains a public range while it is routed to the internet gateway: public."""
    ec2 = estate.ec2
    blocked = estate.prefix_list("blocked", ["10.99.0.0/16"])
    ec2.create_route(RouteTableId=world["private-rtb"], DestinationPrefixListId=blocked, GatewayId=world["igw"])
    item = related_item("AWS::EC2::PrefixList", blocked, {"prefixListId": blocked},
                        arn=f"arn:aws:ec2:us-east-1:123456789012:prefix-list/{blocked}")
    behind = {"behind-nat-a", "behind-nat-b", "other-role"}
    verdicts = handle(config_calls, *NAT, item)
    assert verdicts == {blocked: "NOT_APPLICABLE", **dict.fromkeys(behind, "COMPLIANT")}
    version = ec2.describe_managed_prefix_lists(PrefixListIds=[blocked])["PrefixLists"][0]["Version"]
    ec2.modify_managed_prefix_list(PrefixListId=blocked, CurrentVersion=version,
                                   AddEntries=[{"Cidr": "52.0.0.0/8"}])
    verdicts = handle(config_calls, *NAT, item)
    assert verdicts == {blocked: "NOT_APPLICABLE", **dict.fromkeys(behind, "NON_COMPLIANT")}
    assert any(f"{blocked} -> {world['igw']}" in e["Annotation"] for e in config_calls.evaluations
               if e["ComplianceResourceId"] in behind)


def test_an_unreferenced_prefix_list_evaluates_nothing(world, config_calls, estate):
    unused = estate.prefix_list("unused", ["52.0.0.0/8"])
    item = related_item("AWS::EC2::PrefixList", unused, {"prefixListId": unused})
    assert handle(config_calls, *NAT, item) == {unused: "NOT_APPLICABLE"}
    assert config_calls.queries == []


def test_subnet_losing_ipv6_flips_dual_stack_functions(world, config_calls, estate):
    ipv6 = ("LAMBDA_VPC_IPV6_DUAL_STACK", "lambda-vpc-ipv6-dual-stack")
    item = related_item("AWS::EC2::Subnet", world["dual-a"], {"subnetId": world["dual-a"], "vpcId": world["vpc"]},
                        vpc_id=world["vpc"])
    assert handle(config_calls, *ipv6, item) == {world["dual-a"]: "NOT_APPLICABLE", "dual": "COMPLIANT"}
    [subnet] = estate.ec2.describe_subnets(SubnetIds=[world["dual-a"]])["Subnets"]
    association = subnet["Ipv6CidrBlockAssociationSet"][0]["AssociationId"]
    estate.ec2.disassociate_subnet_cidr_block(AssociationId=association)
    assert handle(config_calls, *ipv6, item) == {world["dual-a"]: "NOT_APPLICABLE", "dual": "NON_COMPLIANT"}


def test_vpc_tenancy_change_flips_its_functions(world, config_calls, estate):
    tenancy = ("LAMBDA_VPC_DEFAULT_TENANCY", "lambda-vpc-default-tenancy")
    legacy = world["legacy-vpc"]
    item = related_item("AWS::EC2::VPC", legacy, {"vpcId": legacy, "instanceTenancy": "dedicated"})
    assert handle(config_calls, *tenancy, item) == {legacy: "NOT_APPLICABLE", "legacy": "NON_COMPLIANT"}
    estate.ec2.modify_vpc_tenancy(VpcId=legacy, InstanceTenancy="default")
    assert handle(config_calls, *tenancy, item) == {legacy: "NOT_APPLICABLE", "legacy": "COMPLIANT"}


ENI = ("LAMBDA_VPC_ENI_PERMISSIONS", "lambda-vpc-eni-permissions")


def test_detaching_the_policy_from_a_role_flips_its_functions(world, config_calls, estate):
    item = related_item("AWS::IAM::Role", "AROAROLEA", {"roleName": "role-a"}, arn=world["role-a"])
    assert handle(config_calls, *ENI, item) == {"AROAROLEA": "NOT_APPLICABLE", "behind-nat-a": "COMPLIANT",
                                                "behind-nat-b": "COMPLIANT"}
    estate.iam.detach_role_policy(RoleName="role-a", PolicyArn=world["policy"])
    assert handle(config_calls, *ENI, item) == {"AROAROLEA": "NOT_APPLICABLE", "behind-nat-a": "NON_COMPLIANT",
                                                "behind-nat-b": "NON_COMPLIANT"}


def test_new_default_policy_version_flips_the_functions_of_its_roles(world, config_calls, estate):
    narrow = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": SIX[:3], "Resource": "*"}]})
    estate.iam.create_policy_version(PolicyArn=world["policy"], PolicyDocument=narrow, SetAsDefault=True)
    item = related_item("AWS::IAM::Policy", "ANPAPOLICY", {"policyName": "eni"}, arn=world["policy"])
    assert handle(config_calls, *ENI, item) == {"ANPAPOLICY": "NOT_APPLICABLE", "behind-nat-a": "NON_COMPLIANT",
                                                "behind-nat-b": "NON_COMPLIANT"}


def test_retagging_a_subnet_flips_the_eni_verdicts_that_depend_on_its_tags(world, config_calls, estate):
    """A role may create interfaces only in subnets tagged tier=app: the subnet's change re-evaluates the
    functions in it (the rule reads the subnet's tags as ec2:ResourceTag/tier)."""
    tiered = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": SIX[1:], "Resource": "*"},
        {"Effect": "Allow", "Action": SIX[0], "Resource": ["arn:aws:ec2:*:*:network-interface/*",
                                                           "arn:aws:ec2:*:*:security-group/*"]},
        {"Effect": "Allow", "Action": SIX[0], "Resource": "arn:aws:ec2:*:*:subnet/*",
         "Condition": {"StringEquals": {"ec2:ResourceTag/tier": "app"}}}]})
    estate.iam.put_role_policy(RoleName="role-b", PolicyName="eni", PolicyDocument=tiered)
    subnet = world["isolated"]
    estate.ec2.create_tags(Resources=[subnet], Tags=[{"Key": "tier", "Value": "app"}])
    item = related_item("AWS::EC2::Subnet", subnet, {"subnetId": subnet, "vpcId": world["vpc"]}, vpc_id=world["vpc"])
    assert handle(config_calls, *ENI, item) == {subnet: "NOT_APPLICABLE", "isolated": "COMPLIANT"}
    estate.ec2.create_tags(Resources=[subnet], Tags=[{"Key": "tier", "Value": "db"}])
    assert handle(config_calls, *ENI, item) == {subnet: "NOT_APPLICABLE", "isolated": "NON_COMPLIANT"}


def test_a_type_outside_the_rules_scope_evaluates_nothing(world, config_calls):
    item = related_item("AWS::IAM::Role", "AROAROLEA", {"roleName": "role-a"}, arn=world["role-a"])
    assert handle(config_calls, *NAT, item) == {"AROAROLEA": "NOT_APPLICABLE"}
    assert config_calls.queries == []


@pytest.mark.parametrize("rule_dir, rule_name, kind", [
    (*NAT, "route table"), (*NAT, "prefix list"), (*NAT, "endpoint"), (*ENI, "role"), (*ENI, "policy"),
    (*ENI, "subnet"),
])
def test_call_count_is_bounded(world, config_calls, rule_dir, rule_name, kind):
    """A change reads one VPC (or one role's policies) and asks AWS Config once, whatever the number of
    functions in the account."""
    items = {
        "route table": route_table_item(world, world["private-rtb"]),
        "role": related_item("AWS::IAM::Role", "AROAROLEA", {"roleName": "role-a"}, arn=world["role-a"]),
        "policy": related_item("AWS::IAM::Policy", "ANPAPOLICY", {"policyName": "eni"}, arn=world["policy"]),
        "prefix list": related_item("AWS::EC2::PrefixList", world["partner-list"], {}),
        "endpoint": related_item("AWS::EC2::VPCEndpoint", world["firewall-endpoint"], {"vpcId": world["vpc"]},
                                 vpc_id=world["vpc"]),
        "subnet": related_item("AWS::EC2::Subnet", world["private-a"], {"subnetId": world["private-a"],
                                                                        "vpcId": world["vpc"]}, vpc_id=world["vpc"]),
    }
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    handle(config_calls, rule_dir, rule_name, items[kind])
    calls = [c for c in recorder.calls if c not in ("config:PutEvaluations", "sts:AssumeRole")]
    print(f"{kind} change, {rule_name}: {len(calls)} calls: {sorted(calls)}")
    assert calls.count("config:SelectResourceConfig") == 1
    assert len(calls) <= 12


def test_affected_subnets_of_the_main_route_table_include_implicit_members(world, aws):
    fetcher = FactReader(aws.client)
    network = fetcher.vpc_network(world["vpc"])
    [main] = [t for t in network.route_tables.values() if t.is_main]
    assert affected_subnets("AWS::EC2::RouteTable", main.route_table_id, False, network) == {world["isolated"]}


def test_a_policy_on_many_roles_is_read_account_wide(world, config_calls, estate):
    """Thirty more roles use the policy: their reads come from the account-wide details, not three or more
    calls a role, and the checks reuse them."""
    for i in range(30):
        estate.role(f"extra-{i}")
        estate.iam.attach_role_policy(RoleName=f"extra-{i}", PolicyArn=world["policy"])
    recorder = CallRecorder().install(boto3.DEFAULT_SESSION)
    item = related_item("AWS::IAM::Policy", "ANPAPOLICY", {"policyName": "eni"}, arn=world["policy"])
    verdicts = handle(config_calls, *ENI, item)
    assert verdicts == {"ANPAPOLICY": "NOT_APPLICABLE", "behind-nat-a": "COMPLIANT", "behind-nat-b": "COMPLIANT"}
    calls = [c for c in recorder.calls if c not in ("config:PutEvaluations", "sts:AssumeRole")]
    print(f"policy on 31 roles: {len(calls)} calls: {sorted(calls)}")
    assert calls.count("iam:GetAccountAuthorizationDetails") == 1 and "iam:GetRole" not in calls
    assert len(calls) <= 5
