#!/usr/bin/env python3
"""Sub-agent figures for Hearth, printed as one JSON object.

One `hearth run` whose model answers its first step with four `spawn_agent` calls; each
child's model call is answered by the scripted server after `--child-ms` (a model that
takes that long), then the parent answers. Run with `[subagents] max_concurrent = 4`
(the children at once) and `= 1` (one after another), the same script both ways: the
median wall time of each and their ratio. The scripted server answers requests in the
order they arrive, so the script is the same in both modes.

Usage: cargo build --release -p hearth -p hearth-testkit && python3 bench/subagents.py
       [--runs 5] [--child-ms 1000] [--debug]
"""
import argparse, json, os, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILDREN = 4


def binaries(debug):
    profile = "debug" if debug else "release"
    hearth = os.path.join(ROOT, "target", profile, "hearth")
    server = os.path.join(ROOT, "target", profile, "hearth-scripted-server")
    for path in (hearth, server):
        if not os.path.exists(path):
            raise SystemExit(f"{path} missing: cargo build --{profile} -p hearth -p hearth-testkit")
    return hearth, server


def script(child_ms):
    calls = [{"id": f"s{i}", "name": "spawn_agent",
              "arguments": json.dumps({"task": f"Summarise part {i} of the report.", "tools": ["read_file"]})}
             for i in range(CHILDREN)]
    steps = [{"type": "tool_calls", "calls": calls}]
    steps += [{"type": "text", "text": f"Part summary {i}.", "delay_ms": child_ms} for i in range(CHILDREN)]
    steps.append({"type": "text", "text": "All four parts are summarised."})
    return {"steps": steps}


def run_once(tmp, name, max_concurrent, child_ms, hearth, server_bin):
    home = os.path.join(tmp, name)
    os.makedirs(os.path.join(home, "workspace"))
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(f"[subagents]\nmax_concurrent = {max_concurrent}\n")
    script_path = os.path.join(tmp, f"{name}.json")
    with open(script_path, "w") as f:
        json.dump(script(child_ms), f)
    server = subprocess.Popen([server_bin, "--script", script_path], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    if "http://" not in line:
        raise SystemExit(f"scripted server did not start: {line!r}")
    url = line[line.index("http://"):]
    env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home,
           "HEARTH_MODEL": "openai:scripted-model", "OPENAI_BASE_URL": url + "/v1"}
    try:
        started = time.perf_counter()
        out = subprocess.run([hearth, "run", "--no-stream", "Summarise the four parts."],
                             env=env, capture_output=True, text=True)
        wall = (time.perf_counter() - started) * 1000
        if out.returncode != 0 or "All four parts" not in out.stdout:
            raise SystemExit(f"{name}: hearth run failed ({out.returncode}): {out.stderr[-2000:]}")
        return wall
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child-ms", type=int, default=1000)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    hearth, server_bin = binaries(args.debug)
    at_once, in_a_row = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            at_once.append(run_once(tmp, f"at_once{i}", CHILDREN, args.child_ms, hearth, server_bin))
            in_a_row.append(run_once(tmp, f"in_a_row{i}", 1, args.child_ms, hearth, server_bin))
    print(json.dumps({
        "binaries": "debug" if args.debug else "release",
        "children": CHILDREN,
        "child_model_ms": args.child_ms,
        "runs": args.runs,
        "at_once_wall_ms_median": round(statistics.median(at_once), 1),
        "in_a_row_wall_ms_median": round(statistics.median(in_a_row), 1),
        "speedup": round(statistics.median(in_a_row) / statistics.median(at_once), 2),
    }, indent=2))


if __name__ == "__main__":
    main()
