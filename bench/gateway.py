#!/usr/bin/env python3
"""Gateway figures for `hearth serve`, printed as one JSON object.

- start: from spawning `hearth serve --listen 127.0.0.1:0` to the first answered
  `GET /health` (and to its "listening on" line); target <= 50 ms
- idle_rss: VmRSS of the gateway after a few seconds idle, no model loaded; target <= 15 MB
- overhead: p50 of one short turn through the gateway (POST /api/sessions/{id}/messages,
  read to the final event, a fresh session each time) minus p50 of the same model request
  sent straight to the scripted server; target <= 2 ms
- concurrent: N sessions running a turn at once (default 50): all complete, peak RSS
- many_turns: T short turns in a row (default 10,000; sessions of 10 turns), RSS at turn
  1,000 and at the end; growth target <= 5 MB

Builds nothing. Usage:
  cargo build --release -p hearth -p hearth-testkit
  python3 bench/gateway.py [--turns N] [--sessions N] [--overhead-runs N] [--profile release]
"""
import argparse, http.client, json, os, statistics, subprocess, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEARTH = SERVER = None  # set from --profile in main()
TOKEN = "bench-gateway-token"


def start_server(tmp, name, steps, record=None):
    script = os.path.join(tmp, f"{name}.json")
    with open(script, "w") as f:
        json.dump({"steps": [{"type": "text", "text": "ok"}] * steps}, f)
    cmd = [SERVER, "--script", script] + (["--record", record] if record else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        raise SystemExit(f"scripted server did not start: {line!r}")
    return proc, line[line.index("http://"):]


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} for pid {pid}")


class Gateway:
    """`hearth serve` on a free port with its own HEARTH_HOME, the scripted server as model."""

    def __init__(self, tmp, name, model_url):
        home = os.path.join(tmp, name)
        os.makedirs(os.path.join(home, "workspace"))
        env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home,
               "HEARTH_MODEL": "openai:scripted", "OPENAI_BASE_URL": model_url + "/v1",
               "OPENAI_API_KEY": "sk-bench", "HEARTH_GATEWAY_TOKEN": TOKEN}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([HEARTH, "serve", "--listen", "127.0.0.1:0"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        self.listening_ms = (time.perf_counter() - self.started) * 1000
        if "http://" not in line:
            raise SystemExit(f"hearth serve did not start: {line!r}")
        hostport = line.strip()[line.strip().index("http://") + 7:]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.health_ms = None
        # Drain stderr so the gateway never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def wait_healthy(self):
        while True:
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    self.health_ms = (time.perf_counter() - self.started) * 1000
                    conn.close()
                    return
            except OSError:
                time.sleep(0.0005)

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def new_session(conn):
    conn.request("POST", "/api/sessions", body="{}", headers=HEADERS)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 201:
        raise SystemExit(f"POST /api/sessions: {resp.status} {body[:300]!r}")
    return json.loads(body)["id"]


def turn(conn, session_id, text="hi"):
    """One turn, read to its last event; returns the final event."""
    conn.request("POST", f"/api/sessions/{session_id}/messages",
                 body=json.dumps({"text": text}), headers=HEADERS)
    resp = conn.getresponse()
    body = resp.read().decode()
    if resp.status != 200:
        raise SystemExit(f"POST messages: {resp.status} {body[:300]!r}")
    events = [json.loads(l[5:]) for l in body.splitlines() if l.startswith("data:")]
    if not events or events[-1].get("type") != "final":
        raise SystemExit(f"turn did not end with a final event: {body[-300:]!r}")
    return events[-1]


def p50_gateway(gateway, runs):
    conn = gateway.connection()
    times = []
    for i in range(runs + 5):
        session_id = new_session(conn)
        started = time.perf_counter()
        turn(conn, session_id)
        if i >= 5:  # warm-up
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def p50_server_alone(url, request, runs):
    host, port = url[len("http://"):].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    body = json.dumps(request["body"])
    times = []
    for i in range(runs + 5):
        started = time.perf_counter()
        conn.request("POST", request["path"], body=body, headers={"content-type": "application/json"})
        conn.getresponse().read()
        if i >= 5:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--overhead-runs", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
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
        record = os.path.join(tmp, "record.jsonl")
        server, url = start_server(tmp, "overhead", 2 * args.overhead_runs + 20, record)
        try:
            gateway = Gateway(tmp, "home1", url)
            gateway.wait_healthy()
            time.sleep(args.idle_seconds)
            out["start"] = {"to_health_ms": round(gateway.health_ms, 2),
                            "to_listening_line_ms": round(gateway.listening_ms, 2),
                            "target_ms": 50}
            out["idle_rss"] = {"mb": round(rss_kb(gateway.proc.pid) / 1024, 2),
                               "after_s": args.idle_seconds, "target_mb": 15}
            through_gateway = p50_gateway(gateway, args.overhead_runs)
            gateway.stop()
            with open(record) as f:
                last_request = json.loads(f.readlines()[-1])
            alone = p50_server_alone(url, last_request, args.overhead_runs)
            out["overhead"] = {"runs": args.overhead_runs,
                               "gateway_turn_p50_ms": round(through_gateway, 3),
                               "server_alone_p50_ms": round(alone, 3),
                               "overhead_p50_ms": round(through_gateway - alone, 3),
                               "target_ms": 2}
        finally:
            server.terminate(); server.wait()

        server, url = start_server(tmp, "bulk", args.sessions + args.turns + 20)
        try:
            gateway = Gateway(tmp, "home2", url)
            gateway.wait_healthy()
            ids = [new_session(gateway.connection()) for _ in range(args.sessions)]
            finals, errors = [], []

            def run_one(session_id):
                try:
                    finals.append(turn(gateway.connection(), session_id))
                except BaseException as err:  # SystemExit included: count it, go on
                    errors.append(str(err))

            threads = [threading.Thread(target=run_one, args=(i,)) for i in ids]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            out["concurrent"] = {
                "sessions": args.sessions,
                "completed": sum(1 for f in finals if f.get("end", {}).get("kind") == "completed"),
                "errors": errors[:3],
                "wall_ms": round((time.perf_counter() - started) * 1000, 1),
                "peak_rss_mb": round(rss_kb(gateway.proc.pid, "VmHWM") / 1024, 2),
            }

            conn = gateway.connection()
            rss_at = {}
            started = time.perf_counter()
            session_id = None
            for i in range(1, args.turns + 1):
                if i % 10 == 1:
                    session_id = new_session(conn)
                turn(conn, session_id)
                if i in (1_000, args.turns):
                    rss_at[i] = rss_kb(gateway.proc.pid) / 1024
            first_mark = 1_000 if 1_000 in rss_at else min(rss_at)
            out["many_turns"] = {
                "turns": args.turns,
                "turns_per_s": round(args.turns / (time.perf_counter() - started), 1),
                "rss_mb_at": {str(k): round(v, 2) for k, v in sorted(rss_at.items())},
                "growth_mb": round(rss_at[args.turns] - rss_at[first_mark], 2),
                "from_turn": first_mark,
                "target_growth_mb": 5,
            }
            gateway.stop()
        finally:
            server.terminate(); server.wait()
    out["profile"] = args.profile
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
