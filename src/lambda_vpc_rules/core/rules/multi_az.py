"""LAMBDA_VPC_MULTI_AZ: a VPC function's subnets span at least `MinAvailabilityZones` Availability Zones.

"Lambda runs your function in multiple Availability Zones [...]. If you configure your function to
connect to a virtual private cloud (VPC) in your account, specify subnets in multiple Availability Zones
to ensure high availability" (https://docs.aws.amazon.com/lambda/latest/dg/security-resilience.html).
Zones are counted by AZ ID (`AvailabilityZoneId` in DescribeSubnets, e.g. `use1-az6`), which names the
same physical zone in every account, while zone names (`us-east-1a`) are mapped per account in the oldest
Regions (https://docs.aws.amazon.com/global-infrastructure/latest/regions/az-ids.html). Within one
account a zone has one name, so both counts agree; the IDs make an annotation mean the same zone in every
account of an organization's evidence.

| situation | verdict |
|---|---|
| function without VPC configuration | NOT_APPLICABLE |
| its subnets' zone IDs number at least `MinAvailabilityZones` (default 2), every subnet found | COMPLIANT, names the zones |
| they number fewer | NON_COMPLIANT, names the zones, their subnets and the minimum |
| several subnets in one zone | one zone (NON_COMPLIANT when that is all) |
| a subnet cannot be found | NON_COMPLIANT, names it, whatever the other subnets span |
| a subnet's zone ID is unknown (absent from the DescribeSubnets answer) and the known zone IDs reach the minimum | COMPLIANT (an unknown zone could only add one), the annotation says whose zone is unknown |
| a subnet's zone ID is unknown and the known zone IDs fall short | NON_COMPLIANT, names the subnet whose zone is unknown (the count cannot be established) |

`MinAvailabilityZones` is a whole number from 1 to 6 in decimal digits; anything else is an invalid
parameter (rdklib's `InvalidParameterValueException` response, no verdicts). 6 is the largest value
Security Hub accepts for Lambda.5; a minimum above the zones a Region has would fail every function. With
1 only the subnet checks remain (found, zone known).

A change to a subnet (its deletion, above all) re-evaluates the functions attached to it (drift.py).

The peers, and where this rule differs:

| peer | behaviour | here |
|---|---|---|
| AWS Config managed rule `lambda-vpc-multi-az-check` (https://docs.aws.amazon.com/config/latest/developerguide/lambda-vpc-multi-az-check.html) | NON_COMPLIANT if only 1 zone is associated with the function, or fewer than the optional `availabilityZones` (int); triggered by configuration changes | same verdict for the same minimum; the parameter is `MinAvailabilityZones` (this pack's naming), default 2; also periodic, and triggered by subnet changes |
| Security Hub control Lambda.5 (https://docs.aws.amazon.com/securityhub/latest/userguide/lambda-controls.html#lambda-5) | that managed rule on functions that connect to a VPC; `availabilityZones` one of 2-6, default 2; severity Medium | same default and severity; also accepts 1 |
| Prowler `awslambda_function_vpc_multi_az` (prowler-cloud/prowler, `prowler/providers/aws/services/awslambda/awslambda_function_vpc_multi_az/`) | counts the zone names of the subnets it finds against `lambda_min_azs` (default 2); a function outside a VPC FAILs (unless `awslambda_function_inside_vpc` already failed it); a subnet it cannot find is left out silently | counts zone IDs; outside a VPC is NOT_APPLICABLE (as in every rule of the pack: "should be in a VPC" is Lambda.3's question); a subnet not found is NON_COMPLIANT and named |

Neither the managed rule nor Security Hub documents what happens to a subnet that is gone or whose zone
cannot be read; this rule never counts a zone it has not seen.
"""  # noqa: E501 (the verdict tables)

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..model import (
    ANNOTATION_LIMIT,
    LAMBDA_RESOURCE_TYPE,
    SUBNET_TYPE,
    Fact,
    Facts,
    LambdaFunction,
    Verdict,
    compliant,
    join_findings,
    non_compliant,
)
from .base import Parameter, Rule, function_subnets, typed

MIN_ZONES_LOWEST, MIN_ZONES_HIGHEST = 1, 6


@typed("integer", tuple(str(n) for n in range(MIN_ZONES_LOWEST, MIN_ZONES_HIGHEST + 1)))
def parse_min_zones(text: str) -> int:
    value = text.strip()
    if not re.fullmatch(r"[0-9]+", value):
        raise ValueError(f"expected a whole number from {MIN_ZONES_LOWEST} to {MIN_ZONES_HIGHEST}")
    number = int(value)
    if not MIN_ZONES_LOWEST <= number <= MIN_ZONES_HIGHEST:
        raise ValueError(f"expected a whole number from {MIN_ZONES_LOWEST} to {MIN_ZONES_HIGHEST}")
    return number


def _listed(names: list[str], limit: int) -> str:
    """`names` joined by ', ', as many as fit in `limit` characters with the rest counted; just the count
    when not even one fits."""
    shown: list[str] = []
    for index, name in enumerate(names):
        rest = len(names) - index - 1
        if len(", ".join([*shown, name]) + (f", +{rest} more" if rest else "")) > limit:
            break
        shown.append(name)
    if not shown:
        return f"{len(names)} subnet{'' if len(names) == 1 else 's'}"
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f", +{rest} more" if rest else "")


def _zone_word(count: int) -> str:
    return "Availability Zone" if count == 1 else "Availability Zones"


def _shortfall(by_zone: dict[str, list[str]], minimum: int) -> str:
    """Too few zones: the count, the minimum, and each zone with as many of its subnets as fit."""
    zones = sorted(by_zone)
    head = f"subnets span {len(zones)} {_zone_word(len(zones))}, fewer than MinAvailabilityZones={minimum}"
    # Room for the subnet names: what AWS Config's annotation leaves after the head, the zone IDs and
    # their separators ("; zone ()"), less room for counting the findings that may follow ("; +16 more").
    room = ANNOTATION_LIMIT - len(head) - len(": ") - sum(len(zone) + len(";  ()") for zone in zones) - 10
    per_zone = room // len(zones)
    return head + ": " + "; ".join(f"{zone} ({_listed(by_zone[zone], per_zone)})" for zone in zones)


def check_multi_az(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    minimum = parameters["MinAvailabilityZones"]
    subnets, missing = function_subnets(function, facts)
    by_zone: dict[str, list[str]] = {}
    unknown = []
    for subnet in subnets:
        if subnet.availability_zone_id:
            by_zone.setdefault(subnet.availability_zone_id, []).append(subnet.subnet_id)
        else:
            unknown.append(subnet.subnet_id)
    findings = []
    if len(by_zone) < minimum:
        if by_zone:  # with no zone seen, the subnets not found or of unknown zone say it all
            findings.append(_shortfall(by_zone, minimum))
        findings += [f"subnet {sid}: Availability Zone ID unknown" for sid in unknown]
    findings += [f"subnet {sid} not found" for sid in missing]
    if findings:
        return non_compliant(join_findings(findings))
    zones = sorted(by_zone)
    note = f"; zone ID of {_listed(unknown, 60)} unknown" if unknown else ""
    return compliant(
        f"Subnets span {len(zones)} {_zone_word(len(zones))} ({', '.join(zones)}); "
        f"MinAvailabilityZones={minimum}{note}."
    )


MULTI_AZ = Rule(
    name="lambda-vpc-multi-az",
    needs=frozenset({Fact.SUBNETS}),
    check=check_multi_az,
    parameters=(
        Parameter(
            "MinAvailabilityZones",
            "2",
            "The fewest Availability Zones (by zone ID) a function's subnets must span: 1 to 6.",
            parse_min_zones,
        ),
    ),
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, SUBNET_TYPE),
)
