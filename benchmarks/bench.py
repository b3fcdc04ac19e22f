"""`make bench`: API calls, time and peak memory of a whole-account evaluation at 1k, 2k and 10k
functions (moto, in process), the per-role IAM reads it replaced, and the rule handlers' cold start.
Prints a table and writes docs/benchmarks.md. Figures, not pass/fail: the budgets are asserted by
tests/test_budgets.py."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LAMBDA_VPC_RULES_LOG_LEVEL", "WARNING")  # one line per evaluation would drown the figures
sys.path.insert(0, str(ROOT / "tests"))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from aws_support import REGION, CallRecorder, ConfigCalls, scheduled_event  # noqa: E402
from conftest import FAKE_ENVIRONMENT, load_rule_module  # noqa: E402
from lambda_vpc_rules.cli import scan_session  # noqa: E402
from lambda_vpc_rules.fetch import Fetcher  # noqa: E402
from lambda_vpc_rules.model import Fact  # noqa: E402
from large_account import Shape, seed  # noqa: E402

SHAPES = [Shape(1000, 200, 10, 60), Shape(2000, 400, 10, 60), Shape(10000, 2000, 10, 60)]


def measure(shape: Shape) -> dict:
    with mock.patch.dict(os.environ, FAKE_ENVIRONMENT), mock_aws():
        session = boto3.Session(region_name=REGION)
        started = time.perf_counter()
        seed(session, shape)
        seeded = time.perf_counter() - started

        recorder = CallRecorder().install(session)
        tracemalloc.start()
        started = time.perf_counter()
        report = scan_session(session)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        scan_calls = recorder.aws_calls()
        by_operation = Counter()
        for call, pages in zip(recorder.calls, recorder.pages, strict=True):
            by_operation[call] += pages

        functions = Fetcher(session.client).list_functions()
        per_role = CallRecorder().install(session)
        Fetcher(session.client).facts_for(functions, {Fact.IAM})

        boto3.setup_default_session(region_name=REGION)
        config_calls = ConfigCalls()
        config_calls.install(boto3.DEFAULT_SESSION)
        handler_calls = CallRecorder().install(boto3.DEFAULT_SESSION)
        started = time.perf_counter()
        load_rule_module("LAMBDA_VPC_PRIVATE_SUBNET_NAT").lambda_handler(
            scheduled_event("lambda-vpc-private-subnet-nat"), None)
        handler_seconds = time.perf_counter() - started
    return {
        "shape": shape, "seed_s": seeded, "scan_s": seconds, "peak_mb": peak / 2**20,
        "evaluations": len(report.evaluations), "scan_calls": scan_calls, "by_operation": by_operation,
        "per_role_calls": per_role.aws_calls(), "handler_calls": handler_calls.aws_calls(),
        "handler_s": handler_seconds, "put_batches": len(config_calls.put),
    }


def cold_start_ms(rule_dir: str = "LAMBDA_VPC_ENI_PERMISSIONS", runs: int = 7) -> float:
    """Importing a rule handler in a fresh interpreter, after boto3 is already imported (as in Lambda)."""
    script = ("import time, boto3; t = time.perf_counter(); "
              f"import {rule_dir}; print((time.perf_counter() - t) * 1000)")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "rules" / rule_dir), str(ROOT / "src")]),
                   **FAKE_ENVIRONMENT}
    times = [float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                  env=environment).stdout) for _ in range(runs)]
    return statistics.median(times)


def machine() -> str:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "?") if Path("/proc/meminfo").exists() else "?"
    return (f"{platform.machine()}, {os.cpu_count()} cores, {int(memory) // 2**20 if memory != '?' else '?'} GiB, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def main() -> None:
    results = [measure(shape) for shape in SHAPES]
    cold = cold_start_ms()
    head = ("| functions | roles | VPCs / subnets | scan: AWS calls | scan: s | s per 1k functions | peak MB "
            "| IAM role by role: calls | scheduled handler (1 rule): AWS calls, PutEvaluations batches | seeding s |")
    lines = [head, "|" + "---|" * 10]
    for r in results:
        s = r["shape"]
        lines.append(
            f"| {s.functions:,} | {s.roles:,} | {s.vpcs} / {s.subnets} | {r['scan_calls']} | {r['scan_s']:.2f} "
            f"| {r['scan_s'] / s.functions * 1000:.2f} | {r['peak_mb']:.0f} | {r['per_role_calls']:,} "
            f"({r['per_role_calls'] / max(1, r['by_operation']['iam:GetAccountAuthorizationDetails']):.0f}x) "
            f"| {r['handler_calls']}, {r['put_batches']} | {r['seed_s']:.1f} |")
    detail = ", ".join(f"{op} {n}" for op, n in sorted(results[1]["by_operation"].items()))
    text = "\n".join([
        "# Benchmarks", "",
        f"Machine: {machine()}. moto 5.2 in process (its own serving time and memory are included).", "",
        *lines, "",
        f"Scan calls at 2,000 functions by operation (AWS pages): {detail}.", "",
        "AWS calls count the pages AWS would return (ListFunctions 50 a page, GetAccountAuthorizationDetails and "
        "EC2 listings up to 1,000, DescribeRouteTables 100): moto answers a listing in one page. "
        "`IAM role by role` is the per-role read (GetRole, ListRolePolicies, GetRolePolicy, "
        "ListAttachedRolePolicies, GetPolicy, GetPolicyVersion) that GetAccountAuthorizationDetails replaced; "
        "the ratio is against its pages.", "",
        f"Cold start: importing a rule handler after boto3 takes {cold:.0f} ms (median of 7 fresh interpreters).",
        "",
    ])
    print(text)
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "benchmarks.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
