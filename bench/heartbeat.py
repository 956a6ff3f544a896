#!/usr/bin/env python3
"""Heartbeat figures, printed as one JSON object: what 100 heartbeat ticks cost.

- no_news: 100 ticks (`hearth heartbeat run-once --json`) whose probes print the same
  output every time: model requests made and tokens spent (target: 0 and 0)
- one_change: 100 ticks where the probe's output changes once (before tick 50): model
  requests (target: exactly 1) and the tokens that one woken tick spent
- quiet_tick_ms: median wall time of one quiet `run-once` (process start, config,
  probes in the sandbox, SQLite), for scale; `hearth serve` ticks in-process

Probes run in the default sandbox (workspace-write). The scripted model server
records each request it gets (--record), so requests are counted at the wire.

Builds nothing. Usage:
  cargo build --release -p hearth -p hearth-testkit
  python3 bench/heartbeat.py [--ticks N] [--profile release|debug]
"""
import argparse, json, os, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = """[heartbeat]
every = "30m"
checklist = "HEARTBEAT.md"
probes = [
  { name = "inbox", command = "cat inbox.txt" },
  { name = "alarm", command = "test -e alarm && exit 2 || exit 1" },
]
"""


def start_server(tmp, hearth_dir, record):
    script = os.path.join(tmp, "script.json")
    with open(script, "w") as f:
        json.dump({"steps": [{"type": "text", "text": "nothing to report"}] * 5}, f)
    server = os.path.join(hearth_dir, "hearth-scripted-server")
    proc = subprocess.Popen([server, "--script", script, "--record", record],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        raise SystemExit(f"scripted server did not start: {line!r}")
    return proc, line[line.index("http://"):]


def new_home(tmp, name):
    home = os.path.join(tmp, name)
    workspace = os.path.join(home, "workspace")
    os.makedirs(workspace)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(workspace, "HEARTBEAT.md"), "w") as f:
        f.write("- Tell me when the inbox count changes.\n")
    with open(os.path.join(workspace, "inbox.txt"), "w") as f:
        f.write("3 unread\n")
    return home, workspace


def requests_in(record):
    if not os.path.exists(record):
        return 0
    with open(record) as f:
        return sum(1 for line in f if line.strip())


def run_ticks(hearth, tmp, name, ticks, change_at=None):
    record = os.path.join(tmp, f"{name}.jsonl")
    server, url = start_server(tmp, os.path.dirname(hearth), record)
    home, workspace = new_home(tmp, name)
    env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home,
           "HEARTH_MODEL": "openai:scripted", "OPENAI_BASE_URL": url + "/v1",
           "OPENAI_API_KEY": "sk-bench"}
    outcomes, tokens, quiet_ms = {}, 0, []
    try:
        for tick in range(ticks):
            if change_at is not None and tick == change_at:
                with open(os.path.join(workspace, "inbox.txt"), "w") as f:
                    f.write("4 unread\n")
            started = time.perf_counter()
            done = subprocess.run([hearth, "heartbeat", "run-once", "--json"], env=env,
                                  capture_output=True, text=True, timeout=120)
            elapsed = (time.perf_counter() - started) * 1000
            if done.returncode != 0:
                raise SystemExit(f"run-once failed: {done.stderr}")
            result = json.loads(done.stdout)
            outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
            tokens += result["input_tokens"] + result["output_tokens"]
            if result["outcome"] == "quiet":
                quiet_ms.append(elapsed)
    finally:
        server.terminate()
        server.wait()
    return {"ticks": ticks, "outcomes": outcomes, "model_requests": requests_in(record),
            "tokens": tokens}, quiet_ms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--profile", default="release")
    args = parser.parse_args()
    hearth = os.path.join(ROOT, "target", args.profile, "hearth")
    with tempfile.TemporaryDirectory() as tmp:
        no_news, quiet_a = run_ticks(hearth, tmp, "no_news", args.ticks)
        one_change, quiet_b = run_ticks(hearth, tmp, "one_change", args.ticks,
                                        change_at=args.ticks // 2)
    print(json.dumps({
        "hearth": hearth,
        "no_news": no_news,
        "one_change": one_change,
        "quiet_tick_ms_median": round(statistics.median(quiet_a + quiet_b), 1),
    }, indent=2))


if __name__ == "__main__":
    main()
