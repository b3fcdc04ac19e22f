"""The rule registry: every rule of the pack, found by its name or its RDK folder name. Each rule is one
module here with its metadata beside it (`<module>.json`), its verdict table in its docstring."""

from __future__ import annotations

import hashlib
import inspect
import json
from functools import cache

from ... import __version__
from .base import InvalidParameter, Parameter, Rule
from .default_tenancy import DEFAULT_TENANCY
from .eni_permissions import ENI_PERMISSIONS
from .ipv6_dual_stack import IPV6_DUAL_STACK
from .metadata import RuleMetadata, raw_metadata
from .multi_az import MULTI_AZ
from .private_subnet_nat import PRIVATE_SUBNET_NAT

RULES: tuple[Rule, ...] = (ENI_PERMISSIONS, DEFAULT_TENANCY, PRIVATE_SUBNET_NAT, IPV6_DUAL_STACK, MULTI_AZ)


def get_rule(name: str) -> Rule:
    for rule in RULES:
        if name in (rule.config_rule_name, rule.rdk_name):
            return rule
    known = ", ".join(rule.config_rule_name for rule in RULES)
    raise KeyError(f"unknown rule {name!r}; known rules: {known}")


def metadata_for(name: str) -> RuleMetadata:
    return get_rule(name).metadata


@cache
def rule_version(name: str) -> str:
    """The tool version plus a digest of the rule's logic and metadata: what an auditor can pin."""
    rule = get_rule(name)
    digest = hashlib.sha256(inspect.getsource(inspect.getmodule(rule.check)).encode())
    digest.update(json.dumps(raw_metadata(rule.module), sort_keys=True).encode())
    return f"{__version__}+{digest.hexdigest()[:12]}"


__all__ = ["RULES", "InvalidParameter", "Parameter", "Rule", "RuleMetadata", "get_rule", "metadata_for",
           "rule_version"]
