"""The fetch layer against moto: whole-account and per-function reads give the same facts."""

from __future__ import annotations

import pytest

from lambda_vpc_rules.aws.facts import FactReader
from lambda_vpc_rules.core.model import Fact


@pytest.fixture
def network(estate):
    vpc = estate.vpc("10.0.0.0/16")
    other_vpc = estate.vpc("10.9.0.0/16")
    public = estate.subnet(vpc, "10.0.0.0/24")
    private = estate.subnet(vpc, "10.0.1.0/24")
    uses_main = estate.subnet(vpc, "10.0.2.0/24")
    unrelated = estate.subnet(other_vpc, "10.9.1.0/24")
    public_rt = estate.route_table(vpc, [public], DestinationCidrBlock="0.0.0.0/0",
                                   GatewayId=estate.internet_gateway(vpc))
    nat = estate.nat_gateway(public)
    private_rt = estate.route_table(vpc, [private], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    estate.function("fn", [private, uses_main, "subnet-doesnotexist"])
    estate.function("other", [unrelated])
    return {
        "vpc": vpc,
        "private": private,
        "uses_main": uses_main,
        "public": public,
        "nat": nat,
        "private_rt": private_rt,
        "public_rt": public_rt,
        "unrelated": unrelated,
    }


NETWORK = {Fact.VPCS, Fact.SUBNETS, Fact.ROUTE_TABLES, Fact.NAT_GATEWAYS}


def test_targeted_read_sees_what_the_account_read_sees_for_that_function(aws, network):
    fetcher = FactReader(aws.client)
    fn = next(f for f in fetcher.list_functions() if f.name == "fn")
    whole = fetcher.account_facts(NETWORK)
    mine = fetcher.facts_for([fn], NETWORK)
    for subnet_id in fn.subnet_ids:
        assert mine.subnets.get(subnet_id) == whole.subnets.get(subnet_id)
        assert mine.route_table_for_subnet(subnet_id) == whole.route_table_for_subnet(subnet_id)
    assert mine.vpcs[network["vpc"]] == whole.vpcs[network["vpc"]]
    assert mine.nat_gateways[network["nat"]] == whole.nat_gateways[network["nat"]]
    # Only what fn depends on: the other VPC's subnet was not read.
    assert network["unrelated"] not in mine.subnets
    assert network["unrelated"] in whole.subnets


def test_route_tables_resolve_explicit_and_main_associations(aws, network):
    facts = FactReader(aws.client).account_facts(NETWORK)
    private_table = facts.route_table_for_subnet(network["private"])
    assert private_table.route_table_id == network["private_rt"]
    default = private_table.route_for("0.0.0.0/0")
    assert (default.target_kind, default.target_id) == ("nat-gateway", network["nat"])
    public_default = facts.route_table_for_subnet(network["public"]).route_for("0.0.0.0/0")
    assert public_default.target_kind == "internet-gateway"
    main = facts.route_table_for_subnet(network["uses_main"])
    assert main.is_main and main.route_for("0.0.0.0/0") is None
    assert facts.nat_gateways[network["nat"]].state == "available"


def test_a_missing_subnet_is_absent_not_an_error(aws, network):
    fetcher = FactReader(aws.client)
    fn = next(f for f in fetcher.list_functions() if f.name == "fn")
    assert "subnet-doesnotexist" not in fetcher.facts_for([fn], NETWORK).subnets


def test_only_the_facts_asked_for_are_read(aws, network):
    facts = FactReader(aws.client).account_facts({Fact.SUBNETS})
    assert facts.subnets and not facts.vpcs and not facts.route_tables and not facts.roles


def test_iam_roles_read_per_role_and_per_account_agree(aws, estate):
    import json

    role_arn = estate.role("with-policies")
    estate.iam.put_role_policy(
        RoleName="with-policies",
        PolicyName="inline-eni",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:CreateNetworkInterface", "Resource": "*"}],
            }
        ),
    )
    managed = estate.iam.create_policy(
        PolicyName="eni-managed",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    estate.iam.attach_role_policy(RoleName="with-policies", PolicyArn=managed)
    vpc = estate.vpc()
    estate.function("fn", [estate.subnet(vpc, "10.0.1.0/24")], role=role_arn)
    estate.role("unrelated-role")
    fetcher = FactReader(aws.client)
    [fn] = fetcher.list_functions()
    whole = fetcher.account_facts({Fact.IAM})
    mine = fetcher.facts_for([fn], {Fact.IAM})
    assert set(mine.roles) == {"with-policies"}
    assert "unrelated-role" in whole.roles
    role = mine.roles["with-policies"]
    assert role == whole.roles["with-policies"]
    assert role.attached_policy_arns == (managed,)
    assert set(role.inline_policies) == {"inline-eni"}
    assert mine.policies[managed].document == whole.policies[managed].document


def test_a_missing_role_is_absent(aws, estate):
    vpc = estate.vpc()
    estate.function("fn", [estate.subnet(vpc, "10.0.1.0/24")], role=estate.role("short-lived"))
    estate.iam.delete_role(RoleName="short-lived")
    fetcher = FactReader(aws.client)
    [fn] = fetcher.list_functions()
    assert fetcher.facts_for([fn], {Fact.IAM}).roles == {}
    assert "short-lived" not in fetcher.account_facts({Fact.IAM}).roles
