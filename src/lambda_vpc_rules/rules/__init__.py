"""The rule registry: every rule of the pack, found by its Config rule name or its RDK folder name."""

from __future__ import annotations

from .base import InvalidParameter, Parameter, Rule
from .default_tenancy import DEFAULT_TENANCY
from .eni_permissions import ENI_PERMISSIONS
from .ipv6_dual_stack import IPV6_DUAL_STACK
from .multi_az import MULTI_AZ
from .private_subnet_nat import PRIVATE_SUBNET_NAT

RULES: tuple[Rule, ...] = (ENI_PERMISSIONS, DEFAULT_TENANCY, PRIVATE_SUBNET_NAT, IPV6_DUAL_STACK, MULTI_AZ)


def get_rule(name: str) -> Rule:
    for rule in RULES:
        if name in (rule.config_rule_name, rule.rdk_name):
            return rule
    known = ", ".join(rule.config_rule_name for rule in RULES)
    raise KeyError(f"unknown rule {name!r}; known rules: {known}")


__all__ = ["RULES", "InvalidParameter", "Parameter", "Rule", "get_rule"]
