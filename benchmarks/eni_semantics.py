"""Old vs new verdicts of lambda-vpc-eni-permissions on generated role shapes.

    python benchmarks/eni_semantics.py [--old-rev REV] [--cases N] [--seed S]

Generates N role shapes (seeded, so both runs see the same ones): Allow/Deny, NotAction/NotResource,
wildcards, policy variables, permissions boundaries and conditions (known keys that hold or not, unknown
keys, AWS's lambda:SourceFunctionArn guard, region locks), on a function with one or two subnets and
zero or one security group. Each shape is evaluated, with the default parameters, by the rule as of
REV (default: the commit before this work, 840811c; extracted with `git archive` into a temporary
directory) and by the rule in this tree, each in its own interpreter (`--emit FILE`), then the verdicts
are compared: the share that changed, and why, grouped by the reason the old annotation gave and the
kind of statement it named (every generated statement has a Sid saying what it is).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGION, ACCOUNT = "us-east-1", "123456789012"
EC2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
SUBNETS = ("subnet-0a1", "subnet-0b2")
GROUP = "sg-0c3"
VPC = "vpc-0d4"
MANAGED = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
ON_ENI = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
CREATE = "ec2:CreateNetworkInterface"
SIX = [CREATE, *DESCRIBE, *ON_ENI]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

ACTIONS = {  # kind -> Action value
    "six": SIX, "ec2star": "ec2:*", "star": "*", "eniwild": "ec2:*NetworkInterface*", "describe": "ec2:Describe*",
    "create": CREATE, "onenis": ON_ENI, "write": [CREATE, *ON_ENI], "logs": "logs:*",
}


def resources(subnets: tuple[str, ...], group: str | None) -> dict[str, object]:
    own = [f"{EC2}:network-interface/*", *(f"{EC2}:subnet/{s}" for s in subnets),
           *([f"{EC2}:security-group/{group}"] if group else [])]
    return {  # kind -> Resource value
        "any": "*", "ec2any": "arn:aws:ec2:*", "typed": [f"{EC2}:network-interface/*", f"{EC2}:subnet/*",
                                                         f"{EC2}:security-group/*"],
        "allids": f"{EC2}:*/*", "own": own, "eniprefix": f"{EC2}:network-interface/eni-*",
        "oneeni": f"{EC2}:network-interface/eni-0123456789abcdef0", "othersubnet": f"{EC2}:subnet/subnet-9z9",
        "otherregion": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:*", "username": f"{EC2}:network-interface/${{aws:username}}",
        "tagvar": f"{EC2}:subnet/${{aws:PrincipalTag/subnets}}*", "subnetstar": f"{EC2}:subnet/*",
        # an entry whose variable has no value in the role's session, beside one that matches
        "usermixed": [f"{EC2}:network-interface/${{aws:username}}", f"{EC2}:network-interface/*"],
        "tagmixed": [f"{EC2}:subnet/${{aws:PrincipalTag/none}}", f"{EC2}:subnet/*", "*"],
    }


CONDITIONS = {  # kind -> Condition value
    "regionown": {"StringEquals": {"aws:RequestedRegion": REGION}},
    "regionother": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    "locklists": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", REGION]}},
    "lockexcludes": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}},
    "account": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    "tagmatch": {"StringEquals": {"aws:PrincipalTag/team": "payments"}},
    "tagmismatch": {"StringEquals": {"aws:PrincipalTag/team": "search"}},
    "vpcifexists": {"StringEqualsIfExists": {"ec2:Vpc": f"{EC2}:vpc/{VPC}"}},
    "vpcplain": {"StringEquals": {"ec2:Vpc": f"{EC2}:vpc/{VPC}"}},
    "ownsubnets": {"ForAllValues:StringEquals": {"ec2:SubnetID": list(SUBNETS), "ec2:SecurityGroupID": [GROUP]}},
    "subnettier": {"StringEquals": {"ec2:ResourceTag/tier": "app"}},
    "guardarn": {"ArnEquals": {"lambda:SourceFunctionArn": FUNCTION_ARN}},
    "guardnull": {"Null": {"lambda:SourceFunctionArn": "false"}},
    "sourceip": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    "notsourceip": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    "mfa": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    "future": {"DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}},
    "past": {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    "principalarn": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
    "vpcarn": {"ArnEquals": {"ec2:Vpc": f"{EC2}:vpc/{VPC}"}},
    "ec2region": {"StringEquals": {"ec2:Region": REGION}},
    "groupsifexists": {"StringEqualsIfExists": {"ec2:SecurityGroupID": [GROUP]}},
}
ALLOW_CONDITIONS = ["regionown", "regionother", "account", "tagmatch", "tagmismatch", "vpcifexists", "vpcplain",
                    "ownsubnets", "subnettier", "sourceip", "future", "past", "principalarn", "mfa", "vpcarn",
                    "ec2region", "groupsifexists"]
DENY_CONDITIONS = ["locklists", "lockexcludes", "guardarn", "guardnull", "notsourceip", "mfa", "tagmismatch",
                   "regionother", "past", "regionown"]


@dataclasses.dataclass
class Case:
    statements: list[dict]
    managed: bool
    boundary: list[dict] | None
    subnets: tuple[str, ...]
    group: str | None


def _statement(rng: random.Random, index: int, effect: str, subnets, group) -> dict:
    action_kind = rng.choice(list(ACTIONS))
    not_action = effect == "Deny" and rng.random() < 0.1 or effect == "Allow" and rng.random() < 0.05
    pool = resources(subnets, group)
    resource_kind = rng.choice(list(pool))
    not_resource = rng.random() < 0.08
    conditional = rng.random() < (0.45 if effect == "Allow" else 0.7)
    condition_kind = rng.choice(ALLOW_CONDITIONS if effect == "Allow" else DENY_CONDITIONS) if conditional else "none"
    sid = "Q".join((f"{effect}{index}", action_kind, "NA" if not_action else "A", resource_kind,
                    "NR" if not_resource else "R", condition_kind))
    statement = {"Sid": sid, "Effect": effect,
                 ("NotAction" if not_action else "Action"): "iam:*" if not_action else ACTIONS[action_kind],
                 ("NotResource" if not_resource else "Resource"): pool[resource_kind]}
    if conditional:
        statement["Condition"] = CONDITIONS[condition_kind]
    return statement


def _base(rng: random.Random, subnets, group) -> tuple[list[dict], bool]:
    pool = resources(subnets, group)
    kind = rng.choice(["none", "managed", "six", "least", "typed", "least", "eniprefix"])
    if kind == "managed":
        return [], True
    grants = {
        "none": [],
        "six": [{"Sid": "Base0QsixQAQanyQRQnone", "Effect": "Allow", "Action": SIX, "Resource": "*"}],
        "least": [{"Sid": "Base0QdescribeQAQanyQRQnone", "Effect": "Allow", "Action": DESCRIBE, "Resource": "*"},
                  {"Sid": "Base1QcreateQAQownQRQnone", "Effect": "Allow", "Action": CREATE, "Resource": pool["own"]},
                  {"Sid": "Base2QonenisQAQeniprefixQRQnone", "Effect": "Allow", "Action": ON_ENI,
                   "Resource": pool["eniprefix"]}],
        "typed": [{"Sid": "Base0QdescribeQAQanyQRQnone", "Effect": "Allow", "Action": DESCRIBE, "Resource": "*"},
                  {"Sid": "Base1QwriteQAQtypedQRQnone", "Effect": "Allow", "Action": [CREATE, *ON_ENI],
                   "Resource": pool["typed"]}],
        "eniprefix": [{"Sid": "Base0QdescribeQAQanyQRQnone", "Effect": "Allow", "Action": DESCRIBE, "Resource": "*"},
                      {"Sid": "Base1QwriteQAQeniprefixQRQnone", "Effect": "Allow", "Action": [CREATE, *ON_ENI],
                       "Resource": [pool["eniprefix"], *pool["own"][1:]]}],
    }
    return grants[kind], False


def generate(count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        subnets = SUBNETS[: rng.choice([1, 2])]
        group = GROUP if rng.random() < 0.8 else None
        statements, managed = _base(rng, subnets, group)
        for index in range(rng.choice([0, 1, 1, 2, 2, 3])):
            effect = "Deny" if rng.random() < 0.4 else "Allow"
            statements.append(_statement(rng, index + 1, effect, subnets, group))
        boundary = None
        if rng.random() < 0.15:
            boundary = [rng.choice([
                {"Effect": "Allow", "Action": ["ec2:*", "logs:*"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["ec2:Describe*", "logs:*"], "Resource": "*"},
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": CONDITIONS["regionown"]},
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": CONDITIONS["sourceip"]},
            ])]
        cases.append(Case(statements, managed, boundary, subnets, group))
    return cases


def emit(count: int, seed: int, path: Path) -> None:
    """Evaluate every case with the lambda_vpc_rules on sys.path; write [[compliance, annotation], ...]."""
    from lambda_vpc_rules.core.model import Facts, LambdaFunction, ManagedPolicy, Role, Subnet
    from lambda_vpc_rules.core.rules import get_rule

    rule = get_rule("lambda-vpc-eni-permissions")
    parameters = rule.parse_parameters({})
    guarded = None
    if "RequireFunctionCodeGuard" in {parameter.name for parameter in rule.parameters}:
        guarded = rule.parse_parameters({"RequireFunctionCodeGuard": "true"})
    managed_doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSLambdaVPCAccessExecutionPermissions", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", *SIX], "Resource": "*"}]}
    boundary_arn = f"arn:aws:iam::{ACCOUNT}:policy/boundary"
    subnets = {s: Subnet(s, VPC, availability_zone=f"{REGION}a", tags={"tier": "app"}) for s in SUBNETS}
    extra = {"evaluated_at": NOW} if "evaluated_at" in {f.name for f in dataclasses.fields(Facts)} else {}
    results = []
    for case in generate(count, seed):
        policies = {MANAGED: ManagedPolicy(MANAGED, "AWSLambdaVPCAccessExecutionRole", managed_doc)}
        if case.boundary:
            policies[boundary_arn] = ManagedPolicy(boundary_arn, "boundary",
                                                   {"Version": "2012-10-17", "Statement": case.boundary})
        role = Role("r", f"arn:aws:iam::{ACCOUNT}:role/r",
                    {"p": {"Version": "2012-10-17", "Statement": case.statements}} if case.statements else {},
                    (MANAGED,) if case.managed else (), boundary_arn if case.boundary else None,
                    tags={"team": "payments", "subnets": "subnet-"})
        function = LambdaFunction("fn", arn=FUNCTION_ARN, role_arn=role.arn, subnet_ids=case.subnets,
                                  security_group_ids=(case.group,) if case.group else ())
        facts = Facts(subnets=subnets, roles={"r": role}, policies=policies, **extra)
        verdict = rule.evaluate(function, facts, parameters)
        guard = rule.evaluate(function, facts, guarded).compliance.value if guarded else None
        results.append([verdict.compliance.value, verdict.annotation, guard])
    path.write_text(json.dumps(results), encoding="utf-8")


OLD_REASON = re.compile(r"(\bec2:\w+) \((missing|resource too narrow|denied|boundary)(?:: ([^)\[]*))?")
NEW_REASON = re.compile(r"\((denied|boundary|condition unknown|variable without value|condition not met|"
                        r"resource too narrow|missing)(?:: ([^)]*))?")
SID = re.compile(r"[/#]((?:Allow|Deny|Base)\d+Q[a-z0-9]+Q[A-Z]+Q[a-z0-9]+Q[A-Z]+Q[a-z]+)")
DENY_CONDITIONS_WHY = {
    "guardarn": "AWS's lambda:SourceFunctionArn guard (absent in Lambda's calls)",
    "guardnull": "AWS's lambda:SourceFunctionArn guard (absent in Lambda's calls)",
    "locklists": "a region lock listing the function's region",
    "regionother": "a condition on a known key that does not hold",
    "tagmismatch": "a condition on a known key that does not hold",
    "past": "a condition on a known key that does not hold",
    "notsourceip": "a condition on an unknown key (aws:SourceIp)",
    "mfa": "a condition on an unknown key (aws:MultiFactorAuthPresent)",
    "regionown": "a condition that holds",
    "lockexcludes": "a condition that holds",
}
DENY_RESOURCES_WHY = {
    "username": "a resource with ${aws:username} (no value in a role session: invalid)",
    "othersubnet": "another subnet than the function's",
    "eniprefix": "network-interface/eni-* (not the interface being created)",
    "oneeni": "one interface ID (not the interface being created)",
    "otherregion": "another region",
    "tagvar": "a resource from the role's tags",
    "usermixed": "${aws:username} beside network-interface/*",
    "tagmixed": "${aws:PrincipalTag/none} beside subnet/* and *",
}


def _statement_kind(detail: str) -> tuple[str, ...] | None:
    match = SID.search(detail)
    return tuple(match.group(1).split("Q")) if match else None


def old_cause(annotation: str) -> str:
    """What the old rule said decided: its first failing action's reason and the statement it named."""
    match = OLD_REASON.search(annotation)
    if not match:
        return annotation.split(":")[0]
    action, reason, detail = match.group(1), match.group(2), match.group(3) or ""
    ignored = " (a conditional grant ignored)" if "conditional grant was ignored" in annotation else ""
    if reason == "denied":
        kind = _statement_kind(detail)
        if kind is None:
            return "denied"
        _, _, _, resource, not_resource, condition = kind
        why = DENY_CONDITIONS_WHY.get(condition, "")
        # a Deny whose condition holds or is unknown still counts: what changed is what it reaches
        if why and why != "a condition that holds" and "unknown key" not in why:
            return f"denied by a Deny with {why}"
        if not_resource == "NR":
            return "denied by a Deny with NotResource"
        return f"denied by a Deny on {DENY_RESOURCES_WHY.get(resource, resource)}"
    if reason == "resource too narrow":
        needed = ", ".join(f"{kind}/*" for kind in dict.fromkeys(re.findall(r":([a-z-]+)/\*", detail)))
        return f"{action}: resource too narrow (needs {needed or detail}){ignored}"
    if reason == "boundary":
        return f"boundary: {detail.split(' ', 1)[-1]}{ignored}"
    return f"{reason}{ignored}"


def new_cause(annotation: str) -> str:
    match = NEW_REASON.search(annotation)
    if match is None:
        return "allowed" if "allows all" in annotation else annotation.split(":")[0]
    reason, detail = match.group(1), match.group(2) or ""
    if reason in ("condition unknown", "condition not met"):
        key = re.search(r"(\S+:\S+) (?:cannot be known|does not hold|can)", detail)
        return f"{reason} ({key.group(1) if key else detail})"
    if reason == "denied" and "could apply" in detail:
        key = re.search(r"on (\S+) could apply", detail)
        return f"denied (conditional Deny on {key.group(1) if key else '?'} could apply)"
    if reason == "resource too narrow":
        return f"resource too narrow (needs {detail.removeprefix('needs ').rsplit(':', 1)[-1]})"
    return reason


def compare(old: list, new: list) -> str:
    total = len(old)
    changed = [(o, n) for o, n in zip(old, new, strict=True) if o[0] != n[0]]
    same_verdict_new_reason = sum(1 for o, n in zip(old, new, strict=True) if o[0] == n[0] == "NON_COMPLIANT"
                                  and o[1] != n[1])
    old_counts, new_counts = Counter(o[0] for o in old), Counter(n[0] for n in new)
    groups = Counter((o[0], n[0], old_cause(o[1]), new_cause(n[1])) for o, n in changed)
    summary = Counter((o[0], n[0], old_cause(o[1]).replace(" (a conditional grant ignored)", "")
                       if o[0] == "NON_COMPLIANT" else new_cause(n[1])) for o, n in changed)
    guard_counts = Counter(n[2] for n in new if n[2])
    lines = [f"{total} generated role shapes, default parameters.",
             f"old: {dict(old_counts)}; new: {dict(new_counts)}; new with RequireFunctionCodeGuard=true: "
             f"{dict(guard_counts)}",
             f"verdict changed: {len(changed)} ({100 * len(changed) / total:.1f}%); NON_COMPLIANT in both with a "
             f"different annotation: {same_verdict_new_reason}", "",
             "| old -> new | why (the old reason, or the new one for a new NON_COMPLIANT) | cases | share |",
             "|---|---|---|---|"]
    for (before, after, why), count in summary.most_common():
        lines.append(f"| {before} -> {after} | {why} | {count} | {100 * count / total:.1f}% |")
    still = Counter(new_cause(n[1]) for n in new if n[0] == "NON_COMPLIANT")
    lines += ["", "Still NON_COMPLIANT, by the new (first) reason:", "", "| new reason | cases |", "|---|---|"]
    lines += [f"| {why} | {count} |" for why, count in still.most_common(12)]
    lines += ["", "In detail:", "", "| old -> new | old reason | new reason | cases |", "|---|---|---|---|"]
    for (before, after, why_old, why_new), count in groups.most_common():
        lines.append(f"| {before} -> {after} | {why_old} | {why_new} | {count} |")
    return "\n".join(lines)


def _run_emit(source: Path, count: int, seed: int, out: Path) -> None:
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--emit", str(out), "--cases", str(count),
                    "--seed", str(seed)], check=True, env={"PYTHONPATH": str(source)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-rev", default="840811c", help="git revision of the old rule (default: 840811c)")
    parser.add_argument("--cases", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--emit", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emit:
        emit(args.cases, args.seed, args.emit)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old_rev, "src"], check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        old_out, new_out = Path(tmp) / "old.json", Path(tmp) / "new.json"
        _run_emit(Path(tmp) / "src", args.cases, args.seed, old_out)
        _run_emit(ROOT / "src", args.cases, args.seed, new_out)
        old, new = json.loads(old_out.read_text()), json.loads(new_out.read_text())
    print(compare(old, new))
    return 0


if __name__ == "__main__":
    sys.exit(main())
