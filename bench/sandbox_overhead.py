#!/usr/bin/env python3
"""Sandbox overhead: how much time the sandbox adds to starting a command.

Times `HEARTH sandbox run -- true` against a plain `true`, RUNS times each, under each
mechanism (bubblewrap, the Landlock helper), and `--mode full-access` for hearth's own
start-up, and prints one JSON object:
  {"runs": 50, "median_ms_plain": .., "median_ms_hearth_full_access": ..,
   "bubblewrap": {"median_ms": .., "added_ms_vs_plain_true": .., "added_ms_by_the_sandbox": ..},
   "landlock": {...}}

Usage:
  cargo build --release -p hearth -p hearth-sandbox --example per_command --bin hearth-sandbox-helper
  bench/sandbox_overhead.py --hearth target/release/hearth   # + per_command_in_process when built
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


def median_ms(argv, runs, cwd, env=None):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
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
    report = {"runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as workspace:
        workspace = os.path.realpath(workspace)
        median_ms([true_path], 1, workspace)
        plain = median_ms([true_path], args.runs, workspace)
        report["median_ms_plain"] = round(plain, 3)
        if args.bwrap_direct:
            bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
            sandboxed = bwrap_workspace_write_args(bwrap, workspace) + [true_path]
            median_ms(sandboxed, 1, workspace)
            sandbox = median_ms(sandboxed, args.runs, workspace)
            report.update(mechanism=f"bwrap-direct ({bwrap})",
                          median_ms_sandbox=round(sandbox, 3),
                          added_ms=round(sandbox - plain, 3))
        else:
            hearth = os.path.abspath(args.hearth)
            home = os.path.join(workspace, "home")
            os.makedirs(home)
            base_env = dict(os.environ, HEARTH_HOME=home)

            def timed(extra_args, mechanism=None):
                env = dict(base_env)
                if mechanism:
                    env["HEARTH_SANDBOX"] = mechanism
                argv = [hearth, "sandbox", "run", *extra_args, "--", "true"]
                median_ms(argv, 1, workspace, env)
                return median_ms(argv, args.runs, workspace, env)

            # hearth's own start-up (config, home, no sandbox), then each mechanism.
            unsandboxed = timed(["--mode", "full-access"])
            report["median_ms_hearth_full_access"] = round(unsandboxed, 3)
            for mechanism in ["bubblewrap", "landlock"]:
                sandbox = timed([], mechanism)
                report[mechanism] = {
                    "median_ms": round(sandbox, 3),
                    "added_ms_vs_plain_true": round(sandbox - plain, 3),
                    "added_ms_by_the_sandbox": round(sandbox - unsandboxed, 3),
                }
            # What the exec tool pays per command inside one process (probe done once).
            example = os.path.join(os.path.dirname(hearth), "examples", "per_command")
            if os.path.exists(example):
                out = subprocess.run([example, str(args.runs)], capture_output=True, text=True)
                if out.returncode == 0:
                    report["per_command_in_process"] = json.loads(out.stdout)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
