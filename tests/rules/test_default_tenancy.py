"""LAMBDA_VPC_DEFAULT_TENANCY: every row of the rule table, through the pure core."""

from __future__ import annotations

import pytest

from lambda_vpc_rules.core.model import Compliance, Facts, LambdaFunction, Subnet, Vpc
from lambda_vpc_rules.core.rules import get_rule

RULE = get_rule("lambda-vpc-default-tenancy")
FACTS = Facts(
    vpcs={
        "vpc-default": Vpc("vpc-default", "default"),
        "vpc-dedicated": Vpc("vpc-dedicated", "dedicated"),
        "vpc-host": Vpc("vpc-host", "host"),
    },
    subnets={
        "subnet-d1": Subnet("subnet-d1", "vpc-default"),
        "subnet-d2": Subnet("subnet-d2", "vpc-default"),
        "subnet-x1": Subnet("subnet-x1", "vpc-dedicated"),
        "subnet-h1": Subnet("subnet-h1", "vpc-host"),
        "subnet-orphan": Subnet("subnet-orphan", "vpc-gone"),
    },
)


def verdict(*subnets: str):
    return RULE.evaluate(LambdaFunction("fn", subnet_ids=subnets), FACTS, RULE.parse_parameters({}))


@pytest.mark.parametrize(
    ("subnets", "compliance", "words"),
    [
        ((), Compliance.NOT_APPLICABLE, ["not attached to a VPC"]),
        (("subnet-d1", "subnet-d2"), Compliance.COMPLIANT, ["vpc-default", "default"]),
        (("subnet-x1",), Compliance.NON_COMPLIANT, ["vpc-dedicated", "dedicated"]),
        (("subnet-h1",), Compliance.NON_COMPLIANT, ["vpc-host", "'host'"]),
        (("subnet-d1", "subnet-missing"), Compliance.NON_COMPLIANT, ["subnet subnet-missing not found"]),
        (("subnet-orphan",), Compliance.NON_COMPLIANT, ["VPC vpc-gone not found"]),
    ],
    ids=["no-vpc", "default", "dedicated", "unknown-tenancy", "subnet-missing", "vpc-missing"],
)
def test_rule_table(subnets, compliance, words):
    result = verdict(*subnets)
    assert result.compliance is compliance
    for word in words:
        assert word in result.annotation
    assert len(result.annotation) <= 256


def test_a_missing_subnet_is_never_compliant_even_beside_a_good_one():
    assert verdict("subnet-d1", "subnet-missing").compliance is Compliance.NON_COMPLIANT


def test_no_facts_at_all_is_non_compliant():
    result = RULE.evaluate(LambdaFunction("fn", subnet_ids=("subnet-d1",)), Facts(), {})
    assert result.compliance is Compliance.NON_COMPLIANT
    assert "subnet-d1 not found" in result.annotation
