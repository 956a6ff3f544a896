#!/usr/bin/env python3
"""Scheduler figures for `hearth serve`, printed as one JSON object.

- firing_delay: from a job's due time to the model request it causes (the scripted
  server appends each request to its record file as it arrives; a thread here stamps
  each new line, polling every 0.5 ms), p50/p95/max over N runs of a `--every 1s` job;
  target p95 <= 100 ms
- idle_jobs: gateway RSS and CPU time (utime + stime from /proc, 10 ms resolution) over
  30 s with 10,000 jobs none of which is due, against the same with 0 jobs, measured after
  a settle time (start-up planning and tokio's blocking threads retiring, ~10 s after
  their last use, are start-up costs, reported as to_settled_cpu_ms); target: no
  measurable CPU

Builds nothing. Usage:
  cargo build --release -p hearth -p hearth-testkit
  python3 bench/schedule.py [--runs N] [--jobs N] [--idle-seconds S] [--profile release]
"""
import argparse, json, os, sqlite3, statistics, subprocess, tempfile, threading, time
from datetime import datetime, timezone, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEARTH = SERVER = None  # set from --profile in main()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def start_server(tmp, steps, record):
    script = os.path.join(tmp, "script.json")
    with open(script, "w") as f:
        json.dump({"steps": [{"type": "text", "text": "ok"}] * steps}, f)
    proc = subprocess.Popen([SERVER, "--script", script, "--record", record],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        raise SystemExit(f"scripted server did not start: {line!r}")
    return proc, line[line.index("http://"):]


def env_for(home, model_url):
    return {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home,
            "HEARTH_MODEL": "openai:scripted", "OPENAI_BASE_URL": model_url + "/v1",
            "OPENAI_API_KEY": "sk-bench", "HEARTH_GATEWAY_TOKEN": "bench-schedule-token"}


def new_home(tmp, name):
    home = os.path.join(tmp, name)
    os.makedirs(os.path.join(home, "workspace"))
    return home


def hearth(env, *args):
    done = subprocess.run([HEARTH, *args], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"hearth {' '.join(args)}: {done.stderr}")
    return done.stdout


def start_gateway(env):
    proc = subprocess.Popen([HEARTH, "serve", "--listen", "127.0.0.1:0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit("hearth serve exited before listening")
        if line.startswith("listening on"):
            break
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc


def stop(proc):
    proc.terminate()
    proc.wait(timeout=60)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for {pid}")


def tail_arrivals(record, arrivals, stop_event):
    """Stamps each line appended to `record` with the time it was seen."""
    seen = 0
    while not stop_event.is_set():
        try:
            with open(record) as f:
                count = sum(1 for _ in f)
        except FileNotFoundError:
            count = 0
        now = time.time()
        while seen < count:
            arrivals.append(now)
            seen += 1
        time.sleep(0.0005)


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def firing_delay(tmp, runs):
    record = os.path.join(tmp, "record.jsonl")
    server, url = start_server(tmp, runs + 20, record)
    arrivals, stop_event = [], threading.Event()
    tailer = threading.Thread(target=tail_arrivals, args=(record, arrivals, stop_event), daemon=True)
    tailer.start()
    env = env_for(new_home(tmp, "firing"), url)
    gateway = start_gateway(env)
    try:
        hearth(env, "schedule", "add", "fire", "--every", "1s", "--prompt", "hi")
        deadline = time.time() + runs + 30
        while len(arrivals) < runs + 1 and time.time() < deadline:
            time.sleep(0.1)
        hearth(env, "schedule", "pause", "fire")
        time.sleep(1.5)
        history = json.loads(hearth(env, "schedule", "history", "fire", "--json", "--limit", "1000"))
    finally:
        stop(gateway)
        stop_event.set()
        server.terminate(); server.wait()
    history.sort(key=lambda run: run["due"])
    ran = [run for run in history if run["outcome"] != "skipped"]
    pairs = list(zip(ran, arrivals))[1:runs + 1]  # the first is a warm-up
    delays = sorted((arrival - parse_time(run["due"])) * 1000 for run, arrival in pairs)
    if not delays:
        raise SystemExit("no scheduled run reached the model")
    p95 = delays[min(len(delays) - 1, int(round(0.95 * (len(delays) - 1))))]
    return {"runs": len(delays), "p50_ms": round(statistics.median(delays), 2),
            "p95_ms": round(p95, 2), "max_ms": round(delays[-1], 2),
            "skipped": len(history) - len(ran), "target_p95_ms": 100}


def add_jobs(home, count):
    """Inserts `count` daily jobs straight into the state database (the CLI would take
    minutes for 10,000); the schema exists once `hearth schedule list` has run."""
    db = sqlite3.connect(os.path.join(home, "state.db"))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    anchor = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    rows = [(f"job{i:05}", "every", "1d", None, anchor, f"prompt {i}", "once", "cli", anchor)
            for i in range(count)]
    db.executemany("INSERT INTO jobs (name, schedule_kind, schedule_expr, zone, anchor, prompt,"
                   " catch_up, origin, created_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.execute("UPDATE jobs_version SET version = version + 1")
    db.commit()
    db.close()


def idle(tmp, url, jobs, seconds, settle):
    env = env_for(new_home(tmp, f"idle{jobs}"), url)
    hearth(env, "schedule", "list")
    if jobs:
        add_jobs(env["HEARTH_HOME"], jobs)
    started = time.perf_counter()
    gateway = start_gateway(env)
    listening_ms = (time.perf_counter() - started) * 1000
    try:
        time.sleep(settle)
        cpu0, rss0 = cpu_seconds(gateway.pid), rss_mb(gateway.pid)
        time.sleep(seconds)
        cpu1, rss1 = cpu_seconds(gateway.pid), rss_mb(gateway.pid)
        listed = json.loads(hearth(env, "schedule", "list", "--json"))
    finally:
        stop(gateway)
    return {"jobs": len(listed), "to_listening_ms": round(listening_ms, 1),
            "to_settled_cpu_ms": round(cpu0 * 1000, 1), "settle_s": settle,
            "cpu_ms_over_window": round((cpu1 - cpu0) * 1000, 1), "window_s": seconds,
            "rss_mb_start": round(rss0, 2), "rss_mb_end": round(rss1, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--settle-seconds", type=float, default=15.0)
    parser.add_argument("--profile", default="release", help="target/PROFILE to take the binaries from")
    args = parser.parse_args()
    global HEARTH, SERVER
    HEARTH = os.path.join(ROOT, "target", args.profile, "hearth")
    SERVER = os.path.join(ROOT, "target", args.profile, "hearth-scripted-server")
    for path in (HEARTH, SERVER):
        if not os.path.exists(path):
            raise SystemExit(f"{path} missing: cargo build --release -p hearth -p hearth-testkit")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        out["firing_delay"] = firing_delay(tmp, args.runs)
        record = os.path.join(tmp, "idle-record.jsonl")
        server, url = start_server(tmp, 10, record)
        try:
            out["idle_no_jobs"] = idle(tmp, url, 0, args.idle_seconds, args.settle_seconds)
            out["idle_many_jobs"] = idle(tmp, url, args.jobs, args.idle_seconds, args.settle_seconds)
        finally:
            server.terminate(); server.wait()
        with open(record) as f:
            out["idle_model_requests"] = sum(1 for _ in f)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
