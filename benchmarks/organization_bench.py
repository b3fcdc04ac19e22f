"""An organization scan measured in moto (in process): 50 accounts (the management account and 49 members
from Organizations) x 3 regions x 200 VPC functions, read through a role assumed in each account, at
concurrency 1, 4 and 16; once as moto answers (CPU only), once with 50 ms added to every call (an AWS
round trip, during which a worker waits without holding the GIL). Also: AWS calls per account-region by
operation, and tracemalloc's peak at 10 and 50 accounts. `python benchmarks/organization_bench.py` prints
the figures as JSON on its last line (bench.py runs it in a fresh interpreter)."""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("LAMBDA_VPC_RULES_LOG_LEVEL", "WARNING")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from aws_support import LAMBDA_TRUST, REGION, CallRecorder  # noqa: E402
from conftest import FAKE_ENVIRONMENT  # noqa: E402
from lambda_vpc_rules.aws.organization import (  # noqa: E402
    ALL,
    Fleet,
    Selection,
    scan_many,  # noqa: E402
)
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers  # noqa: E402

ORG_SECTION = "## Organization scan"
ACCOUNTS, REGIONS, FUNCTIONS = 50, ("us-east-1", "eu-west-1", "ap-southeast-2"), 200
CONCURRENCY = (1, 4, 16)
LATENCY = 0.050
ROLE = "lambda-vpc-rules-audit"
ENI = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]}]})
PER_ACCOUNT = {"organizations:ListAccounts", "sts:AssumeRole", "ec2:DescribeRegions", "sts:GetCallerIdentity"}


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _member(account_id: str) -> boto3.Session:
    answer = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="seed")["Credentials"]
    return boto3.Session(aws_access_key_id=answer["AccessKeyId"], aws_secret_access_key=answer["SecretAccessKey"],
                         aws_session_token=answer["SessionToken"], region_name=REGION)


def seed() -> list[str]:
    """The organization, and in each account and region a VPC with a public subnet (internet gateway, NAT
    gateway), two private subnets in two zones routed to it, one role, and FUNCTIONS functions."""
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    for index in range(ACCOUNTS - 1):
        org.create_account(AccountName=f"member-{index}", Email=f"member-{index}@example.com")
    accounts = sorted(a["Id"] for a in org.list_accounts()["Accounts"])
    code = {"ZipFile": _code()}
    for account in accounts:
        session = _member(account)
        iam = session.client("iam")
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="fn-role", PolicyName="eni", PolicyDocument=ENI)
        for region in REGIONS:
            ec2, lam = session.client("ec2", region_name=region), session.client("lambda", region_name=region)
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=f"{region}a")
            public = public["Subnet"]["SubnetId"]
            igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
            table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            ec2.associate_route_table(RouteTableId=table, SubnetId=public)
            eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
            nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
            private = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i + 1}.0/24",
                                         AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
                       for i, zone in enumerate("ab")]
            table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
            for subnet in private:
                ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
            for f in range(FUNCTIONS):
                lam.create_function(FunctionName=f"fn-{f:04d}", Runtime="python3.12", Role=role,
                                    Handler="index.handler", Code=code,
                                    VpcConfig={"SubnetIds": private, "SecurityGroupIds": []})
    return accounts


def run(accounts: list[str] | str, concurrency: int, latency: float = 0.0, trace: bool = False) -> dict:
    recorder = CallRecorder()

    def wait(**_):
        time.sleep(latency)

    def prepare(session) -> None:
        recorder.install(session)
        if latency:
            session.events.register("before-send", wait)

    caller = boto3.Session(region_name=REGION)
    for service in ("sts", "organizations", "ec2", "lambda", "iam", "resourcegroupstaggingapi"):
        caller.client(service)  # the service models parsed before measuring (every account's session shares them)
    prepare(caller)
    selection = Selection(REGIONS, accounts if accounts == ALL else tuple(accounts), ROLE)
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    report = scan_many(Fleet(caller, selection, prepare_session=prepare), concurrency=concurrency)
    seconds = time.perf_counter() - started
    figures = {"seconds": seconds, "evaluations": len(report.evaluations),
               "covered": len(report.coverage.covered), "gaps": len(report.coverage.gaps),
               "verdicts": sorted((e.account_id, e.region, e.rule, e.resource_id, e.compliance.value)
                                  for e in report.evaluations[:: max(1, len(report.evaluations) // 500)]),
               "by_operation": dict(recorder.by_operation())}
    if trace:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures.update(traced_peak_mb=peak / 2**20, retained_mb=current / 2**20)
    return figures


def measure_organization() -> dict:
    environment = {**FAKE_ENVIRONMENT, "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
    with mock.patch.dict(os.environ, environment), mock_aws(), moto_as_aws_answers():
        started = time.perf_counter()
        accounts = seed()
        seeded = time.perf_counter() - started
        rss_seeded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        runs = {f"{concurrency}": run(ALL, concurrency) for concurrency in CONCURRENCY}
        slow = {f"{concurrency}": run(ALL, concurrency, LATENCY) for concurrency in CONCURRENCY}
        memory = {str(n): run(accounts[:n], 4, trace=True) for n in (10, ACCOUNTS)}
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reference = runs["1"]["verdicts"]
    same = all(r["verdicts"] == reference for r in [*runs.values(), *slow.values()])
    for figures in [*runs.values(), *slow.values(), *memory.values()]:
        figures.pop("verdicts")
    return {"accounts": ACCOUNTS, "regions": list(REGIONS), "functions": FUNCTIONS, "seed_s": seeded,
            "rss_seeded_mb": rss_seeded, "rss_after_mb": rss_after, "runs": runs, "latency_runs": slow,
            "latency_ms": LATENCY * 1000, "memory": memory, "same_verdicts": same}


def organization_text(figures: dict, machine: str) -> str:
    targets = figures["accounts"] * len(figures["regions"])
    ops = figures["runs"]["1"]["by_operation"]
    per_target = {op: n / targets for op, n in sorted(ops.items()) if op not in PER_ACCOUNT}
    per_account = {op: n for op, n in sorted(ops.items()) if op in PER_ACCOUNT}
    rows = ["| concurrency | wall s (moto as is) | wall s (+{:.0f} ms a call) | account-regions covered | "
            "evaluations |".format(figures["latency_ms"]), "|---|---|---|---|---|"]
    for c, run_ in figures["runs"].items():
        slow = figures["latency_runs"][c]
        rows.append(f"| {c} | {run_['seconds']:.1f} | {slow['seconds']:.1f} | {run_['covered']} of {targets} "
                    f"| {run_['evaluations']:,} |")
    memory = figures["memory"]
    return "\n".join([
        ORG_SECTION, "",
        f"`scan --accounts all --role-name ROLE --regions {','.join(figures['regions'])}` over "
        f"{figures['accounts']} accounts (moto's Organizations; the management account and "
        f"{figures['accounts'] - 1} members, a role assumed in each) x {len(figures['regions'])} regions x "
        f"{figures['functions']} VPC functions = {targets * figures['functions']:,} functions, all five rules. "
        f"Machine: {machine}. moto 5.2 in process (threads share its backend; the verdicts were "
        f"{'identical' if figures['same_verdicts'] else 'NOT identical'} at every concurrency, so it was not "
        f"needed to move to a moto server). Seeding took {figures['seed_s']:.0f} s.", "",
        *rows, "",
        f"AWS calls per account-region (pages AWS would return): "
        f"{', '.join(f'{op} {n:g}' for op, n in per_target.items())}: {sum(per_target.values()):g} in all, the "
        "same page floor as a one-account scan of the same estate (tests/test_organization.py asserts the "
        f"equality); per run (ListAccounts: 20 accounts a page) or per account: "
        f"{', '.join(f'{op} {n}' for op, n in per_account.items())}.", "",
        "Moto answers in microseconds and the two cores are shared, so without latency the run is CPU-bound and "
        "threads add little. With a round trip per call, as against AWS, a worker waits without holding the "
        "GIL, and concurrency divides the wall time until the CPU is the limit again.", "",
        f"Memory (tracemalloc, concurrency 4, moto's answers included): peak {memory['10']['traced_peak_mb']:.0f} "
        f"MB at 10 accounts ({memory['10']['retained_mb']:.0f} MB retained: the merged verdicts), "
        f"peak {memory[str(figures['accounts'])]['traced_peak_mb']:.0f} MB at {figures['accounts']} accounts "
        f"({memory[str(figures['accounts'])]['retained_mb']:.0f} MB retained). What grows with accounts is the "
        "verdicts kept for the merged report; the facts of an account-region are dropped when it is evaluated, "
        f"so the transient part (peak minus retained: "
        f"{memory['10']['traced_peak_mb'] - memory['10']['retained_mb']:.0f} MB at 10 accounts, "
        f"{memory[str(figures['accounts'])]['traced_peak_mb'] - memory[str(figures['accounts'])]['retained_mb']:.0f}"
        f" MB at {figures['accounts']}) does not grow with them. Peak RSS "
        f"{figures['rss_seeded_mb']:.0f} MB after seeding (moto holding {targets * figures['functions']:,} "
        f"functions), {figures['rss_after_mb']:.0f} MB after all runs.", "",
    ])


if __name__ == "__main__":
    print(json.dumps(measure_organization()))
