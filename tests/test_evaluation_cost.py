"""The cheaper evaluation decides exactly as the full one: the ENI rule's per-resource outcomes for a role whose
policies read no request context, and the private-subnet rule's findings once per subnet (pure, no AWS)."""

from __future__ import annotations

import json

import pytest

from lambda_vpc_rules.core import iam_policy
from lambda_vpc_rules.core.engine import evaluate_functions
from lambda_vpc_rules.core.model import Facts, LambdaFunction, Role, Subnet
from lambda_vpc_rules.core.rules import eni_permissions
from lambda_vpc_rules.core.rules.eni_permissions import check_eni_permissions

ACCOUNT, REGION = "123456789012", "us-east-1"
SIX = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


def arn(suffix: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{suffix}"


POLICIES = {  # condition-free: the fast path applies to each
    "broad": [{"Effect": "Allow", "Action": SIX, "Resource": "*"}],
    "ec2-star": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
    "own-subnet-only": [
        {"Effect": "Allow", "Action": SIX, "Resource": [arn("subnet/subnet-1"), arn("network-interface/*"),
                                                       arn("security-group/*")]}],
    "deny-one-subnet": [{"Effect": "Allow", "Action": SIX, "Resource": "*"},
                        {"Effect": "Deny", "Action": "ec2:CreateNetworkInterface",
                         "Resource": arn("subnet/subnet-2")}],
    "missing-delete": [{"Effect": "Allow", "Action": [a for a in SIX if a != "ec2:DeleteNetworkInterface"],
                        "Resource": "*"}],
    "not-resource": [{"Effect": "Allow", "Action": SIX, "NotResource": arn("subnet/subnet-3")}],
    "enis-only": [{"Effect": "Allow", "Action": SIX, "Resource": arn("network-interface/eni-*")}],
}


def estate() -> tuple[Facts, list[LambdaFunction]]:
    subnets = {f"subnet-{i}": Subnet(f"subnet-{i}", "vpc-1" if i < 3 else "vpc-2", ipv4_cidr_block=f"10.0.{i}.0/24",
                                     availability_zone=f"{REGION}{'ab'[i % 2]}") for i in range(1, 5)}
    roles = {name: Role(name, f"arn:aws:iam::{ACCOUNT}:role/{name}",
                        inline_policies={"p": json.loads(json.dumps({"Version": "2012-10-17", "Statement": doc}))})
             for name, doc in POLICIES.items()}
    functions = [LambdaFunction(f"fn-{role}-{i}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn-{role}-{i}",
                                roles[role].arn, pair, groups)
                 for role in POLICIES
                 for i, (pair, groups) in enumerate([(("subnet-1", "subnet-2"), ()), (("subnet-1",), ("sg-1",)),
                                                     (("subnet-3", "subnet-4"), ("sg-1", "sg-2")),
                                                     (("subnet-2", "subnet-1"), ())])]
    return Facts(subnets=subnets, roles=roles), functions


@pytest.mark.parametrize("flag", ["false", "true"])
def test_per_resource_outcomes_decide_as_the_full_evaluation(monkeypatch, flag):
    parameters = eni_permissions.ENI_PERMISSIONS.parse_parameters({"FlagOverbroadEc2": flag})
    facts, functions = estate()
    fast = [check_eni_permissions(fn, facts, parameters) for fn in functions]
    monkeypatch.setattr(eni_permissions, "reads_context", lambda policies: True)  # every context built
    facts, functions = estate()
    full = [check_eni_permissions(fn, facts, parameters) for fn in functions]
    assert fast == full
    assert {v.compliance.value for v in fast} == {"COMPLIANT", "NON_COMPLIANT"}


def test_remembered_matches_decide_as_computing_each_and_are_forgotten_after(monkeypatch):
    """An account-region's evaluation remembers each (pattern, resource) match once, in a memo that ends with
    it: a memo that outlived it grew with every account an organization scan read (docs/organization-scale.md)."""
    parameters = eni_permissions.ENI_PERMISSIONS.parse_parameters({})
    facts, functions = estate()
    computed = [check_eni_permissions(fn, facts, parameters) for fn in functions]  # outside a block: no memo

    tested: list[tuple] = []
    covers = iam_policy.covers
    monkeypatch.setattr(iam_policy, "covers", lambda *tokens: tested.append(tokens) or covers(*tokens))
    facts, functions = estate()
    results = evaluate_functions(eni_permissions.ENI_PERMISSIONS, functions, facts, parameters)
    assert [(r.compliance, r.annotation) for r in results] == [(v.compliance, v.annotation) for v in computed]
    assert tested and len(tested) == len(set(tested))  # each pattern test made once for all the functions
    assert iam_policy._MATCHES.get() is None  # and the memo gone with the evaluation

    with iam_policy.remembered_matches():
        memo = iam_policy._MATCHES.get()
        with iam_policy.remembered_matches():  # a block inside another shares its memo
            assert iam_policy._MATCHES.get() is memo
            assert iam_policy._recall(iam_policy._resource_covers, "arn:aws:ec2:*", arn("subnet/subnet-1"))
        assert (iam_policy._resource_covers, "arn:aws:ec2:*", arn("subnet/subnet-1")) in memo
    assert iam_policy._MATCHES.get() is None
