#!/usr/bin/env python3
"""Core figures for Hearth, printed as one JSON object.

- prompt: fixed prompt overhead of the default profile (system text + tool schemas), chars
- run_task: `hearth run` on a 5-step scripted task over loopback (write, read, edit, exec,
  answer): median wall time, the scripted server's own time for the same requests, the
  difference (Hearth's overhead), and peak RSS of the hearth process
- binary: stripped release binary size; cold `hearth --version` median wall time

Usage: cargo build --release -p hearth -p hearth-testkit && python3 bench/core.py [--runs N] [--embedder]
  --embedder  let the run find the local embedding model (memory recall loads it each run);
              without it the run's HOME is empty and memory works on keywords alone
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEARTH = os.path.join(ROOT, "target/release/hearth")
SERVER = os.path.join(ROOT, "target/release/hearth-scripted-server")

STEPS = [
    {"type": "tool_calls", "calls": [{"id": "c1", "name": "write_file", "arguments": json.dumps({"path": "notes/a.txt", "content": "hello world\n"})}]},
    {"type": "tool_calls", "calls": [{"id": "c2", "name": "read_file", "arguments": json.dumps({"path": "notes/a.txt"})}]},
    {"type": "tool_calls", "calls": [{"id": "c3", "name": "edit_file", "arguments": json.dumps({"path": "notes/a.txt", "old_string": "world", "new_string": "hearth"})}]},
    {"type": "tool_calls", "calls": [{"id": "c4", "name": "exec", "arguments": json.dumps({"command": "cat notes/a.txt"})}]},
    {"type": "text", "text": "Done: the note says hello hearth."},
]


def start_server(script_path, record_path):
    proc = subprocess.Popen([SERVER, "--script", script_path, "--record", record_path],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        raise SystemExit(f"scripted server did not start: {line!r}")
    return proc, line[line.index("http://"):]


def run_once(tmp, i, embedder):
    home = os.path.join(tmp, f"home{i}")
    os.makedirs(os.path.join(home, "workspace"))
    script = os.path.join(tmp, f"script{i}.json")
    record = os.path.join(tmp, f"record{i}.jsonl")
    with open(script, "w") as f:
        json.dump({"steps": STEPS}, f)
    server, url = start_server(script, record)
    env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home,
           "HEARTH_MODEL": "openai:scripted", "OPENAI_BASE_URL": url + "/v1"}
    if embedder:
        env["HEARTH_MODELS"] = os.environ.get("HEARTH_MODELS") or os.path.expanduser("~/.cache/hearth/models")
    try:
        started = time.perf_counter()
        child = subprocess.Popen([HEARTH, "run", "--sandbox", "full-access", "do the task"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = (time.perf_counter() - started) * 1000
        if status != 0:
            raise SystemExit(f"hearth run failed with status {status}")
        # The server's own time: replay the same five requests straight at it.
        server.terminate(); server.wait()
        requests = [json.loads(line) for line in open(record)]
        server, url = start_server(script, os.path.join(tmp, f"replay{i}.jsonl"))
        replay_started = time.perf_counter()
        for req in requests:
            body = json.dumps(req["body"]).encode()
            r = urllib.request.Request(url + req["path"], data=body, headers={"content-type": "application/json"})
            with urllib.request.urlopen(r) as resp:
                resp.read()
        server_ms = (time.perf_counter() - replay_started) * 1000
        return wall, server_ms, usage.ru_maxrss / 1024.0
    finally:
        server.terminate(); server.wait()


def median_ms(cmd, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--embedder", action="store_true")
    args = parser.parse_args()
    for path in (HEARTH, SERVER):
        if not os.path.exists(path):
            raise SystemExit(f"{path} missing: cargo build --release -p hearth -p hearth-testkit")
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "ctx")
        os.makedirs(home)
        ctx = json.loads(subprocess.run([HEARTH, "context", "--json"], env={"PATH": os.environ["PATH"], "HEARTH_HOME": home},
                                        capture_output=True, text=True, check=True).stdout)
        results = [run_once(tmp, i, args.embedder) for i in range(args.runs)]
    walls, servers, rss = zip(*results)
    print(json.dumps({
        "prompt": {"fixed_chars": ctx["fixed_chars"], "target_max": 8000},
        "run_task": {
            "runs": args.runs,
            "embedder": args.embedder,
            "steps": len(STEPS),
            "wall_ms_median": round(statistics.median(walls), 1),
            "server_ms_median": round(statistics.median(servers), 1),
            "overhead_ms_median": round(statistics.median(w - s for w, s in zip(walls, servers)), 1),
            "peak_rss_mb_max": round(max(rss), 1),
            "targets": {"overhead_ms": 100, "peak_rss_mb": 30},
        },
        "binary": {
            "bytes": os.path.getsize(HEARTH),
            "mb": round(os.path.getsize(HEARTH) / 1e6, 2),
            "version_ms_median": round(median_ms([HEARTH, "--version"], 50), 2),
            "targets": {"mb": 15, "version_ms": 10},
        },
    }, indent=2))


if __name__ == "__main__":
    main()
