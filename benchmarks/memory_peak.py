"""What is alive at a scan's highest memory: `python benchmarks/memory_peak.py ACCOUNTS SIZES` seeds ACCOUNTS
accounts x 4 regions x 20 functions in moto's server (organization_bench.Server), scans each of SIZES accounts
(e.g. `200 50,200`) with verdicts streamed (`--format jsonl`'s path) under tracemalloc, samples the memory alive
after each account-region, snapshots it at each new high (2% above the last), and prints the peak, the sampled
high, and what the snapshot at that high holds by file. Where `memory_growth.py` finds what a scan keeps, this
finds what a peak is made of (docs/organization-scale.md: half of it is botocore's sessions and clients)."""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(__file__))

import boto3  # noqa: E402
import organization_bench as ob  # noqa: E402

from lambda_vpc_rules.aws.organization import Fleet, Selection, scan_many  # noqa: E402


def main() -> None:
    regions = ob.ALL_REGIONS[:4]
    with ob.served(int(sys.argv[1]), regions, 20) as server:
        ob.run(server, server.accounts[:5], regions, 16, stream=True)  # botocore's caches filled first
        for size in (int(n) for n in sys.argv[2].split(",")):
            gc.collect()
            tracemalloc.start(8)
            high: dict = {"bytes": 0, "snapshot": None, "at": 0, "ticks": 0}

            def sample(_tally, high=high) -> None:
                high["ticks"] += 1
                alive, _ = tracemalloc.get_traced_memory()
                if alive > high["bytes"] * 1.02 and high["ticks"] > 20:  # past the first accounts' start-up
                    high.update(bytes=alive, snapshot=tracemalloc.take_snapshot(), at=high["ticks"])

            selection = Selection(regions, tuple(server.accounts[:size]), ob.ROLE)
            scan_many(Fleet(boto3.Session(region_name=ob.REGION), selection, server.url), concurrency=16,
                      sink=lambda _: None, on_progress=sample)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{size} accounts: peak {peak / 2**20:.2f} MB; sampled high {high['bytes'] / 2**20:.2f} MB "
                  f"after account-region {high['at']} of {high['ticks']}", flush=True)
            if high["snapshot"] is not None:
                for stat in high["snapshot"].statistics("filename")[:12]:
                    print(f"   {stat.size / 2**20:6.2f} MB {stat.count:8d} blocks  {stat.traceback[0].filename}")

if __name__ == "__main__":
    main()
