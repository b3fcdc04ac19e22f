"""The reads remediation needs beside the rules' facts: the dedicated instances a tenancy change leaves as they
are, and the state a change touches (read before and after it, for the record). Read-only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from .clients import Clients


def dedicated_instances(clients: Clients, vpc_ids: Iterable[str]) -> dict[str, list[str]]:
    """VPC ID -> the IDs of its instances with dedicated tenancy (Placement.Tenancy), not terminated."""
    vpc_ids = sorted(set(vpc_ids))
    found: dict[str, list[str]] = {vpc_id: [] for vpc_id in vpc_ids}
    if not vpc_ids:
        return found
    for reservation in clients.pages("ec2", "describe_instances", "Reservations",
                                     Filters=[{"Name": "vpc-id", "Values": vpc_ids}]):
        for instance in reservation.get("Instances") or ():
            state = (instance.get("State") or {}).get("Name")
            if (instance.get("Placement") or {}).get("Tenancy") == "dedicated" and state != "terminated":
                found.setdefault(instance.get("VpcId", ""), []).append(instance["InstanceId"])
    return {vpc_id: sorted(ids) for vpc_id, ids in found.items()}


def current_state(clients: Clients, resource: str, plan_before: dict[str, Any]) -> dict[str, Any]:
    """What a change touches, as AWS says it is now: `role/<name>` (the pack's inline policy), `function/<name>`
    (its VPC configuration), `vpc/<id>` (its tenancy)."""
    kind, _, name = resource.partition("/")
    if kind == "role":
        policy = plan_before["PolicyName"]
        try:
            document = clients("iam").get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            document = None
        return {"RoleName": name, "PolicyName": policy, "PolicyDocument": document}
    if kind == "function":
        config = clients("lambda").get_function_configuration(FunctionName=name).get("VpcConfig") or {}
        return {"SubnetIds": sorted(config.get("SubnetIds") or ()),
                "SecurityGroupIds": sorted(config.get("SecurityGroupIds") or ()),
                "Ipv6AllowedForDualStack": config.get("Ipv6AllowedForDualStack")}
    if kind == "vpc":
        vpc = clients("ec2").describe_vpcs(VpcIds=[name])["Vpcs"][0]
        return {"VpcId": name, "InstanceTenancy": vpc.get("InstanceTenancy")}
    raise ValueError(f"unknown resource {resource!r}")
