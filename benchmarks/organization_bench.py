"""An organization scan measured against moto's server: ACCOUNTS accounts (the management account and members
from Organizations) x REGIONS x FUNCTIONS VPC functions each, read through a role assumed in each account, at
several concurrencies, once as moto answers and once with 50 ms added to every answer (an AWS round trip, slept
by the server: the scan's workers wait on the network); threads alone, and with the accounts read in
processes (`--processes`). Also: AWS calls per account (by operation), and the memory of a `--format jsonl`
scan (verdicts streamed, none kept) at two organization sizes.

moto runs in a process of its own (`--serve`: seeded in process, then served over HTTP, as AWS is): its CPU is
not the scan's, and the scan's processes can reach it. Its CPU time is measured apart (the server's /proc
figures), so each run's figures say how much was the scan's and how much the emulator's.

`python benchmarks/organization_bench.py [--accounts N] [--regions N] [--functions N] [--concurrency 1,4,16]
[--processes 0,2] [--memory-accounts 100,1000] [--latency-only]` prints the figures as JSON on its last line
(bench.py runs it in a fresh interpreter, once per shape: ORG_SHAPES). The issue's shapes are 1,000 x 4 x 20
and 50 x 3 x 200; `make bench` runs them with fewer accounts (ORG_FULL=1: full size; docs/benchmarks.md
says which were measured)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("LAMBDA_VPC_RULES_LOG_LEVEL", "WARNING")

# Only what the CLI's own process holds is imported here: the fork server of `--processes` imports this module
# (the main module), and a process forked from one that holds moto and pytest starts slower (measured: 0.13 s of
# CPU each). moto and the tests' environment are imported where the server and the runs need them.
import boto3  # noqa: E402

from aws_support import LAMBDA_TRUST, REGION, CallRecorder  # noqa: E402
from lambda_vpc_rules.aws.organization import ALL, Fleet, Selection, scan_many  # noqa: E402

ORG_SECTION = "## Organization scan"
ALL_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ap-northeast-1")
LATENCY = 0.050
ROLE = "lambda-vpc-rules-audit"
ENI = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]}]})
PER_ACCOUNT = {"organizations:ListAccounts", "sts:AssumeRole", "ec2:DescribeRegions", "sts:GetCallerIdentity",
               "organizations:ListParents", "organizations:ListPoliciesForTarget", "organizations:DescribePolicy",
               "organizations:DescribeOrganization",
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
    accounts = sorted(a["Id"] for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"])
    if len(accounts) != accounts_:
        raise RuntimeError(f"seeded {len(accounts)} accounts, not {accounts_}")
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


def serve(accounts_: int, regions: tuple[str, ...], functions: int) -> None:
    """`--serve`: seed the organization in moto (in process), serve it over HTTP on a free port, print the port
    and the figures of the seeding as a JSON line, and serve until standard input closes. `POST
    /_bench/latency?seconds=S` sets the time slept before every answer."""
    import logging

    from moto import mock_aws
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from conftest import FAKE_ENVIRONMENT
    from lambda_vpc_rules.tooling.demo import moto_as_aws_answers

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    environment = {**FAKE_ENVIRONMENT, "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
    with mock.patch.dict(os.environ, environment), mock_aws(), moto_as_aws_answers():
        started = time.perf_counter()
        accounts = seed(accounts_, regions, functions)
        seeded = time.perf_counter() - started
        moto_app, latency = DomainDispatcherApplication(create_backend_app), [0.0]

        def app(environ, start_response):
            if environ.get("PATH_INFO") == "/_bench/latency":
                latency[0] = float(environ["QUERY_STRING"].partition("=")[2])
                start_response("200 OK", [("Content-Length", "0")])
                return [b""]
            if latency[0]:
                time.sleep(latency[0])
            return moto_app(environ, start_response)

        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(json.dumps({"port": server.server_port, "seed_s": seeded, "accounts": accounts,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
        sys.stdin.read()
        server.shutdown()


class Server:
    """The `--serve` process, its URL and its CPU time."""

    def __init__(self, accounts_: int, regions: tuple[str, ...], functions: int):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--accounts", str(accounts_), "--regions", str(len(regions)),
             "--functions", str(functions)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = json.loads(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{ready['port']}"
        self.seed_s, self.accounts, self.rss_mb = ready["seed_s"], ready["accounts"], ready["rss_mb"]

    def latency(self, seconds: float) -> None:
        urllib.request.urlopen(f"{self.url}/_bench/latency?seconds={seconds}", data=b"").read()

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


@contextlib.contextmanager
def served(accounts_: int, regions: tuple[str, ...], functions: int) -> Iterator[Server]:
    """The organization seeded in moto's server, with the tests' fake credentials in this process (what the
    scans' sessions sign with); the server stopped after."""
    from conftest import FAKE_ENVIRONMENT

    os.environ.update(FAKE_ENVIRONMENT)
    server = Server(accounts_, regions, functions)
    try:
        yield server
    finally:
        server.close()


def run(server: Server, accounts: list[str] | str, regions: tuple[str, ...], concurrency: int,
        latency: float = 0.0, processes: int = 0, stream: bool = False, trace: bool = False) -> dict:
    """One scan. `stream`: verdicts handed to a sink that drops them (`--format jsonl` writing to /dev/null),
    none kept; `trace`: tracemalloc's peak during the scan (slower: for the memory figures only), and no call
    recording (the recorder keeps a record per AWS call: 2.3 MB at 1,000 accounts, the benchmark's, not the
    scan's; the timing runs count the calls)."""
    recorder = CallRecorder()
    server.latency(latency)
    caller = boto3.Session(region_name=REGION)
    for service in ("sts", "organizations", "ec2", "lambda", "iam", "resourcegroupstaggingapi"):
        caller.client(service)  # the service models parsed before measuring
    if not trace:
        recorder.install(caller)
    selection = Selection(regions, accounts if accounts == ALL else tuple(accounts), ROLE)
    streamed, tallies = [0], []

    def sink(results) -> None:
        streamed[0] += len(results)

    if trace:
        tracemalloc.start()
    started, cpu, served = time.perf_counter(), time.process_time(), server.cpu_s()
    report = scan_many(Fleet(caller, selection, server.url, prepare_session=None if trace else recorder.install),
                       concurrency=concurrency, processes=processes, sink=sink if stream else None,
                       on_progress=tallies.append)
    seconds, cpu, served = time.perf_counter() - started, time.process_time() - cpu, server.cpu_s() - served
    figures = {"seconds": seconds, "cpu_s": cpu + (tallies[-1].worker_cpu_s if tallies else 0.0),
               "server_cpu_s": served, "evaluations": streamed[0] if stream else len(report.evaluations),
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
                         memory_accounts: tuple[int, ...] = (), latency_only: bool = False,
                         memory_only: bool = False) -> dict:
    chosen = ALL_REGIONS[:regions]
    runs: dict[str, dict] = {}
    memory = {}
    with served(accounts_, chosen, functions) as server:
        accounts = server.accounts
        # the slowest first (concurrency 1 with a round trip): it leaves the CPU mostly idle
        for c in concurrency if not memory_only else ():
            for p in (p for p in processes if p <= c):
                runs[f"c{c} p{p} +latency"] = run(server, ALL, chosen, c, LATENCY, processes=p)
        for c in concurrency if not (latency_only or memory_only) else ():
            for p in (p for p in processes if p <= c):
                runs[f"c{c} p{p}"] = run(server, ALL, chosen, c, processes=p)
        sizes = list(memory_accounts)
        if any(n > len(accounts) for n in sizes):
            raise RuntimeError(f"--memory-accounts {sizes}: only {len(accounts)} accounts seeded")
        if sizes:
            run(server, accounts[:min(sizes)], chosen, 16, stream=True)  # botocore's caches filled first
        for n in sizes:
            memory[str(n)] = run(server, accounts[:n], chosen, 16, stream=True, trace=True)
        server_rss = int(Path(f"/proc/{server.process.pid}/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    reference = next(iter(runs.values()))["verdicts"] if runs else None
    same = all(r["verdicts"] == reference for r in runs.values())
    for figures in [*runs.values(), *memory.values()]:
        figures.pop("verdicts")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    return {"accounts": accounts_, "regions": list(chosen), "functions": functions, "seed_s": server.seed_s,
            "commit": commit, "server_rss_mb": server_rss,
            "rss_after_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "runs": runs,
            "latency_ms": LATENCY * 1000, "memory": memory, "same_verdicts": same, "load": os.getloadavg(),
            "cores": os.cpu_count()}


def _speedup(runs: dict, key: str, suffix: str) -> str:
    base, this = runs.get(f"c1 p0{suffix}"), runs.get(f"{key}{suffix}")
    return f"{base['seconds'] / this['seconds']:.2f}x" if base and this else "-"


def _shape_text(figures: dict) -> list[str]:
    accounts, regions, runs = figures["accounts"], len(figures["regions"]), figures["runs"]
    targets = accounts * regions
    lines = [
        f"**{accounts:,} accounts x {regions} regions ({', '.join(figures['regions'])}) x {figures['functions']} "
        f"VPC functions** = {targets * figures['functions']:,} functions, all five rules; seeding moto took "
        f"{figures['seed_s']:.0f} s (its process peaked at {figures.get('server_rss_mb', 0):,.0f} MB); load "
        f"average at the end {figures['load'][0]:.1f}; verdicts "
        f"{'identical' if figures['same_verdicts'] else 'NOT identical'} in every run; commit "
        f"{figures.get('commit', '?')}.", ""]
    if figures.get("note"):  # what the run shared the machine with, written by whoever ran it
        lines += [figures["note"], ""]
    if runs:
        lines += ["| concurrency | processes | wall s | scan CPU s | moto CPU s | speed-up "
                  "| wall s (+{:.0f} ms a call) "
                  "| scan CPU s | moto CPU s | speed-up | covered | evaluations |".format(figures["latency_ms"]),
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        keys = sorted({k.replace(" +latency", "") for k in runs},
                      key=lambda k: (int(k.split()[0][1:]), int(k.split()[1][1:])))
        for key in keys:
            c, p = key.split()
            row = f"| {c[1:]} | {p[1:]} |"
            for suffix in ("", " +latency"):
                one = runs.get(f"{key}{suffix}")
                row += (f" {one['seconds']:.1f} | {one['cpu_s']:.1f} | {one['server_cpu_s']:.1f} | "
                        f"{_speedup(runs, key, suffix)} |" if one else " - | - | - | - |")
            some = runs.get(key) or runs[f"{key} +latency"]
            lines.append(row + f" {some['covered']:,} of {targets:,} | {some['evaluations']:,} |")
        ops = next(iter(runs.values()))["by_operation"]
        per_account = sum(ops.values()) / accounts - ops.get("organizations:ListAccounts", 0) / accounts
        per_target = {op: n / targets for op, n in sorted(ops.items()) if op not in PER_ACCOUNT}
        once = {op: n / accounts for op, n in sorted(ops.items())
                if op in PER_ACCOUNT - {"organizations:ListAccounts"}}
        lines += [
            "", f"AWS calls per account (pages AWS would return): {per_account:g} = {regions} regions x "
            f"{sum(per_target.values()):g} (one region's floor: "
            f"{', '.join(f'{op} {n:g}' for op, n in per_target.items())}) + "
            f"{', '.join(f'{op} {n:g}' for op, n in once.items())}; ListAccounts "
            f"{ops.get('organizations:ListAccounts', 0)} per run (20 accounts a page).", ""]
    if figures["memory"]:
        cells = ", ".join(f"{int(n):,} accounts: peak {m['traced_peak_mb']:.1f} MB ({m['evaluations']:,} verdicts "
                          f"streamed, {m['retained_mb']:.1f} MB alive at the end, {m['kept_mb']:.2f} MB once "
                          f"garbage is collected; {m['seconds']:.0f} s traced)"
                          for n, m in figures["memory"].items())
        lines += [f"Memory of a `--format jsonl` scan (tracemalloc's peak in the scanning process during the scan, "
                  f"concurrency 16, threads; verdicts streamed to a sink that keeps none; after one untraced scan, "
                  f"so that botocore's caches exist already; moto's memory is its own process's): {cells}.", ""]
    return lines


def organization_text(shapes: list[dict], machine: str) -> str:
    return "\n".join([
        ORG_SECTION, "",
        "`scan --accounts all --role-name ROLE --regions ...` against moto's server (the management account and "
        "members of moto's Organizations, a role assumed in each), moto in a process of its own, seeded in "
        "process and then answering over HTTP; `+50 ms a call`: the server sleeps 50 ms before each answer (a "
        "round trip to AWS). `scan CPU s`: the CPU time of the scanning process and, with processes, of the "
        "processes that read; `moto CPU s`: the server's, which AWS would spend, not the scan; `speed-up`: the "
        "wall time of concurrency 1 (threads) over this row's. Machine: "
        f"{machine}.", "",
        *[text for figures in shapes for text in _shape_text(figures)],
        "See docs/organization-scale.md for the design and what these figures show.", "",
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
    parser.add_argument("--memory-only", action="store_true", help="only the memory figures")
    parser.add_argument("--serve", action="store_true", help="(internal) seed and serve moto")
    args = parser.parse_args()
    if args.serve:
        serve(args.accounts, ALL_REGIONS[:args.regions], args.functions)
        return
    print(json.dumps(measure_organization(args.accounts, args.regions, args.functions, args.concurrency,
                                          args.processes, args.memory_accounts, args.latency_only,
                                          args.memory_only)))


if __name__ == "__main__":
    main()
