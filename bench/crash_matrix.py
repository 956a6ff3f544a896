#!/usr/bin/env python3
"""The crash matrix: `hearth run` killed with SIGKILL at TRIALS moments spread over a
multi-step turn with side effects, then resumed; prints one JSON object:
  {"trials": N, "acknowledged": .., "lost_acknowledged_messages": 0,
   "side_effects_run_twice": 0, "resumed": N, "run_ms": ..}

With --serve, `hearth serve` instead: the turn started through the HTTP API, the gateway
killed, restarted and the session continued through the API; prints
  {"target": "serve", "trials": N, "answered": .., "session_started_seen": ..,
   "lost_acknowledged_messages": 0, "side_effects_run_twice": 0, "resumed": N,
   "turn_ms": ..}

It runs the same test the suite runs on a small sample
(crates/hearth/tests/crash_matrix.rs, or crash_matrix_serve.rs), with
HEARTH_CRASH_TRIALS (or HEARTH_SERVE_CRASH_TRIALS) set, and prints the summary that
test writes. The test fails (and this script exits non-zero) at the first trial that
loses an acknowledged message, runs a side effect twice or cannot resume.

Usage: python3 bench/crash_matrix.py [--trials 1000] [--serve]
"""
import argparse, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=None,
                        help="kills (default 1000, or 200 with --serve)")
    parser.add_argument("--serve", action="store_true",
                        help="kill `hearth serve` mid-turn instead of `hearth run`")
    args = parser.parse_args()
    if args.serve:
        trials = args.trials or 200
        env = dict(os.environ, HEARTH_SERVE_CRASH_TRIALS=str(trials))
        test = "crash_matrix_serve::"
    else:
        trials = args.trials or 1000
        env = dict(os.environ, HEARTH_CRASH_TRIALS=str(trials))
        test = "crash_matrix::"
    command = (
        "source scripts/llama-cpu.sh && cargo test -q -p hearth --test all "
        f"{test} -- --nocapture --test-threads 1"
    )
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    summaries = [line for line in result.stderr.splitlines() if line.startswith('{"')]
    if result.returncode != 0 or not summaries:
        sys.stderr.write(result.stderr[-4000:])
        sys.exit(f"crash_matrix: the test failed (exit {result.returncode})")
    print(json.dumps(json.loads(summaries[-1])))


if __name__ == "__main__":
    main()
