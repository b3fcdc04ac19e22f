"""Remediation plans: for a function a rule finds NON_COMPLIANT, the change that fixes it, or why the pack will
not make one. Pure, over the same model data the rules judge; every plan is proven by the rule itself: the
function as it would be after the change is evaluated again and must come out COMPLIANT, or there is no plan.

| rule | the change | when there is none (REFUSED) | mode |
|---|---|---|---|
| lambda-vpc-eni-permissions | an inline policy `lambda-vpc-rules-eni-<function>` on the execution role (iam:PutRolePolicy): the two Describe actions on `*` (no resource-level permissions [VPC]); CreateNetworkInterface on `network-interface/*` (the interface being created), the function's own subnets and security groups (none listed: `security-group/*` with `ec2:Vpc` = its VPC) [SAR]; Delete/Assign/Unassign on `network-interface/eni-*` with `ec2:Subnet` = its own subnets [IDS] [SAR]; and the guard [SRC]: Deny the four write actions when `lambda:SourceFunctionArn` is the function's ARN (its code), which Lambda's own calls do not carry | the role with the policy would still not be COMPLIANT: an explicit Deny or the permissions boundary blocks (a person decides), an unreadable policy, `FlagOverbroadEc2` and an `ec2:*` grant; the role or a subnet is missing; the function has no ARN; the role's inline policies would pass IAM's 10,240 characters [IAMQ] | automatic allowed |
| lambda-vpc-ipv6-dual-stack | `Ipv6AllowedForDualStack` set to what the subnets support: true when every subnet is dual-stack, else false (lambda:UpdateFunctionConfiguration, VpcConfig with the same subnets and groups) [lambda-ipv6] | an IPv6-only or missing subnet (the subnets must change); the setting already says that (the finding is the IPv6 egress: routes) | automatic allowed |
| lambda-vpc-default-tenancy | ec2:ModifyVpcTenancy of the VPC to `default`; its dedicated instances keep their tenancy, listed before the change [TEN] | a VPC whose tenancy is not `dedicated` (`host` cannot be changed that way), or the VPC or a subnet missing | manual only: a whole VPC changes |
| lambda-vpc-private-subnet-nat, lambda-vpc-multi-az | PROPOSED: subnets of the same VPC with which the function passes the rule (private with egress; other zones that are private too); applied only with the operator's choice, which is validated the same way | no subnet of the VPC passes | operator's choice only |

[VPC]: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
[SRC]: https://docs.aws.amazon.com/lambda/latest/dg/permissions-source-function-arn.html
[SAR]: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
[IDS]: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html
[IAMQ]: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (role policy size)
[lambda-ipv6]: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-ipv6
[TEN]: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcTenancy.html ("You can only change
the tenancy from dedicated to default"; existing instances keep theirs)
"""  # noqa: E501 (the table)

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import Compliance, Facts, LambdaFunction, Role, Verdict, role_name_from_arn
from .rules import Rule, get_rule
from .rules.eni_requests import DESCRIBE_ACTIONS, MADE_INTERFACE, ON_INTERFACE_ACTIONS, WRITE_ACTIONS

ENI, IPV6, TENANCY = "lambda-vpc-eni-permissions", "lambda-vpc-ipv6-dual-stack", "lambda-vpc-default-tenancy"
PRIVATE, MULTI_AZ = "lambda-vpc-private-subnet-nat", "lambda-vpc-multi-az"
REMEDIABLE_RULES = (ENI, IPV6, TENANCY, PRIVATE, MULTI_AZ)
POLICY_PREFIX = "lambda-vpc-rules-eni-"
ROLE_POLICY_SIZE_LIMIT = 10_240  # IAM: all inline policies of a role, characters without whitespace


class Status(enum.StrEnum):
    PLANNED = "planned"  # a change the document (or the executor) makes
    PROPOSED = "proposed"  # subnets proposed: applied only with the operator's choice
    REFUSED = "refused"  # no safe change: a person decides, `reason` says why
    EXCEPTED = "excepted"  # the function is excepted: never remediated


class Mode(enum.StrEnum):
    AUTOMATIC_ALLOWED = "automatic allowed"  # manual by default; `deploy --remediation automatic` may opt in
    MANUAL_ONLY = "manual only"
    OPERATOR_CHOICE = "operator's choice"


MODES = {ENI: Mode.AUTOMATIC_ALLOWED, IPV6: Mode.AUTOMATIC_ALLOWED, TENANCY: Mode.MANUAL_ONLY,
         PRIVATE: Mode.OPERATOR_CHOICE, MULTI_AZ: Mode.OPERATOR_CHOICE}


def document_name(rule_name: str) -> str:
    """The SSM Automation document of a rule: `LambdaVpcRules-EniPermissions`."""
    return "LambdaVpcRules-" + get_rule(rule_name).logical_id.removeprefix("LambdaVpc")


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call of a change: service (boto3's name), operation (the API's name) and its parameters."""

    service: str
    operation: str
    parameters: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "parameters": dict(self.parameters)}


@dataclass(frozen=True)
class Plan:
    rule: str
    function: str
    status: Status
    summary: str  # what changes, or why nothing does
    mode: Mode
    document: str
    resource: str = ""  # what the change touches: role/<name>, function/<name>, vpc/<id>
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    calls: tuple[ApiCall, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. the dedicated instances a tenancy change leaves as they are
    candidates: tuple[str, ...] = ()  # PROPOSED: the subnets of the VPC that pass the rule

    @property
    def is_change(self) -> bool:
        return self.status in (Status.PLANNED, Status.PROPOSED)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "function": self.function, "status": self.status.value, "summary": self.summary,
                "mode": self.mode.value, "document": self.document, "resource": self.resource,
                "before": dict(self.before), "after": dict(self.after), "calls": [c.as_dict() for c in self.calls],
                "notes": list(self.notes), "candidates": list(self.candidates)}


@dataclass(frozen=True)
class Context:
    """What planning needs beside the facts: each rule's parsed parameters (by rule name), the dedicated
    instances of each VPC read (None: not read), and the operator's subnet choice per function."""

    parameters: Mapping[str, Mapping[str, Any]]
    dedicated_instances: Mapping[str, Sequence[str]] | None = None
    subnet_choices: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _plan(rule: str, function: LambdaFunction, status: Status, summary: str, **rest: Any) -> Plan:
    return Plan(rule, function.name, status, summary, MODES[rule], document_name(rule), **rest)


def _refused(rule: str, function: LambdaFunction, why: str) -> Plan:
    return _plan(rule, function, Status.REFUSED, why)


def changed_facts(facts: Facts, **changes: Any) -> Facts:
    """The facts with some changed, and nothing computed from the old ones (`Facts.derived` caches verdicts)."""
    return dataclasses.replace(facts, **changes, _derived={})


def _verdict(rule_name: str, function: LambdaFunction, facts: Facts, context: Context) -> Verdict:
    rule = get_rule(rule_name)
    return rule.evaluate(function, facts, context.parameters[rule_name])


# ------------------------------------------------------------------------------------------------ ENI


def _arn_prefix(function: LambdaFunction, service: str = "ec2") -> str | None:
    where = function.partition_region_account
    return f"arn:{where[0]}:{service}:{where[1]}:{where[2]}" if where else None


def eni_policy(function: LambdaFunction, facts: Facts) -> dict[str, Any]:
    """The least-privilege ENI policy for this function (the ENI row of the module table). The function must
    have an ARN and its subnets must be found."""
    ec2 = _arn_prefix(function)
    subnets = [f"{ec2}:subnet/{subnet_id}" for subnet_id in function.subnet_ids]
    vpc_id = facts.subnets[function.subnet_ids[0]].vpc_id
    groups = [f"{ec2}:security-group/{group}" for group in dict.fromkeys(function.security_group_ids)]
    statements: list[dict[str, Any]] = [
        {"Sid": "DescribeHasNoResourceLevelPermissions", "Effect": "Allow", "Action": list(DESCRIBE_ACTIONS),
         "Resource": "*"},
        {"Sid": "CreateInOwnSubnetsAndGroups", "Effect": "Allow", "Action": "ec2:CreateNetworkInterface",
         "Resource": [f"{ec2}:network-interface/*", *subnets, *groups]},
    ]
    if not groups:  # none listed: Lambda uses the VPC's default group, whose ID is not read
        statements.append({"Sid": "CreateWithTheVpcsDefaultGroup", "Effect": "Allow",
                           "Action": "ec2:CreateNetworkInterface", "Resource": f"{ec2}:security-group/*",
                           "Condition": {"ArnEquals": {"ec2:Vpc": f"{ec2}:vpc/{vpc_id}"}}})
    statements += [
        {"Sid": "ManageLambdaEnisInOwnSubnets", "Effect": "Allow", "Action": list(ON_INTERFACE_ACTIONS),
         "Resource": f"{ec2}:{MADE_INTERFACE}", "Condition": {"ArnEquals": {"ec2:Subnet": subnets}}},
        {"Sid": "NotFromTheFunctionsCode", "Effect": "Deny", "Action": list(WRITE_ACTIONS), "Resource": "*",
         "Condition": {"ArnEquals": {"lambda:SourceFunctionArn": function.arn}}},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_characters(document: Any) -> int:
    """Characters IAM counts for a policy: its JSON without whitespace."""
    text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    return sum(1 for character in text if not character.isspace())


def with_inline_policy(role: Role, name: str, document: Mapping[str, Any]) -> Role:
    return dataclasses.replace(role, inline_policies={**role.inline_policies, name: document})


def plan_eni_permissions(function: LambdaFunction, facts: Facts, context: Context) -> Plan:
    if not function.arn or function.partition_region_account is None:
        return _refused(ENI, function, "the function's ARN is not known: no policy can name its resources")
    if not function.role_arn:
        return _refused(ENI, function, "the function names no execution role")
    role = facts.roles.get(role_name_from_arn(function.role_arn))
    if role is None:
        return _refused(ENI, function, f"execution role {role_name_from_arn(function.role_arn)} not found")
    missing = [sid for sid in function.subnet_ids if sid not in facts.subnets]
    if missing:
        return _refused(ENI, function, f"subnet {', '.join(missing)} not found: fix the function's subnets first")
    name = (POLICY_PREFIX + function.name)[:128]
    document = eni_policy(function, facts)
    others = sum(policy_characters(doc) for key, doc in role.inline_policies.items() if key != name)
    if others + policy_characters(document) > ROLE_POLICY_SIZE_LIMIT:
        return _refused(ENI, function, f"role {role.name}: its inline policies would pass IAM's "
                        f"{ROLE_POLICY_SIZE_LIMIT:,} characters; a person decides")
    after = with_inline_policy(role, name, document)
    verdict = _verdict(ENI, function, changed_facts(facts, roles={**facts.roles, role.name: after}), context)
    if verdict.compliance is not Compliance.COMPLIANT:
        blocked = ("an explicit Deny" if "denied" in verdict.annotation else
                   "the permissions boundary" if "boundary" in verdict.annotation else "its other policies")
        return _refused(ENI, function, f"with the least-privilege policy the role would still fail ({blocked}; "
                        f"a person decides): {verdict.annotation}")
    before = role.inline_policies.get(name)
    text = json.dumps(document, separators=(",", ":"))
    return _plan(ENI, function, Status.PLANNED,
                 f"put inline policy {name} on role {role.name}: the 6 ENI actions on its own subnets "
                 f"({len(function.subnet_ids)}) and security groups ({len(function.security_group_ids)}), "
                 "ENI writes denied to the function's code",
                 resource=f"role/{role.name}", before={"RoleName": role.name, "PolicyName": name,
                                                       "PolicyDocument": before},
                 after={"RoleName": role.name, "PolicyName": name, "PolicyDocument": document},
                 calls=(ApiCall("iam", "PutRolePolicy", {"RoleName": role.name, "PolicyName": name,
                                                         "PolicyDocument": text}),))


# ------------------------------------------------------------------------------------------------ IPv6


def _vpc_config(function: LambdaFunction, subnet_ids: Sequence[str], ipv6: bool | None) -> dict[str, Any]:
    config: dict[str, Any] = {"SubnetIds": list(subnet_ids), "SecurityGroupIds": list(function.security_group_ids)}
    if ipv6 is not None:
        config["Ipv6AllowedForDualStack"] = ipv6
    return config


def plan_ipv6(function: LambdaFunction, facts: Facts, context: Context) -> Plan:
    subnets = [facts.subnets.get(sid) for sid in function.subnet_ids]
    if None in subnets:
        return _refused(IPV6, function, "a subnet of the function is not found: its subnets must change")
    if any(subnet.ipv6_only for subnet in subnets):
        return _refused(IPV6, function, "an IPv6-only subnet: Lambda does not support it, the subnets must change")
    target = all(subnet.dual_stack for subnet in subnets)
    current = bool(function.ipv6_allowed_for_dual_stack)
    if target == current:
        return _refused(IPV6, function, f"Ipv6AllowedForDualStack is already {str(current).lower()}: the finding "
                        "is about IPv6 egress (routes), a person decides")
    after = dataclasses.replace(function, ipv6_allowed_for_dual_stack=target)
    verdict = _verdict(IPV6, after, facts, context)
    if verdict.compliance is not Compliance.COMPLIANT:
        return _refused(IPV6, function, f"setting Ipv6AllowedForDualStack to {str(target).lower()} would not be "
                        f"enough: {verdict.annotation}")
    why = "every subnet is dual-stack" if target else "not every subnet is dual-stack"
    return _plan(IPV6, function, Status.PLANNED,
                 f"set Ipv6AllowedForDualStack to {str(target).lower()} ({why})", resource=f"function/{function.name}",
                 before={"Ipv6AllowedForDualStack": function.ipv6_allowed_for_dual_stack},
                 after={"Ipv6AllowedForDualStack": target},
                 calls=(ApiCall("lambda", "UpdateFunctionConfiguration", {
                     "FunctionName": function.name,
                     "VpcConfig": _vpc_config(function, function.subnet_ids, target)}),))


# ------------------------------------------------------------------------------------------------ tenancy


def plan_tenancy(function: LambdaFunction, facts: Facts, context: Context) -> Plan:
    subnets = [facts.subnets.get(sid) for sid in function.subnet_ids]
    if None in subnets:
        return _refused(TENANCY, function, "a subnet of the function is not found: its VPC cannot be established")
    vpc_ids = sorted({subnet.vpc_id for subnet in subnets})
    if len(vpc_ids) != 1:
        return _refused(TENANCY, function, f"subnets in {len(vpc_ids)} VPCs: a person decides")
    vpc = facts.vpcs.get(vpc_ids[0])
    if vpc is None:
        return _refused(TENANCY, function, f"VPC {vpc_ids[0]} not found")
    if vpc.instance_tenancy != "dedicated":
        return _refused(TENANCY, function, f"VPC {vpc.vpc_id} has tenancy {vpc.instance_tenancy!r}: ModifyVpcTenancy "
                        "changes only dedicated to default")
    default = dataclasses.replace(vpc, instance_tenancy="default")
    after = changed_facts(facts, vpcs={**facts.vpcs, vpc.vpc_id: default})
    verdict = _verdict(TENANCY, function, after, context)
    if verdict.compliance is not Compliance.COMPLIANT:
        return _refused(TENANCY, function, f"default tenancy would not be enough: {verdict.annotation}")
    if context.dedicated_instances is None:
        instances = None
        note = "the VPC's dedicated instances were not read: read them before the change"
    else:
        instances = sorted(context.dedicated_instances.get(vpc.vpc_id, ()))
        note = (f"{len(instances)} dedicated instance(s) keep their tenancy: {', '.join(instances)}" if instances
                else "no dedicated instance runs in the VPC")
    return _plan(TENANCY, function, Status.PLANNED,
                 f"change VPC {vpc.vpc_id} tenancy from dedicated to default (new instances only)",
                 resource=f"vpc/{vpc.vpc_id}", before={"VpcId": vpc.vpc_id, "InstanceTenancy": "dedicated"},
                 after={"VpcId": vpc.vpc_id, "InstanceTenancy": "default", "DedicatedInstancesUnchanged": instances},
                 calls=(ApiCall("ec2", "ModifyVpcTenancy", {"VpcId": vpc.vpc_id, "InstanceTenancy": "default"}),),
                 notes=(note,))


# ------------------------------------------------------------------------------------------------ subnets


def _passes(rule_name: str, function: LambdaFunction, subnet_ids: Sequence[str], facts: Facts,
            context: Context) -> bool:
    changed = dataclasses.replace(function, subnet_ids=tuple(subnet_ids))
    return _verdict(rule_name, changed, facts, context).compliance is Compliance.COMPLIANT


def _fits(function: LambdaFunction, subnet_id: str, facts: Facts, context: Context) -> bool:
    """A subnet a function could move to: it has IPv4, IPv6 too when the function uses it, and it is private
    with egress for this function (when the private-subnet rule's parameters are given)."""
    subnet = facts.subnets[subnet_id]
    if subnet.ipv4_cidr_block is None or (function.ipv6_allowed_for_dual_stack and not subnet.dual_stack):
        return False
    return PRIVATE not in context.parameters or _passes(PRIVATE, function, (subnet_id,), facts, context)


def _zone(facts: Facts, subnet_id: str) -> str | None:
    subnet = facts.subnets.get(subnet_id)
    return subnet.availability_zone_id if subnet else None


def _proposal(rule_name: str, function: LambdaFunction, facts: Facts, context: Context) -> list[str] | str:
    """Subnets of the function's VPC with which it passes the rule (its own good ones kept), or why none."""
    vpc_ids = {facts.subnets[sid].vpc_id for sid in function.subnet_ids if sid in facts.subnets}
    if len(vpc_ids) != 1:
        return "the function's VPC cannot be established from its subnets"
    vpc_id = vpc_ids.pop()
    candidates = [sid for sid, subnet in sorted(facts.subnets.items())
                  if subnet.vpc_id == vpc_id and _fits(function, sid, facts, context)]
    if not candidates:
        return f"no subnet of VPC {vpc_id} passes {PRIVATE}: a person decides"
    chosen = [sid for sid in function.subnet_ids if sid in candidates]  # its own good subnets stay
    zones = {_zone(facts, sid) for sid in chosen}
    if rule_name == PRIVATE:  # a private subnet in each zone the function had, at least one
        wanted = {_zone(facts, sid) for sid in function.subnet_ids}
        for sid in candidates:
            if _zone(facts, sid) in wanted - zones:
                chosen.append(sid)
                zones.add(_zone(facts, sid))
        chosen = chosen or candidates[:1]
    else:  # one more private subnet per new zone, until the minimum is met
        for sid in candidates:
            if _passes(MULTI_AZ, function, chosen, facts, context):
                break
            if _zone(facts, sid) not in zones:
                chosen.append(sid)
                zones.add(_zone(facts, sid))
    if not _passes(rule_name, function, chosen, facts, context):
        return f"no set of subnets of VPC {vpc_id} passes {rule_name}: a person decides"
    return chosen


def plan_subnets(rule_name: str, function: LambdaFunction, facts: Facts, context: Context) -> Plan:
    choice = context.subnet_choices.get(function.name)
    if choice is not None:
        return _chosen(rule_name, function, list(dict.fromkeys(choice)), facts, context)
    proposal = _proposal(rule_name, function, facts, context)
    if isinstance(proposal, str):
        return _refused(rule_name, function, proposal)
    vpc_id = facts.subnets[proposal[0]].vpc_id
    candidates = tuple(sid for sid, s in sorted(facts.subnets.items())
                       if s.vpc_id == vpc_id and _fits(function, sid, facts, context))
    return _plan(rule_name, function, Status.PROPOSED,
                 f"proposed subnets {', '.join(proposal)} (same VPC {vpc_id}); applied only with the operator's "
                 "choice", resource=f"function/{function.name}", before={"SubnetIds": list(function.subnet_ids)},
                 after={"SubnetIds": proposal}, candidates=candidates,
                 notes=("choose: remediate --subnets " + f"{function.name}={','.join(proposal)}",))


def _chosen(rule_name: str, function: LambdaFunction, chosen: list[str], facts: Facts, context: Context) -> Plan:
    unknown = [sid for sid in chosen if sid not in facts.subnets]
    if not chosen or unknown:
        return _refused(rule_name, function, f"chosen subnets not found: {', '.join(unknown) or 'none chosen'}")
    own = {facts.subnets[sid].vpc_id for sid in function.subnet_ids if sid in facts.subnets}
    theirs = {facts.subnets[sid].vpc_id for sid in chosen}
    if len(theirs) != 1 or (own and theirs != own):
        return _refused(rule_name, function, "the chosen subnets are not all in the function's VPC")
    failing = [r for r in dict.fromkeys((rule_name, PRIVATE)) if r in context.parameters
               and not _passes(r, function, chosen, facts, context)]
    if failing:
        return _refused(rule_name, function, f"with the chosen subnets the function fails {', '.join(failing)}")
    return _plan(rule_name, function, Status.PLANNED, f"move to subnets {', '.join(chosen)} (the operator's choice)",
                 resource=f"function/{function.name}", before={"SubnetIds": list(function.subnet_ids)},
                 after={"SubnetIds": chosen},
                 calls=(ApiCall("lambda", "UpdateFunctionConfiguration", {
                     "FunctionName": function.name,
                     "VpcConfig": _vpc_config(function, chosen, function.ipv6_allowed_for_dual_stack)}),))


PLANNERS: Mapping[str, Callable[[LambdaFunction, Facts, Context], Plan]] = {
    ENI: plan_eni_permissions,
    IPV6: plan_ipv6,
    TENANCY: plan_tenancy,
    PRIVATE: lambda function, facts, context: plan_subnets(PRIVATE, function, facts, context),
    MULTI_AZ: lambda function, facts, context: plan_subnets(MULTI_AZ, function, facts, context),
}


def plan(rule: Rule | str, function: LambdaFunction, facts: Facts, context: Context,
         excepted: Callable[[str, LambdaFunction], bool] | None = None) -> Plan | None:
    """The plan for a function under a rule: None when the rule does not find it NON_COMPLIANT. `excepted`
    (rule name, function) -> True marks a function the exceptions register excepts: never remediated."""
    name = rule if isinstance(rule, str) else rule.config_rule_name
    if _verdict(name, function, facts, context).compliance is not Compliance.NON_COMPLIANT:
        return None
    if excepted is not None and excepted(name, function):
        return _plan(name, function, Status.EXCEPTED, "excepted: never remediated")
    return PLANNERS[name](function, facts, context)
