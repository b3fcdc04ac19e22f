"""One network estate for the network rules' handler tests (tests/rules/test_private_subnet_nat_handler.py,
tests/rules/test_ipv6_dual_stack_handler.py): `build_network`'s VPC with a function in each situation.

moto never marks a route `blackhole` after its NAT gateway is deleted (the route stays `active`), so the
deleted-NAT case checks that the rule judges the gateway's own state; the blackhole state itself is
covered in the pure-core table tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from unittest import mock

import boto3
from moto import mock_aws

from aws_support import REGION, Estate, build_network, configuration_item
from conftest import FAKE_ENVIRONMENT
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

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


@contextlib.contextmanager
def network_estate() -> Iterator[tuple[dict, dict]]:
    """The estate in a fresh moto, for a module-scoped fixture (no test changes it): (resource IDs, functions)."""
    with mock.patch.dict(os.environ, FAKE_ENVIRONMENT), mock_aws(), moto_as_aws_answers():
        estate = Estate(boto3.Session(region_name=REGION))
        ids = build_network(estate)
        made = {}
        for name, (subnets, ipv6, tags) in FUNCTIONS.items():
            made[name] = estate.function(name, [ids[s] for s in subnets], ipv6=ipv6, tags=tags)
        made["no-vpc"] = estate.function("no-vpc")
        yield ids, made


def item_of(made: dict, function_name: str) -> dict:
    """The function's configuration item, with its tags as AWS Config records them."""
    spec = FUNCTIONS.get(function_name)
    return configuration_item(made[function_name], tags=(spec[2] or {}) if spec else {})
