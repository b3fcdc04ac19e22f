"""LAMBDA_VPC_ENI_PERMISSIONS: the execution role can create and manage Lambda's network interfaces.

The role is the function's `configuration.role`. Its identity permissions are its inline policies plus
its attached managed policies (AWS managed and customer managed, the default version), limited by its
permissions boundary if it has one. Each action below needs an Allow that applies and no Deny that
applies, read with IAM's semantics (`lambda_vpc_rules.iam_policy`).

| action | resources that must be allowed |
|---|---|
| ec2:CreateNetworkInterface | `arn:P:ec2:R:A:network-interface/*`, `.../subnet/*`, `.../security-group/*` |
| ec2:DescribeNetworkInterfaces | `*` only (the action works only on all resources) |
| ec2:DescribeSubnets | `*` only |
| ec2:DeleteNetworkInterface | `arn:P:ec2:R:A:network-interface/*` (one ENI ID is not enough) |
| ec2:AssignPrivateIpAddresses | `arn:P:ec2:R:A:network-interface/*` |
| ec2:UnassignPrivateIpAddresses | `arn:P:ec2:R:A:network-interface/*` |

P, R, A: the partition, region and account of the function's ARN (wildcards if it has none).

| situation | verdict |
|---|---|
| function without VPC configuration | NOT_APPLICABLE |
| all six actions allowed, none denied (and, with `FlagOverbroadEc2`, no grant from `ec2:*`, `*` or NotAction) | COMPLIANT |
| any action missing, scoped too narrowly, denied, or outside the boundary | NON_COMPLIANT, lists each failing action and why (missing / resource too narrow / denied / boundary) |
| an Allow with a Condition was the only grant | NON_COMPLIANT (not counted), the annotation says a conditional grant was ignored |
| the role does not exist, or the function names no role | NON_COMPLIANT, says the role is missing |
| an attached or boundary policy cannot be found | NON_COMPLIANT, names the policy |
| a policy document cannot be parsed | NON_COMPLIANT, names the policy |
| `FlagOverbroadEc2` true and a grant comes from `ec2:*`, `*` or a NotAction Allow | NON_COMPLIANT: the function's code gets the same EC2 permissions |
"""  # noqa: E501 (the verdict tables)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam_policy import Policy, PolicyParseError, check_action, parse_policy
from ..model import (
    LAMBDA_RESOURCE_TYPE,
    POLICY_TYPE,
    ROLE_TYPE,
    Fact,
    Facts,
    LambdaFunction,
    Role,
    Verdict,
    compliant,
    join_findings,
    non_compliant,
    role_name_from_arn,
)
from .base import Parameter, Rule, parse_bool

ALL_RESOURCES = ("*",)
# (action, resource types that must be allowed, as ARN suffixes; None: only "*" will do)
REQUIRED_ACTIONS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("ec2:CreateNetworkInterface", ("network-interface/*", "subnet/*", "security-group/*")),
    ("ec2:DescribeNetworkInterfaces", None),
    ("ec2:DescribeSubnets", None),
    ("ec2:DeleteNetworkInterface", ("network-interface/*",)),
    ("ec2:AssignPrivateIpAddresses", ("network-interface/*",)),
    ("ec2:UnassignPrivateIpAddresses", ("network-interface/*",)),
)


def required_resources(function: LambdaFunction) -> dict[str, tuple[str, ...]]:
    partition, region, account = function.partition_region_account or ("*", "*", "*")
    return {
        action: ALL_RESOURCES if suffixes is None else tuple(
            f"arn:{partition}:ec2:{region}:{account}:{suffix}" for suffix in suffixes
        )
        for action, suffixes in REQUIRED_ACTIONS
    }


class _Unreadable(Exception):
    """A policy the role depends on that is missing or cannot be parsed: no verdict but NON_COMPLIANT."""


def _role_policies(role: Role, facts: Facts) -> tuple[list[Policy], list[Policy] | None]:
    def managed(arn: str) -> Policy:
        policy = facts.policies.get(arn)
        if policy is None:
            raise _Unreadable(f"policy {arn} not found")
        try:
            return parse_policy(policy.name, policy.document)
        except PolicyParseError as error:
            raise _Unreadable(f"policy {policy.name} cannot be parsed: {error}") from None

    identity = []
    for name, document in sorted(role.inline_policies.items()):
        try:
            identity.append(parse_policy(f"inline:{name}", document))
        except PolicyParseError as error:
            raise _Unreadable(f"inline policy {name} cannot be parsed: {error}") from None
    identity.extend(managed(arn) for arn in role.attached_policy_arns)
    boundary = [managed(role.permissions_boundary_arn)] if role.permissions_boundary_arn else None
    return identity, boundary


def _role_verdict(role: Role, facts: Facts, resources: dict[str, tuple[str, ...]], flag_overbroad: bool) -> Verdict:
    try:
        identity, boundary = _role_policies(role, facts)
    except _Unreadable as error:
        return non_compliant(f"Role {role.name}: {error}")
    failures, overbroad, conditional = [], [], False
    for action, _ in REQUIRED_ACTIONS:
        result = check_action(identity, boundary, action, resources[action])
        conditional |= result.conditional_grant_ignored
        if not result.allowed:
            failures.append(f"{action} ({result.reason}{': ' + result.detail if result.detail else ''})")
        elif result.overbroad:
            overbroad.append(action)
    note = " [a conditional grant was ignored]" if conditional else ""
    if failures:
        return non_compliant(join_findings([f"Role {role.name} cannot manage ENIs: {failures[0]}", *failures[1:]],
                                           limit=256 - len(note)) + note)
    if flag_overbroad and overbroad:
        what = "all 6 ENI actions" if len(overbroad) == len(REQUIRED_ACTIONS) else ", ".join(overbroad)
        return non_compliant(
            f"FlagOverbroadEc2: role {role.name} grants {what} through ec2:*, * or NotAction; "
            "the function's code gets the same EC2 permissions."
        )
    return compliant(f"Role {role.name} allows all {len(REQUIRED_ACTIONS)} ENI actions on the resources Lambda needs.")


def check_eni_permissions(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    if not function.role_arn:
        return non_compliant("The function names no execution role.")
    role_name = role_name_from_arn(function.role_arn)
    role = facts.roles.get(role_name)
    if role is None:
        return non_compliant(f"Execution role {role_name} not found (missing role).")
    resources = required_resources(function)
    flag = parameters["FlagOverbroadEc2"]
    # Functions sharing a role (and account and region) share its verdict: compute it once per snapshot.
    key = ("eni-permissions", role_name, function.partition_region_account, flag)
    return facts.derived(key, lambda: _role_verdict(role, facts, resources, flag))


ENI_PERMISSIONS = Rule(
    name="lambda-vpc-eni-permissions",
    needs=frozenset({Fact.IAM}),
    check=check_eni_permissions,
    parameters=(
        Parameter(
            "FlagOverbroadEc2",
            "false",
            "true: a role whose ENI grant comes from ec2:*, * or NotAction is NON_COMPLIANT, because the "
            "function's code receives the same EC2 permissions.",
            parse_bool,
        ),
    ),
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, ROLE_TYPE, POLICY_TYPE),
)
