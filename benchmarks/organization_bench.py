"""An organization scan measured in moto (in process): ACCOUNTS accounts (the management account and members
from Organizations) x REGIONS x FUNCTIONS VPC functions each, read through a role assumed in each account, at
several concurrencies, once as moto answers (CPU only) and once with 50 ms added to every call (an AWS round
trip, during which a worker waits without holding the GIL); threads alone, and with evaluation in
processes. Also: AWS calls per account (by operation), and the memory of a `--format jsonl` scan (verdicts
streamed, none kept) at two organization sizes.

`python benchmarks/organization_bench.py [--accounts N] [--regions N] [--functions N] [--concurrency 1,4,16]
[--processes 0,2] [--memory-accounts 100,1000] [--latency-only]` prints the figures as JSON on its last line
(bench.py runs it in a fresh interpreter, once per shape: ORG_SHAPES). The issue's shapes are 1,000 x 4 x 20
and 50 x 3 x 200; `make bench` runs them with fewer accounts (ORG_FULL=1: full size; docs/benchmarks.md
says which were measured)."""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import subprocess
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
from lambda_vpc_rules.aws.organization import ALL, Fleet, Selection, scan_many  # noqa: E402
from lambda_vpc_rules.tooling.demo import moto_as_aws_answers  # noqa: E402

ORG_SECTION = "## Organization scan"
ALL_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ap-northeast-1")
LATENCY = 0.050
ROLE = "lambda-vpc-rules-audit"
ENI = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]}]})
PER_ACCOUNT = {"organizations:ListAccounts", "sts:AssumeRole", "ec2:DescribeRegions", "sts:GetCallerIdentity",
               "iam:GetAccountAuthorizationDetails"}


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


def seed(accounts_: int, regions: tuple[str, ...], functions: int) -> list[str]:
    """The organization, and in each account and region a VPC with a public subnet (internet gateway, NAT
    gateway), two private subnets in two zones routed to it, one role, and `functions` functions."""
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    for index in range(accounts_ - 1):
        org.create_account(AccountName=f"member-{index}", Email=f"member-{index}@example.com")
    accounts = sorted(a["Id"] for a in org.list_accounts()["Accounts"])
    code = {"ZipFile": _code()}
    for account in accounts:
        session = _member(account)
        iam = session.client("iam")
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="fn-role", PolicyName="eni", PolicyDocument=ENI)
        for region in regions:
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
            for f in range(functions):
                lam.create_function(FunctionName=f"fn-{f:04d}", Runtime="python3.12", Role=role,
                                    Handler="index.handler", Code=code,
                                    VpcConfig={"SubnetIds": private, "SecurityGroupIds": []})
    return accounts


def run(accounts: list[str] | str, regions: tuple[str, ...], concurrency: int, latency: float = 0.0,
        processes: int = 0, stream: bool = False, trace: bool = False) -> dict:
    """One scan. `stream`: verdicts handed to a sink that drops them (`--format jsonl` writing to /dev/null),
    none kept; `trace`: tracemalloc's peak during the scan (slower: for the memory figures only)."""
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
    selection = Selection(regions, accounts if accounts == ALL else tuple(accounts), ROLE)
    streamed = [0]

    def sink(results) -> None:
        streamed[0] += len(results)

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    cpu = time.process_time()
    report = scan_many(Fleet(caller, selection, prepare_session=prepare), concurrency=concurrency,
                       processes=processes, sink=sink if stream else None)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures = {"seconds": seconds, "cpu_s": cpu, "evaluations": streamed[0] if stream else len(report.evaluations),
               "covered": len(report.coverage.covered), "gaps": len(report.coverage.gaps),
               "verdicts": sorted((e.account_id, e.region, e.rule, e.resource_id, e.compliance.value)
                                  for e in report.evaluations[:: max(1, len(report.evaluations) // 500)]),
               "by_operation": dict(recorder.by_operation())}
    if trace:
        current, peak = tracemalloc.get_traced_memory()
        gc.collect()  # what the scan keeps, once the cyclic garbage (finished accounts' sessions) is freed
        kept, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures.update(traced_peak_mb=peak / 2**20, retained_mb=current / 2**20, kept_mb=kept / 2**20)
    return figures


def measure_organization(accounts_: int = 50, regions: int = 3, functions: int = 200,
                         concurrency: tuple[int, ...] = (1, 4, 16), processes: tuple[int, ...] = (0, 2),
                         memory_accounts: tuple[int, ...] = (), latency_only: bool = False) -> dict:
    chosen = ALL_REGIONS[:regions]
    environment = {**FAKE_ENVIRONMENT, "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
    with mock.patch.dict(os.environ, environment), mock_aws(), moto_as_aws_answers():
        started = time.perf_counter()
        accounts = seed(accounts_, chosen, functions)
        seeded = time.perf_counter() - started
        rss_seeded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        runs: dict[str, dict] = {}
        for p in processes:
            for c in concurrency:
                if not latency_only:
                    runs[f"c{c} p{p}"] = run(ALL, chosen, c, processes=p)
                runs[f"c{c} p{p} +latency"] = run(ALL, chosen, c, LATENCY, processes=p)
        memory = {}
        for n in (n for n in memory_accounts if n <= len(accounts)):
            # once untraced first: moto creates an account's backends when first read, and botocore fills its
            # caches; the traced run then measures the scan itself
            run(accounts[:n], chosen, 16, stream=True)
            memory[str(n)] = run(accounts[:n], chosen, 16, stream=True, trace=True)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reference = next(iter(runs.values()))["verdicts"]
    same = all(r["verdicts"] == reference for r in runs.values())
    for figures in [*runs.values(), *memory.values()]:
        figures.pop("verdicts")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    return {"accounts": accounts_, "regions": list(chosen), "functions": functions, "seed_s": seeded, "commit": commit,
            "rss_seeded_mb": rss_seeded, "rss_after_mb": rss_after, "runs": runs, "latency_ms": LATENCY * 1000,
            "memory": memory, "same_verdicts": same, "load": os.getloadavg()}


def _shape_text(figures: dict) -> list[str]:
    accounts, regions = figures["accounts"], len(figures["regions"])
    targets = accounts * regions
    rows = ["| concurrency | processes | wall s (moto as is) | CPU s | wall s (+{:.0f} ms a call) | CPU s | covered "
            "| evaluations |".format(figures["latency_ms"]), "|---|---|---|---|---|---|---|---|"]
    keys = sorted({k.replace(" +latency", "") for k in figures["runs"]},
                  key=lambda k: (int(k.split()[1][1:]), int(k.split()[0][1:])))
    for key in keys:
        plain, slow = figures["runs"].get(key), figures["runs"].get(f"{key} +latency")
        some = plain or slow
        c, p = key.split()
        rows.append(f"| {c[1:]} | {p[1:]} | {plain['seconds']:.1f} | {plain['cpu_s']:.1f} |" if plain else
                    f"| {c[1:]} | {p[1:]} | - | - |")
        rows[-1] += (f" {slow['seconds']:.1f} | {slow['cpu_s']:.1f} |" if slow else " - | - |")
        rows[-1] += f" {some['covered']} of {targets} | {some['evaluations']:,} |"
    ops = next(iter(figures["runs"].values()))["by_operation"]
    per_account = sum(ops.values()) / accounts - ops.get("organizations:ListAccounts", 0) / accounts
    per_target = {op: n / targets for op, n in sorted(ops.items()) if op not in PER_ACCOUNT}
    once = {op: n / accounts for op, n in sorted(ops.items()) if op in PER_ACCOUNT - {"organizations:ListAccounts"}}
    lines = [
        f"**{accounts} accounts x {regions} regions ({', '.join(figures['regions'])}) x {figures['functions']} "
        f"VPC functions** = {targets * figures['functions']:,} functions, all five rules; seeding took "
        f"{figures['seed_s']:.0f} s; load average at the end {figures['load'][0]:.1f} (the machine is "
        f"shared); verdicts {'identical' if figures['same_verdicts'] else 'NOT identical'} in every run; "
        f"commit {figures.get('commit', '?')}.", "",
        *rows, "",
        f"AWS calls per account (pages AWS would return): {per_account:g} = {regions} regions x "
        f"{sum(per_target.values()):g} (one region's floor: "
        f"{', '.join(f'{op} {n:g}' for op, n in per_target.items())}) + "
        f"{', '.join(f'{op} {n:g}' for op, n in once.items())}; ListAccounts "
        f"{ops.get('organizations:ListAccounts', 0)} per run (20 accounts a page).", ""]
    if figures["memory"]:
        cells = ", ".join(f"{n} accounts: peak {m['traced_peak_mb']:.1f} MB ({m['evaluations']:,} verdicts streamed, "
                          f"{m['retained_mb']:.1f} MB alive at the end"
                          + (f", {m['kept_mb']:.2f} MB once garbage is collected" if "kept_mb" in m else "") + ")"
                          for n, m in figures["memory"].items())
        lines += [f"Memory of a `--format jsonl` scan (tracemalloc's peak during the scan, concurrency 16, "
                  f"verdicts streamed to a sink that keeps none; the second of two scans, so that moto's per-account "
                  f"backends and botocore's caches exist already; moto's answers included): {cells}.", ""]
    return lines


def organization_text(shapes: list[dict], machine: str) -> str:
    return "\n".join([
        ORG_SECTION, "",
        "`scan --accounts all --role-name ROLE --regions ...` in moto's Organizations (the management account "
        "and members, a role assumed in each), moto in process. `CPU s` is the scanning process's CPU time "
        "(moto's serving included; processes' evaluation not), `wall s` the elapsed time: on a shared machine "
        f"the wall time depends on the other load, the CPU time much less. Machine: {machine}.", "",
        *[text for figures in shapes for text in _shape_text(figures)],
        "Without latency the run is CPU-bound (moto's serving, botocore's parsing and the evaluation, on two "
        "shared cores). With a round trip per call, as against AWS, a worker waits without holding the GIL, "
        "and concurrency divides the wall time until the CPU is the limit again. See "
        "docs/organization-scale.md for the design.", "",
    ])


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--concurrency", type=_numbers, default=(1, 4, 16))
    parser.add_argument("--processes", type=_numbers, default=(0, 2))
    parser.add_argument("--memory-accounts", type=_numbers, default=())
    parser.add_argument("--latency-only", action="store_true", help="only the runs with 50 ms a call")
    args = parser.parse_args()
    print(json.dumps(measure_organization(args.accounts, args.regions, args.functions, args.concurrency,
                                          args.processes, args.memory_accounts, args.latency_only)))


if __name__ == "__main__":
    main()
