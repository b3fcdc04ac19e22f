"""Designs moto cannot hold, read through the fetch layer from AWS-shaped answers: a regional NAT gateway
(no subnet; its own route table, `RouteTableId`), routes propagated from a virtual private gateway
(`Origin` `EnableVgwRoutePropagation`), and AWS Network Firewall endpoints (Gateway Load Balancer endpoints
that Network Firewall manages). botocore's Stubber checks every answer against the EC2 service model's
output shape, and every request the pack makes (its filters, its page sizes) against what is expected.

The design, one VPC (10.0.0.0/16):
- subnet-0fw: the firewall endpoint vpce-0fw; its table sends 0.0.0.0/0 to the internet gateway;
- nat-0regional (regional): its own table rtb-0rnat sends 0.0.0.0/0 to the firewall endpoint, as the
  regional NAT gateway docs suggest for middleboxes ("use this route table to add return routes");
- subnet-0app: 0.0.0.0/0 propagated from vgw-0 listed first, and static 0.0.0.0/0 to the regional NAT
  gateway, which wins (static before propagated), and the S3 gateway endpoint's prefix list;
- subnet-0vpn: only the propagated 0.0.0.0/0 to vgw-0, and static 52.94.0.0/22 to a transit gateway.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from lambda_vpc_rules.aws.clients import PAGE_SIZES
from lambda_vpc_rules.aws.facts import FactReader
from lambda_vpc_rules.core.drift import affected_subnets
from lambda_vpc_rules.core.model import LambdaFunction
from lambda_vpc_rules.core.rules import get_rule

ACCOUNT, REGION, VPC = "123456789012", "us-east-1", "vpc-0a1b2c3d4e5f60718"
WHEN = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
S3_LIST = "pl-63a5400a"
NAT_RULE, IPV6_RULE = get_rule("lambda-vpc-private-subnet-nat"), get_rule("lambda-vpc-ipv6-dual-stack")


def subnet(subnet_id: str, cidr: str, az: str = "a") -> dict:
    return {"SubnetId": subnet_id, "VpcId": VPC, "CidrBlock": cidr, "State": "available", "AvailabilityZone":
            f"{REGION}{az}", "AvailabilityZoneId": f"use1-az{ord(az) - 96}", "AvailableIpAddressCount": 250,
            "DefaultForAz": False, "MapPublicIpOnLaunch": False, "OwnerId": ACCOUNT,
            "SubnetArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{subnet_id}", "Ipv6CidrBlockAssociationSet": []}


def table(table_id: str, routes: list[dict], subnets: list[str] = (), main: bool = False) -> dict:
    associations = [{"Main": False, "RouteTableAssociationId": f"rtbassoc-{sid[7:]}", "RouteTableId": table_id,
                     "SubnetId": sid, "AssociationState": {"State": "associated"}} for sid in subnets]
    if main:
        associations.append({"Main": True, "RouteTableAssociationId": "rtbassoc-0main", "RouteTableId": table_id,
                             "AssociationState": {"State": "associated"}})
    local = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
             "State": "active"}
    return {"RouteTableId": table_id, "VpcId": VPC, "OwnerId": ACCOUNT, "Associations": associations,
            "PropagatingVgws": [{"GatewayId": "vgw-0"}], "Routes": [local, *routes], "Tags": []}


def static(destination: str, **target: str) -> dict:
    key = "DestinationPrefixListId" if destination.startswith("pl-") else "DestinationCidrBlock"
    return {key: destination, **target, "Origin": "CreateRoute", "State": "active"}


PROPAGATED = {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "vgw-0", "Origin": "EnableVgwRoutePropagation",
              "State": "active"}
SUBNETS = [subnet("subnet-0app", "10.0.1.0/24"), subnet("subnet-0vpn", "10.0.2.0/24"),
           subnet("subnet-0fw", "10.0.3.0/24")]
TABLES = [
    table("rtb-0app", [PROPAGATED, static("0.0.0.0/0", NatGatewayId="nat-0regional"),
                       static(S3_LIST, GatewayId="vpce-0s3")], ["subnet-0app"]),
    table("rtb-0vpn", [PROPAGATED, static("52.94.0.0/22", TransitGatewayId="tgw-0")], ["subnet-0vpn"]),
    table("rtb-0fw", [static("0.0.0.0/0", GatewayId="igw-0")], ["subnet-0fw"]),
    table("rtb-0rnat", [static("0.0.0.0/0", GatewayId="vpce-0fw")]),
    table("rtb-0main", [], main=True),
]
REGIONAL_NAT = {
    "CreateTime": WHEN, "NatGatewayId": "nat-0regional", "State": "available", "VpcId": VPC,
    "ConnectivityType": "public", "AvailabilityMode": "regional", "AutoProvisionZones": "enabled",
    "AutoScalingIps": "enabled", "RouteTableId": "rtb-0rnat", "Tags": [],
    "NatGatewayAddresses": [{"AllocationId": "eipalloc-0a", "NetworkInterfaceId": "eni-0a", "PrivateIp": "10.0.1.9",
                             "PublicIp": "198.51.100.7", "AssociationId": "eipassoc-0a", "IsPrimary": True,
                             "Status": "succeeded", "AvailabilityZone": f"{REGION}a",
                             "AvailabilityZoneId": "use1-az1"}],
}
ENDPOINTS = [
    {"VpcEndpointId": "vpce-0fw", "VpcEndpointType": "GatewayLoadBalancer", "VpcId": VPC,
     "ServiceName": f"com.amazonaws.vpce.{REGION}.vpce-svc-0f1e2d3c4b5a69788", "State": "available",
     "SubnetIds": ["subnet-0fw"], "NetworkInterfaceIds": ["eni-0fw"], "IpAddressType": "ipv4",
     "CreationTimestamp": WHEN, "OwnerId": ACCOUNT,
     "Tags": [{"Key": "AWSNetworkFirewallManaged", "Value": "true"},
              {"Key": "Firewall", "Value": f"arn:aws:network-firewall:{REGION}:{ACCOUNT}:firewall/egress"}]},
    {"VpcEndpointId": "vpce-0s3", "VpcEndpointType": "Gateway", "VpcId": VPC,
     "ServiceName": f"com.amazonaws.{REGION}.s3", "State": "available", "RouteTableIds": ["rtb-0app"],
     "CreationTimestamp": WHEN, "OwnerId": ACCOUNT},
]
PREFIX_LIST = {"PrefixListId": S3_LIST, "AddressFamily": "IPv4", "State": "create-complete",
               "PrefixListArn": f"arn:aws:ec2:{REGION}:aws:prefix-list/{S3_LIST}",
               "PrefixListName": f"com.amazonaws.{REGION}.s3", "OwnerId": "AWS", "Tags": []}
ENTRIES = [{"Cidr": "52.216.0.0/15"}, {"Cidr": "3.5.0.0/19"}, {"Cidr": "54.231.0.0/16"}]


def page(operation: str) -> dict:
    return {"MaxResults": PAGE_SIZES[operation]}


def by(name: str, *values: str) -> dict:
    return {"Filters": [{"Name": name, "Values": list(values)}]}


@pytest.fixture
def ec2() -> Iterator[tuple]:
    client = boto3.Session(region_name=REGION).client("ec2")
    with Stubber(client) as stubber:  # validates every answer against the output shape of its operation
        yield client, stubber
        stubber.assert_no_pending_responses()


def account_reads(stubber: Stubber) -> None:
    stubber.add_response("describe_subnets", {"Subnets": SUBNETS}, page("describe_subnets"))
    stubber.add_response("describe_route_tables", {"RouteTables": TABLES}, page("describe_route_tables"))
    stubber.add_response("describe_nat_gateways", {"NatGateways": [REGIONAL_NAT]}, page("describe_nat_gateways"))
    stubber.add_response("describe_vpc_endpoints", {"VpcEndpoints": ENDPOINTS}, page("describe_vpc_endpoints"))
    stubber.add_response("describe_managed_prefix_lists", {"PrefixLists": [PREFIX_LIST]},
                         {**by("prefix-list-id", S3_LIST), **page("describe_managed_prefix_lists")})
    stubber.add_response("get_managed_prefix_list_entries", {"Entries": ENTRIES},
                         {"PrefixListId": S3_LIST, **page("get_managed_prefix_list_entries")})


def fn(subnet_id: str) -> LambdaFunction:
    return LambdaFunction(subnet_id.replace("subnet-0", "fn-"), subnet_ids=(subnet_id,))


def test_account_read_traces_regional_nat_gateway_through_network_firewall(ec2):
    client, stubber = ec2
    account_reads(stubber)
    facts = FactReader(lambda service: client).account_facts(NAT_RULE.needs)
    nat = facts.nat_gateways["nat-0regional"]
    assert (nat.availability_mode, nat.subnet_id, nat.route_table_id) == ("regional", None, "rtb-0rnat")
    assert facts.route_tables["rtb-0app"].routes[1].origin == "EnableVgwRoutePropagation"
    defaults = NAT_RULE.parse_parameters({})
    app = NAT_RULE.evaluate(fn("subnet-0app"), facts, defaults)
    assert app.compliance.value == "COMPLIANT", app.annotation
    assert "nat-0regional" in app.annotation and "vpce-0s3" in app.annotation
    vpn = NAT_RULE.evaluate(fn("subnet-0vpn"), facts, defaults)
    assert vpn.compliance.value == "NON_COMPLIANT"
    assert "0.0.0.0/0 -> vgw-0: virtual-private-gateway vgw-0 not in AllowedEgressTargets" in vpn.annotation
    trusting = NAT_RULE.parse_parameters({"AllowedEgressTargets": "virtual-private-gateway"})
    vpn = NAT_RULE.evaluate(fn("subnet-0vpn"), facts, trusting)
    assert vpn.compliance.value == "NON_COMPLIANT"  # the static 52.94.0.0/22 to the transit gateway
    assert vpn.annotation == "subnet subnet-0vpn: 52.94.0.0/22 -> tgw-0: transit-gateway tgw-0 not in " \
                             "AllowedEgressTargets"


def test_a_function_read_alone_reads_only_what_its_egress_passes(ec2):
    """A change-triggered read: filtered by the function's subnet, its VPC, the NAT gateways and endpoints
    its tables route to, and the prefix lists on its way out."""
    client, stubber = ec2
    stubber.add_response("describe_subnets", {"Subnets": SUBNETS[:1]},
                         {**by("subnet-id", "subnet-0app"), **page("describe_subnets")})
    stubber.add_response("describe_route_tables", {"RouteTables": TABLES},
                         {**by("vpc-id", VPC), **page("describe_route_tables")})
    stubber.add_response("describe_nat_gateways", {"NatGateways": [REGIONAL_NAT]},
                         {**by("nat-gateway-id", "nat-0regional"), **page("describe_nat_gateways")})
    stubber.add_response("describe_vpc_endpoints", {"VpcEndpoints": ENDPOINTS},
                         {**by("vpc-endpoint-id", "vpce-0fw", "vpce-0s3"), **page("describe_vpc_endpoints")})
    stubber.add_response("describe_managed_prefix_lists", {"PrefixLists": [PREFIX_LIST]},
                         {**by("prefix-list-id", S3_LIST), **page("describe_managed_prefix_lists")})
    stubber.add_response("get_managed_prefix_list_entries", {"Entries": ENTRIES},
                         {"PrefixListId": S3_LIST, **page("get_managed_prefix_list_entries")})
    function = fn("subnet-0app")
    facts = FactReader(lambda service: client).facts_for([function], NAT_RULE.needs)
    assert NAT_RULE.evaluate(function, facts, NAT_RULE.parse_parameters({})).compliance.value == "COMPLIANT"


def test_drift_follows_the_regional_nat_gateway_to_its_table_and_the_firewall(ec2):
    client, stubber = ec2
    stubber.add_response("describe_subnets", {"Subnets": SUBNETS}, {**by("vpc-id", VPC), **page("describe_subnets")})
    stubber.add_response("describe_route_tables", {"RouteTables": TABLES},
                         {**by("vpc-id", VPC), **page("describe_route_tables")})
    stubber.add_response("describe_nat_gateways", {"NatGateways": [REGIONAL_NAT]},
                         {**by("vpc-id", VPC), **page("describe_nat_gateways")})
    stubber.add_response("describe_vpc_endpoints", {"VpcEndpoints": ENDPOINTS},
                         {**by("vpc-id", VPC), **page("describe_vpc_endpoints")})
    network = FactReader(lambda service: client).vpc_network(VPC)
    for changed in [("AWS::EC2::RouteTable", "rtb-0rnat"), ("AWS::EC2::NatGateway", "nat-0regional"),
                    ("AWS::EC2::VPCEndpoint", "vpce-0fw"), ("AWS::EC2::RouteTable", "rtb-0fw"),
                    ("AWS::EC2::Subnet", "subnet-0fw"), ("AWS::EC2::PrefixList", S3_LIST)]:
        assert "subnet-0app" in affected_subnets(*changed, False, network), changed
        assert "subnet-0vpn" not in affected_subnets(*changed, False, network), changed
    assert affected_subnets("AWS::EC2::RouteTable", "rtb-0vpn", False, network) == {"subnet-0vpn"}


CORE_NETWORK = f"arn:aws:networkmanager::{ACCOUNT}:core-network/core-network-0a1b2c3d4e5f60718"


def test_a_route_to_a_cloud_wan_core_network_is_central_egress_like_a_transit_gateway(ec2):
    """DescribeRouteTables names a Cloud WAN core network by `CoreNetworkArn` (EC2 API reference, Route):
    read as the kind `core-network`, it is central egress exactly where `AllowedEgressTargets` lists it, as a
    transit gateway is where `transit-gateway` is listed."""
    client, stubber = ec2
    wan = [subnet("subnet-0wan", "10.0.4.0/24"), subnet("subnet-0tgw", "10.0.5.0/24", "b")]
    tables = [table("rtb-0wan", [static("0.0.0.0/0", CoreNetworkArn=CORE_NETWORK)], ["subnet-0wan"]),
              table("rtb-0tgw", [static("0.0.0.0/0", TransitGatewayId="tgw-0")], ["subnet-0tgw"]),
              table("rtb-0main", [], main=True)]
    stubber.add_response("describe_subnets", {"Subnets": wan}, page("describe_subnets"))
    stubber.add_response("describe_route_tables", {"RouteTables": tables}, page("describe_route_tables"))
    stubber.add_response("describe_nat_gateways", {"NatGateways": []}, page("describe_nat_gateways"))
    facts = FactReader(lambda service: client).account_facts(NAT_RULE.needs)
    route = facts.route_tables["rtb-0wan"].route_for("0.0.0.0/0")
    assert (route.target_kind.value, route.target_id) == ("core-network", CORE_NETWORK)
    verdicts = {}
    for allowed in ("", "core-network", "transit-gateway", "core-network,transit-gateway"):
        parameters = NAT_RULE.parse_parameters({"AllowedEgressTargets": allowed} if allowed else {})
        verdicts[allowed] = {name: NAT_RULE.evaluate(fn(name), facts, parameters) for name in ("subnet-0wan",
                                                                                               "subnet-0tgw")}
    assert verdicts[""]["subnet-0wan"].compliance.value == "NON_COMPLIANT"
    assert verdicts[""]["subnet-0wan"].annotation == (  # the ARN's resource ID names it, as an ID names a gateway
        "subnet subnet-0wan: 0.0.0.0/0 -> core-network-0a1b2c3d4e5f60718: core-network "
        "core-network-0a1b2c3d4e5f60718 not in AllowedEgressTargets")
    assert verdicts["core-network"]["subnet-0wan"].compliance.value == "COMPLIANT"
    assert "core-network" in verdicts["core-network"]["subnet-0wan"].annotation
    assert verdicts["core-network"]["subnet-0tgw"].compliance.value == "NON_COMPLIANT"
    assert verdicts["transit-gateway"]["subnet-0wan"].compliance.value == "NON_COMPLIANT"
    assert verdicts["transit-gateway"]["subnet-0tgw"].compliance.value == "COMPLIANT"
    assert {v.compliance.value for v in verdicts["core-network,transit-gateway"].values()} == {"COMPLIANT"}
