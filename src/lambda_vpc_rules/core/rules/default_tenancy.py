"""LAMBDA_VPC_DEFAULT_TENANCY: Lambda cannot attach to a VPC with dedicated instance tenancy.

| function | verdict |
|---|---|
| no VPC configuration (no subnets) | NOT_APPLICABLE |
| its VPC has InstanceTenancy default | COMPLIANT |
| its VPC has InstanceTenancy dedicated | NON_COMPLIANT, names the VPC and says dedicated |
| any other tenancy value | NON_COMPLIANT (cannot be established as default) |
| a subnet or the VPC cannot be found | NON_COMPLIANT, says which is missing |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import (
    LAMBDA_RESOURCE_TYPE,
    VPC_TYPE,
    Fact,
    Facts,
    LambdaFunction,
    Verdict,
    compliant,
    join_findings,
    non_compliant,
)
from .base import Rule, function_subnets


def check_default_tenancy(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    subnets, missing_subnets = function_subnets(function, facts)
    findings = [f"subnet {sid} not found" for sid in missing_subnets]
    vpc_ids = sorted({subnet.vpc_id for subnet in subnets})
    good = []
    for vpc_id in vpc_ids:
        vpc = facts.vpcs.get(vpc_id)
        if vpc is None:
            findings.append(f"VPC {vpc_id} not found")
        elif vpc.instance_tenancy == "default":
            good.append(vpc_id)
        elif vpc.instance_tenancy == "dedicated":
            findings.append(
                f"VPC {vpc_id} has dedicated instance tenancy; Lambda cannot attach to it "
                "(peer it with a default-tenancy VPC)"
            )
        else:
            findings.append(f"VPC {vpc_id} has instance tenancy {vpc.instance_tenancy!r}, not default")
    if findings:
        return non_compliant(join_findings(findings))
    return compliant(f"VPC {', '.join(good)} has default instance tenancy.")


DEFAULT_TENANCY = Rule(
    name="lambda-vpc-default-tenancy",
    needs=frozenset({Fact.SUBNETS, Fact.VPCS}),
    check=check_default_tenancy,
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, VPC_TYPE),
)
