"""The demo's time, once installed: `lambda-vpc-rules demo` run as a user runs it (a new process each time),
alternating between this tree and another source tree given with --before (e.g. an export of main), so both
are measured in one run under the same load. Prints wall-clock and CPU (user+sys) seconds, median of --runs.

    python benchmarks/demo_time.py --before /tmp/main-src --runs 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(src: Path) -> tuple[float, float]:
    environment = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from lambda_vpc_rules.tooling.cli import main; "
                        "sys.exit(main())", "demo", "--out", out], env=environment, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="another source tree (its src/ is used)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    trees = {"before": args.before / "src", "after": ROOT / "src"}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, src in trees.items():
            times[name].append(run_once(src))
    load = os.getloadavg()[0]
    for name, runs in times.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"demo {name}: wall {statistics.median(walls):.1f} s (runs {', '.join(f'{w:.1f}' for w in walls)}), "
              f"CPU {statistics.median(cpus):.1f} s (runs {', '.join(f'{c:.1f}' for c in cpus)}); "
              f"load average {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
