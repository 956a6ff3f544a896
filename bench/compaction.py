#!/usr/bin/env python3
"""Compaction figures for Hearth, printed as one JSON object.

A 200-turn scripted session (`hearth run --resume` per turn, the real binary against the
scripted model server over loopback) with a model whose window is 16,000 tokens
(`[models."openai:scripted-model"] context_window = 16000`), run three ways:

- openai_without_compaction: `[context] compact_at = 0` (the whole history every time)
- openai_with_compaction:    `[context] compact_at = 0.8`, `keep_recent_turns = 2`
- anthropic_with_compaction: the same over the Anthropic Messages wire

For each: the largest request's input tokens against the window, the input tokens sent
in total (every call in the ledger, summary calls included), the checkpoints written and
the time spent compacting. Token counts are the scripted server's (one token per four
bytes of request body), read back from the cost ledger in state.db.

Time spent compacting is measured from the store: for each checkpoint, the time from
the last message stored before it (the turn's user message) to the checkpoint row,
which is the summary call plus the checkpoint write (and the turn's memory capture).

Prompt caching: the scripted server reports `cache_read_input_tokens` only when a script
step says so; it does not simulate a cache, so the reported cached share is 0 by
construction and printed as such. `prefix_reusable_share` is computed instead from the
recorded Anthropic requests: per request, the bytes of the stable prefix (system + tools)
plus the leading messages identical to the previous request's (which Hearth's rolling
`cache_control` breakpoint put in the cache), over all request bytes; summary calls count
as not reusable. It is what a prompt cache could serve, not what a provider reported.

Every scripted answer is text (the summariser consumes the next step of the script, so
a step must make sense as either a turn's answer or a summary).

Usage: cargo build --release -p hearth -p hearth-testkit && python3 bench/compaction.py
       [--turns 200] [--debug]   (--debug uses target/debug binaries)
"""
import argparse, json, os, sqlite3, subprocess, tempfile, time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WINDOW = 16_000
FILLER = ("The weekly report covers the garden, the shed roof, the bicycle repairs and the "
          "plans for the spring planting, with notes on costs and who does what. ")


def binaries(debug):
    profile = "debug" if debug else "release"
    hearth = os.path.join(ROOT, "target", profile, "hearth")
    server = os.path.join(ROOT, "target", profile, "hearth-scripted-server")
    for path in (hearth, server):
        if not os.path.exists(path):
            raise SystemExit(f"{path} missing: cargo build --{profile} -p hearth -p hearth-testkit")
    return hearth, server


def script(turns):
    steps = []
    for i in range(turns + turns // 2):
        text = f"Answer {i}: noted. " + FILLER * 3
        steps.append({"type": "text", "text": text})
    return {"steps": steps}


def start_server(server_bin, script_path, record_path):
    proc = subprocess.Popen([server_bin, "--script", script_path, "--record", record_path],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        raise SystemExit(f"scripted server did not start: {line!r}")
    return proc, line[line.index("http://"):]


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_session(tmp, name, wire, compact_at, turns, hearth, server_bin):
    home = os.path.join(tmp, name)
    os.makedirs(os.path.join(home, "workspace"))
    model = f"{wire}:scripted-model"
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(f'[models."{model}"]\ncontext_window = {WINDOW}\n\n'
                f"[context]\ncompact_at = {compact_at}\nkeep_recent_turns = 2\n")
    script_path = os.path.join(tmp, f"{name}.json")
    record = os.path.join(tmp, f"{name}.jsonl")
    with open(script_path, "w") as f:
        json.dump(script(turns), f)
    server, url = start_server(server_bin, script_path, record)
    env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home, "HEARTH_MODEL": model}
    if wire == "openai":
        env["OPENAI_BASE_URL"] = url + "/v1"
    else:
        env.update({"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "scripted"})
    session = None
    started = time.perf_counter()
    try:
        for turn in range(turns):
            prompt = f"Turn {turn}: please keep this in mind. " + FILLER * 2
            args = [hearth, "run", "--json", "--no-stream"]
            if session:
                args += ["--resume", session]
            out = subprocess.run(args + [prompt], env=env, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"{name}: turn {turn} failed ({out.returncode}): {out.stderr[-2000:]}")
            if session is None:
                for line in out.stdout.splitlines():
                    event = json.loads(line)
                    if event.get("type") == "session_started":
                        session = event["session_id"]
                        break
                if session is None:
                    raise SystemExit(f"{name}: no session_started event in {out.stdout[:500]!r}")
    finally:
        server.terminate()
        server.wait()
    wall_s = time.perf_counter() - started

    db = sqlite3.connect(os.path.join(home, "state.db"))
    calls = db.execute("SELECT input_tokens, cached_tokens, cache_creation_tokens FROM usage_records").fetchall()
    checkpoints = db.execute(
        "SELECT created_at, tokens_before, tokens_after FROM checkpoints ORDER BY id").fetchall()
    compacting_ms = 0.0
    for created_at, _, _ in checkpoints:
        (before,) = db.execute("SELECT max(created_at) FROM messages WHERE created_at <= ?",
                               (created_at,)).fetchone()
        compacting_ms += (parse_time(created_at) - parse_time(before)).total_seconds() * 1000
    messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    db.close()

    # Anthropic counts cached input apart from input_tokens; OpenAI includes it.
    def total_input(row):
        inp, cached, written = row
        return inp + cached + written if wire == "anthropic" else inp
    inputs = [total_input(row) for row in calls]
    cached = sum(row[1] for row in calls)
    result = {
        "turns": turns,
        "model_calls": len(calls),
        "messages_stored": messages,
        "largest_request_tokens": max(inputs),
        "window_tokens": WINDOW,
        "largest_over_window": round(max(inputs) / WINDOW, 3),
        "requests_over_window": sum(1 for t in inputs if t > WINDOW),
        "total_input_tokens": sum(inputs),
        "checkpoints": len(checkpoints),
        "compacting_ms_total": round(compacting_ms, 1),
        "compacting_ms_mean": round(compacting_ms / len(checkpoints), 1) if checkpoints else 0.0,
        "session_wall_s": round(wall_s, 1),
    }
    if wire == "anthropic":
        result["cached_share_reported"] = round(cached / max(1, sum(inputs)), 4)
        result["cached_share_note"] = "the scripted server reports cache reads only when scripted: 0 here"
        result["prefix_reusable_share"] = prefix_reusable_share(record)
    return result


def strip_cache_control(value):
    if isinstance(value, dict):
        return {k: strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip_cache_control(v) for v in value]
    return value


def prefix_reusable_share(record):
    total = reusable = 0
    previous = None
    for line in open(record):
        body = json.loads(line)["body"]
        size = len(json.dumps(body))
        total += size
        system = strip_cache_control(body.get("system"))
        if isinstance(system, list) and system and "summarise" in system[0].get("text", "")[:40]:
            continue  # a summary call: another prefix, nothing reused
        messages = strip_cache_control(body.get("messages", []))
        stable = system, strip_cache_control(body.get("tools"))
        if previous and previous[0] == stable:
            shared = 0
            for mine, theirs in zip(messages, previous[1]):
                if mine != theirs:
                    break
                shared += 1
            reusable += len(json.dumps(stable)) + len(json.dumps(messages[:shared]))
        previous = (stable, messages)
    return round(reusable / max(1, total), 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    hearth, server_bin = binaries(args.debug)
    with tempfile.TemporaryDirectory() as tmp:
        without = run_session(tmp, "openai_without", "openai", 0, args.turns, hearth, server_bin)
        with_c = run_session(tmp, "openai_with", "openai", 0.8, args.turns, hearth, server_bin)
        anthropic = run_session(tmp, "anthropic_with", "anthropic", 0.8, args.turns, hearth, server_bin)
    print(json.dumps({
        "binaries": "debug" if args.debug else "release",
        "openai_without_compaction": without,
        "openai_with_compaction": with_c,
        "anthropic_with_compaction": anthropic,
        "input_tokens_saved_share": round(1 - with_c["total_input_tokens"] / without["total_input_tokens"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
