"""`make bench`: API calls, time and peak memory of a whole-account evaluation at 1k, 2k and 10k
functions (moto, in process), the per-role IAM reads it replaced, and the rule handlers' cold start; and
organization scans (`scan --accounts all --regions ...`) of 1,000 accounts x 4 regions x 20 functions and
of 50 accounts x 3 regions x 200 functions at concurrency 1, 4 and 16, in threads and with the accounts read
in 2 processes, against moto's server in a process of its own (40 and 10 accounts by default; ORG_FULL=1
runs 1,000 and 50). Each part runs in a fresh
interpreter (`bench.py --one FUNCTIONS`, `bench.py --organization`), so its peak RSS is its own. Prints
tables and writes docs/benchmarks.md (`bench.py --organization` alone rewrites only its section).
Figures, not pass/fail: the budgets are asserted by tests/test_budgets.py and tests/test_organization.py."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LAMBDA_VPC_RULES_LOG_LEVEL", "WARNING")  # one line per evaluation would drown the figures
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from organization_bench import ORG_SECTION, organization_text  # noqa: E402

from aws_support import REGION, CallRecorder, ConfigCalls, earlier_evaluations, scheduled_event  # noqa: E402
from conftest import FAKE_ENVIRONMENT, load_rule_module  # noqa: E402
from lambda_vpc_rules.aws.account import scan_session  # noqa: E402
from lambda_vpc_rules.aws.facts import FactReader  # noqa: E402
from lambda_vpc_rules.core.model import role_name_from_arn  # noqa: E402
from large_account import Shape, seed  # noqa: E402

SHAPES = [Shape(1000, 200, 10, 60), Shape(2000, 400, 10, 60), Shape(10000, 2000, 10, 60)]
HANDLER_RULE = "lambda-vpc-private-subnet-nat"
# moto returns every AWS managed policy (~1,600, each with all its versions) from GetAccountAuthorizationDetails
# when it loads them: run once at 2k as the pessimistic case.
MANAGED = "MOTO_IAM_LOAD_MANAGED_POLICIES"


def measure(shape: Shape, managed_policies: bool = False) -> dict:
    environment = {**FAKE_ENVIRONMENT, MANAGED: "true" if managed_policies else "false"}
    with mock.patch.dict(os.environ, environment), mock_aws():
        session = boto3.Session(region_name=REGION)
        started = time.perf_counter()
        names = seed(session, shape)["functions"]
        seeded = time.perf_counter() - started

        recorder = CallRecorder().install(session)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # moto, seeded estate, libraries
        tracemalloc.start()
        started = time.perf_counter()
        report = scan_session(session)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        scan_calls = recorder.aws_calls()
        by_operation = recorder.by_operation()

        functions = FactReader(session.client).list_functions()
        per_role = CallRecorder().install(session)
        one_by_one = FactReader(session.client)
        for name in sorted({role_name_from_arn(fn.role_arn) for fn in functions}):
            one_by_one.roles_one_by_one([name])

        boto3.setup_default_session(region_name=REGION)
        # steady state: AWS Config holds an earlier evaluation of every function (the handler's clean-up reads them)
        config_calls = ConfigCalls(previous_results=earlier_evaluations(HANDLER_RULE, names))
        config_calls.install(boto3.DEFAULT_SESSION)
        handler_calls = CallRecorder().install(boto3.DEFAULT_SESSION)
        started = time.perf_counter()
        load_rule_module("LAMBDA_VPC_PRIVATE_SUBNET_NAT").lambda_handler(scheduled_event(HANDLER_RULE), None)
        handler_seconds = time.perf_counter() - started
    return {
        "shape": shape.__dict__, "managed_policies": managed_policies, "seed_s": seeded, "scan_s": seconds,
        "traced_peak_mb": peak / 2**20, "rss_before_mb": rss_before, "rss_after_mb": rss_after,
        "evaluations": len(report.evaluations), "scan_calls": scan_calls, "by_operation": dict(by_operation),
        "per_role_calls": per_role.aws_calls(), "handler_calls": handler_calls.aws_calls(),
        "handler_by_operation": dict(handler_calls.by_operation()),
        "handler_s": handler_seconds, "put_batches": len(config_calls.put),
    }


def measure_in_fresh_process(shape: Shape, managed_policies: bool = False) -> dict:
    command = [sys.executable, __file__, "--one", json.dumps({**shape.__dict__, "managed": managed_policies})]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


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


def _ops(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))


# The organization shapes of issue 26: many small accounts, and fewer large ones. By default they run with fewer
# accounts (`measured`: minutes on a 2-core machine); ORG_FULL=1 runs the sizes (1,000 accounts: 80,000
# functions seeded in moto in about 8 minutes, then about 70 minutes of scans, half of them concurrency 1 with
# 50 ms a call). docs/benchmarks.md says which sizes its figures are.
ORG_SHAPES = [
    {"accounts": 1000, "measured": 40, "regions": 4, "functions": 20, "concurrency": "1,4,16", "processes": "0,2",
     "memory-accounts": "100,1000", "measured-memory-accounts": "10,40"},
    {"accounts": 50, "measured": 10, "regions": 3, "functions": 200, "concurrency": "1,4,16", "processes": "0,2"},
]


def organization_in_fresh_process(shape: dict) -> dict:
    full = os.environ.get("ORG_FULL") == "1"
    shape = dict(shape)
    measured, memory = shape.pop("measured"), shape.pop("measured-memory-accounts", None)
    if not full:
        shape["accounts"] = measured
        if memory:
            shape["memory-accounts"] = memory
    command = [sys.executable, str(ROOT / "benchmarks" / "organization_bench.py"),
               *[item for key, value in shape.items() for item in (f"--{key}", str(value))]]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_organization_section(shapes: list[dict]) -> str:
    """Replace the organization section of docs/benchmarks.md (or append it)."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = organization_text(shapes, machine())
    head, _, rest = text.partition(ORG_SECTION)
    tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
    path.write_text(head.rstrip("\n") + "\n\n" + section + tail, encoding="utf-8")
    return section


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        spec = json.loads(sys.argv[2])
        managed = spec.pop("managed")
        print(json.dumps(measure(Shape(**spec), managed)))
        return
    if sys.argv[1:2] == ["--organization"]:
        print(write_organization_section([organization_in_fresh_process(shape) for shape in ORG_SHAPES]))
        return
    one_account = sys.argv[1:2] == ["--one-account"]  # keep the organization section as it stands
    path = ROOT / "docs" / "benchmarks.md"
    # the organization section and the sections after it (the demo's and the suite's times) are kept
    kept = path.read_text(encoding="utf-8").partition(ORG_SECTION) if path.exists() else None
    results = [measure_in_fresh_process(shape) for shape in SHAPES]
    pessimistic = measure_in_fresh_process(SHAPES[1], managed_policies=True)
    cold = cold_start_ms()
    head = ("| functions | roles | VPCs / subnets | scan: AWS calls | scan: s | s per 1k functions "
            "| scan: traced peak MB | peak RSS MB before / after scan | IAM role by role: calls (ratio) "
            "| scheduled handler (1 rule): AWS calls, PutEvaluations batches, s | seeding s |")
    lines = [head, "|" + "---|" * 11]
    for r in results:
        s = Shape(**r["shape"])
        lines.append(
            f"| {s.functions:,} | {s.roles:,} | {s.vpcs} / {s.subnets} | {r['scan_calls']} | {r['scan_s']:.2f} "
            f"| {r['scan_s'] / s.functions * 1000:.2f} | {r['traced_peak_mb']:.0f} "
            f"| {r['rss_before_mb']:.0f} / {r['rss_after_mb']:.0f} "
            f"| {r['per_role_calls']:,} "
            f"({r['per_role_calls'] / max(1, r['by_operation']['iam:GetAccountAuthorizationDetails']):.0f}x) "
            f"| {r['handler_calls']}, {r['put_batches']}, {r['handler_s']:.1f} | {r['seed_s']:.1f} |")
    two = results[1]
    text = "\n".join([
        "# Benchmarks", "",
        f"Machine: {machine()}. moto 5.2 in process (its own serving time and memory are included); each size "
        "in a fresh interpreter.", "",
        *lines, "",
        f"Scan calls at 2,000 functions by operation (AWS pages): {_ops(two['by_operation'])}.", "",
        f"Scheduled handler (`{HANDLER_RULE}`) at 2,000 functions by operation: "
        f"{_ops(two['handler_by_operation'])}. Steady state: AWS Config holds an earlier evaluation of every "
        "function, which the handler's clean-up reads back (after the whole listing) before putting the new ones.", "",
        "AWS calls count the pages AWS would return (ListFunctions 50 a page, GetAccountAuthorizationDetails and "
        "EC2 listings up to 1,000, DescribeRouteTables and GetComplianceDetailsByConfigRule 100): moto answers a "
        "listing in one page. `IAM role by role` is the per-role read (GetRole, ListRolePolicies, GetRolePolicy, "
        "ListAttachedRolePolicies, GetPolicy, GetPolicyVersion, `FactReader.roles_one_by_one` for each role) that "
        "GetAccountAuthorizationDetails replaced; the ratio is against its pages. `traced peak` is tracemalloc's "
        "peak during the scan alone (what the scan allocates, moto's answers included); `peak RSS` is the "
        "interpreter's maximum resident set (ru_maxrss) before the scan (libraries, moto and the seeded estate) "
        "and after it.", "",
        f"Pessimistic IAM: with moto returning every AWS managed policy from GetAccountAuthorizationDetails "
        f"(`{MANAGED}=true`, a worst case: the rule needs only the policies roles use), the 2,000-function scan needs "
        f"{pessimistic['scan_calls']} AWS calls ({pessimistic['by_operation']['iam:GetAccountAuthorizationDetails']} "
        f"GetAccountAuthorizationDetails pages) in {pessimistic['scan_s']:.2f} s, traced peak "
        f"{pessimistic['traced_peak_mb']:.0f} MB.", "",
        f"Cold start: importing a rule handler after boto3 takes {cold:.0f} ms (median of 7 fresh interpreters).",
        "",
    ])
    print(text)
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "benchmarks.md").write_text(text, encoding="utf-8")
    if kept and kept[1]:
        path.write_text(text.rstrip("\n") + "\n\n" + kept[1] + kept[2], encoding="utf-8")
    if one_account:
        return
    print(write_organization_section([organization_in_fresh_process(shape) for shape in ORG_SHAPES]))


if __name__ == "__main__":
    main()
