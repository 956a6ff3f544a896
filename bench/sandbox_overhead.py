#!/usr/bin/env python3
"""Sandbox overhead: how much time the sandbox adds to starting a command.

Times `HEARTH sandbox run -- true` against a plain `true`, RUNS times each, and prints
one JSON object:
  {"runs": 50, "median_ms_plain": .., "median_ms_sandbox": .., "added_ms": .., "mechanism": ".."}

Usage:
  bench/sandbox_overhead.py --hearth target/release/hearth
  bench/sandbox_overhead.py --bwrap-direct      # time bwrap itself, with the arguments
                                               # hearth-sandbox uses for workspace-write
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def bwrap_workspace_write_args(bwrap, workspace):
    """Mirrors crates/hearth-sandbox/src/bwrap.rs for workspace-write, no network."""
    return [
        bwrap,
        "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc",
        "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL", "--unshare-net",
        "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--bind", workspace, workspace,
        "--chdir", workspace, "--",
    ]


def median_ms(argv, runs, cwd):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples.append((time.perf_counter() - start) * 1000.0)
        if result.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({result.returncode}): "
                     f"{result.stderr.decode(errors='replace').strip()}")
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hearth", help="path of a built hearth binary")
    parser.add_argument("--bwrap-direct", action="store_true",
                        help="time bwrap with hearth-sandbox's arguments instead of hearth")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if not args.hearth and not args.bwrap_direct:
        parser.error("give --hearth PATH or --bwrap-direct")

    true_path = shutil.which("true") or "/bin/true"
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as workspace:
        workspace = os.path.realpath(workspace)
        if args.bwrap_direct:
            bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
            sandboxed = bwrap_workspace_write_args(bwrap, workspace) + [true_path]
            mechanism = f"bwrap-direct ({bwrap})"
        else:
            sandboxed = [args.hearth, "sandbox", "run", "--", "true"]
            mechanism = "hearth sandbox run"
        # One untimed run of each warms the page cache.
        median_ms([true_path], 1, workspace)
        median_ms(sandboxed, 1, workspace)
        plain = median_ms([true_path], args.runs, workspace)
        sandbox = median_ms(sandboxed, args.runs, workspace)

    print(json.dumps({
        "runs": args.runs,
        "median_ms_plain": round(plain, 3),
        "median_ms_sandbox": round(sandbox, 3),
        "added_ms": round(sandbox - plain, 3),
        "mechanism": mechanism,
    }))


if __name__ == "__main__":
    main()
