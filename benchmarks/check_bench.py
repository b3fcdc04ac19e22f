"""`check` on one template with many functions: time and peak memory, offline (no AWS call), for the
corpus's plain CloudFormation template (tests/iac_corpus/network.yaml) with its compliant function copied N
times, written as JSON (CDK's form) and as YAML. Figures, not pass/fail. Run alone:
`.venv/bin/python benchmarks/check_bench.py 200 1000` (not part of `make bench`)."""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lambda_vpc_rules.core.rules import RULES  # noqa: E402
from lambda_vpc_rules.iac.check import check_paths, load  # noqa: E402
from lambda_vpc_rules.iac.resolve import Context  # noqa: E402
from lambda_vpc_rules.iac.sam import plain  # noqa: E402


def template(functions: int) -> dict:
    base = plain(load(ROOT / "tests" / "iac_corpus" / "network.yaml").data)
    good = base["Resources"]["GoodFunction"]
    for index in range(functions):
        copy_ = copy.deepcopy(good)
        copy_["Properties"]["FunctionName"] = f"bench-{index}"
        base["Resources"][f"Bench{index}"] = copy_
    return base


def measure(path: Path) -> tuple[int, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    rows = check_paths([str(path)], RULES, {}, Context()).rows
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return len(rows), elapsed, peak / 1e6


def main(sizes: list[int]) -> None:
    load(ROOT / "tests" / "iac_corpus" / "network.yaml")  # imports (cfn-lint) out of the figures
    print("| functions | form | verdicts | seconds | peak MB (tracemalloc) |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            data = template(size)
            for form, dump in (("json", lambda d: json.dumps(d, indent=1)), ("yaml", yaml.safe_dump)):
                path = Path(folder) / f"t{size}.{form}"
                path.write_text(dump(data))
                verdicts, seconds, peak = measure(path)
                print(f"| {size} | {form} | {verdicts} | {seconds:.2f} | {peak:.1f} |")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [200, 1000])
