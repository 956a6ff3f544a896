#!/usr/bin/env python3
"""Figures for skills and MCP, printed as JSON:

- skills_prompt: characters the skills section adds to the system prompt for 1 and 50
  skills (100-character descriptions), from `hearth context --json`, and per skill.
- mcp_first_call: `hearth mcp list --json` with one stdio server (spawn + initialize +
  tools/list), minus the same command with no server; median over --runs.
- mcp_per_call: the cost of one more step of a `hearth run` whose scripted model calls
  `everything__echo` each step (slope between N and 3N steps), less the same for
  `list_dir`: what one MCP call over a stdio pipe adds to a built-in tool call (the
  loop and the loopback model round-trip are in both and cancel out).

Needs the MCP test peers (scripts/setup.sh --test) and a build with the skills/mcp
commands wired: cargo build --release -p hearth -p hearth-testkit
Usage: python3 bench/mcp_skills.py [--hearth PATH] [--runs N] [--calls N]
"""
import argparse, json, os, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target/release/hearth-scripted-server")
EVERYTHING = os.path.join(ROOT, "target/test-peers/node_modules/.bin/mcp-server-everything")


def home_with(tmp, name, config="", skills=0):
    home = os.path.join(tmp, name)
    os.makedirs(os.path.join(home, "workspace"), exist_ok=True)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(config)
    for i in range(skills):
        d = os.path.join(home, "workspace", "skills", f"skill-{i:02d}")
        os.makedirs(d, exist_ok=True)
        desc = ("Does job number %02d for the user; use it when a task mentions that job. " % i).ljust(100, "x")[:100]
        with open(os.path.join(d, "SKILL.md"), "w") as f:
            f.write(f"---\nname: skill-{i:02d}\ndescription: {desc}\n---\nSteps.\n")
    return home


def env_for(home, url=None):
    env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home, "HEARTH_MODEL": "openai:scripted"}
    if url:
        env["OPENAI_BASE_URL"] = url + "/v1"
    return env


def timed(cmd, env):
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr}")
    return elapsed, done.stdout


def skills_prompt(hearth, tmp):
    out = {}
    for n in (1, 50):
        home = home_with(tmp, f"skills{n}", skills=n)
        _, text = timed([hearth, "context", "--json"], env_for(home))
        part = next(p for p in json.loads(text)["parts"] if p["name"].startswith("skills ("))
        out[f"chars_{n}_skills"] = part["chars"]
        out[f"cut_chars_{n}_skills"] = part["cut_chars"]
    out["chars_per_skill"] = round((out["chars_50_skills"] - out["chars_1_skills"]) / 49, 1)
    out["header_chars"] = out["chars_1_skills"] - round(out["chars_per_skill"])
    return out


def first_call(hearth, tmp, runs):
    bare = home_with(tmp, "bare")
    served = home_with(tmp, "served", f'[mcp.servers.everything]\ncommand = "{EVERYTHING}"\nargs = ["stdio"]\n')
    base = statistics.median(timed([hearth, "mcp", "list", "--json"], env_for(bare))[0] for _ in range(runs))
    full = statistics.median(timed([hearth, "mcp", "list", "--json"], env_for(served))[0] for _ in range(runs))
    return {"hearth_mcp_list_no_server_ms": round(base, 1), "hearth_mcp_list_everything_ms": round(full, 1),
            "spawn_initialize_list_ms": round(full - base, 1)}


def run_with_calls(hearth, tmp, name, tool, args, calls, config):
    steps = [{"type": "tool_calls", "calls": [{"id": f"c{i}", "name": tool, "arguments": json.dumps(args)}]}
             for i in range(calls)] + [{"type": "text", "text": "done"}]
    script = os.path.join(tmp, f"{name}.json")
    with open(script, "w") as f:
        json.dump({"steps": steps}, f)
    server = subprocess.Popen([SERVER, "--script", script], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    url = line[line.index("http://"):]
    home = home_with(tmp, name, config)
    try:
        elapsed, _ = timed([hearth, "run", "--sandbox", "full-access", "go"], env_for(home, url))
    finally:
        server.terminate(); server.wait()
    return elapsed


def per_call(hearth, tmp, runs, calls):
    """The slope: (run with 3N calls - run with N calls) / 2N, MCP minus built-in."""
    config = f'[mcp.servers.everything]\ncommand = "{EVERYTHING}"\nargs = ["stdio"]\n'
    def median_run(kind, n):
        tool, args, cfg = (("everything__echo", {"message": "hi"}, config) if kind == "mcp"
                           else ("list_dir", {"path": "."}, ""))
        return statistics.median(run_with_calls(hearth, tmp, f"{kind}{n}_{r}", tool, args, n, cfg)
                                 for r in range(runs))
    low, high = calls, 3 * calls
    mcp_low, mcp_high = median_run("mcp", low), median_run("mcp", high)
    bi_low, bi_high = median_run("builtin", low), median_run("builtin", high)
    mcp_slope = (mcp_high - mcp_low) / (high - low)
    builtin_slope = (bi_high - bi_low) / (high - low)
    return {"calls_low": low, "calls_high": high,
            "mcp_step_ms": round(mcp_slope, 2), "builtin_step_ms": round(builtin_slope, 2),
            "per_call_overhead_ms": round(mcp_slope - builtin_slope, 2)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hearth", default=os.path.join(ROOT, "target/release/hearth"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = {"hearth": args.hearth, "skills_prompt": skills_prompt(args.hearth, tmp)}
        figures["mcp_first_call"] = first_call(args.hearth, tmp, args.runs)
        figures["mcp_per_call"] = per_call(args.hearth, tmp, args.runs, args.calls)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
