#!/usr/bin/env python3
"""Memory recall on LoCoMo: runs `hearth memory bench --json` on the benchmark file and
prints its JSON report, plus the resident memory of the process that ran it.

The data is read from shared/bench/memory/ (CC BY-NC 4.0; never copied into this
repository). Metrics are defined in crates/hearth-memory/src/bench/mod.rs.

  bench/memory.py [--hearth target/release/hearth] [--dataset PATH] [--k 10]

Output: {"questions": .., "turn": {..}, "session": {..}, "per_category": {..},
         "latency_ms": {"p50": .., "p95": ..}, "tokens_per_query": ..,
         "ingest_turns_per_s": .., "max_rss_mb": .., "seconds": ..}
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATASET = os.path.join(HERE, "..", "..", "shared", "bench", "memory", "locomo-dev.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hearth", default=os.path.join(HERE, "..", "target", "release", "hearth"))
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    if not os.path.exists(args.dataset):
        sys.exit(f"no dataset at {args.dataset}; pass --dataset PATH (see shared/bench/memory/README.md)")
    started = time.perf_counter()
    result = subprocess.run(
        [args.hearth, "memory", "bench", "--dataset", args.dataset, "--k", str(args.k), "--json"],
        capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"hearth memory bench failed ({result.returncode}): {result.stderr.strip()}")
    report = json.loads(result.stdout)
    # ru_maxrss of waited-for children, in KiB on Linux.
    report["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    report["seconds"] = round(seconds, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
