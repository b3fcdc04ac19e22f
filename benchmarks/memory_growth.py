"""What an organization scan keeps, by allocation site: `python benchmarks/memory_growth.py ACCOUNTS` seeds
ACCOUNTS accounts x 2 regions x 2 functions in moto's server (organization_bench.Server), scans 5 accounts to
fill botocore's caches, then scans them all with verdicts streamed (`--format jsonl`'s path) under tracemalloc
and prints what is still allocated after a collection, grouped by traceback, biggest first. Run it at two
sizes (e.g. 100 and 300): what grows with the accounts is what a long run keeps (it found the unbounded IAM
memos, docs/organization-scale.md)."""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(__file__))

import boto3  # noqa: E402
import organization_bench as ob  # noqa: E402

from lambda_vpc_rules.aws.organization import ALL, Fleet, Selection, scan_many  # noqa: E402


def main() -> None:
    regions = ob.ALL_REGIONS[:2]
    with ob.served(int(sys.argv[1]), regions, 2) as server:
        warm = Selection(regions, tuple(server.accounts[:5]), ob.ROLE)
        scan_many(Fleet(boto3.Session(region_name=ob.REGION), warm, server.url), concurrency=16, sink=lambda _: None)
        gc.collect()
        tracemalloc.start(12)
        before = tracemalloc.take_snapshot()
        scan_many(Fleet(boto3.Session(region_name=ob.REGION), Selection(regions, ALL, ob.ROLE), server.url),
                  concurrency=16, sink=lambda _: None)
        gc.collect()
        after = tracemalloc.take_snapshot()
        print(f"kept after the scan: {tracemalloc.get_traced_memory()[0] / 2**20:.2f} MB")
        for stat in after.compare_to(before, "traceback")[:8]:
            print(f"{stat.size_diff / 2**20:.2f} MB in {stat.count_diff} blocks")
            for line in stat.traceback.format()[-6:]:
                print("   ", line)

if __name__ == "__main__":
    main()
