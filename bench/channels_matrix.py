#!/usr/bin/env python3
"""Matrix channel figures for `hearth serve` with `[channels.matrix]` against a real
Synapse, printed as one JSON object.

- matrix_overhead (new_room: each message in a new room the owner invites the bot to,
  so a new session and agent; same_room: every message in one room): p50 (and p90) from
  the moment the gateway is handed the owner's message (the /sync answer carrying it is
  written by a pass-through proxy between the gateway and Synapse) to the moment the
  reply's PUT .../send/m.room.message reaches that proxy, minus p50 of the same model
  request sent straight to the scripted model server: what the channel layer and the
  gateway add (store the events and the sync token, route, pairing check, session, the
  turn's own writes, format, queue, send, and the join on a room's first reply)
- idle_rss_kb: VmRSS of the gateway with the Matrix channel connected and idle

Synapse comes from target/matrix-peers/venv (scripts/setup.sh --test); the helpers
shared with the Telegram figures are imported from bench/channels.py.

Builds nothing. Usage:
  cargo build --release -p hearth -p hearth-testkit   (or --profile debug)
  python3 bench/channels_matrix.py [--messages N] [--profile release]
"""
import argparse, http.client, json, os, socket, subprocess, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import channels
from channels import figures, model_time_p50, rss_kb, start_model

ROOT = channels.ROOT
VENV = os.path.join(ROOT, "target", "matrix-peers", "venv")
PYTHON = os.path.join(VENV, "bin", "python")
# The test Synapse's config and user registration, shared with hearth_testkit::synapse.
SYNAPSE_SCRIPTS = os.path.join(ROOT, "crates", "hearth-testkit", "synapse")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_synapse(tmp):
    data = os.path.join(tmp, "synapse")
    os.makedirs(data)
    port = free_port()
    subprocess.run([PYTHON, os.path.join(SYNAPSE_SCRIPTS, "configure.py"), data, str(port)],
                   check=True)
    config = os.path.join(data, "homeserver.yaml")
    proc = subprocess.Popen([PYTHON, "-m", "synapse.app.homeserver", "-c", config], cwd=data,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/_matrix/client/versions")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("Synapse did not start")
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port}"
    subprocess.run([PYTHON, os.path.join(SYNAPSE_SCRIPTS, "register.py"), config, url,
                    "bot pw-bot", "owner pw-owner"], check=True)
    return proc, port


class Client:
    """The owner, speaking the client-server API to Synapse directly."""

    def __init__(self, port, user):
        self.port, self.txn = port, 0
        answer = self.call("POST", "/login", {"type": "m.login.password", "password": "pw-" + user,
                                              "identifier": {"type": "m.id.user", "user": user}})
        self.token = answer["access_token"]

    def call(self, method, path, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"content-type": "application/json"}
        if getattr(self, "token", None):
            headers["authorization"] = "Bearer " + self.token
        conn.request(method, "/_matrix/client/v3" + path, json.dumps(body), headers)
        response = conn.getresponse()
        answer = json.loads(response.read() or b"{}")
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {answer}")
        return answer

    def say(self, room, text):
        self.txn += 1
        self.call("PUT", f"/rooms/{quote(room, safe='')}/send/m.room.message/bench-{self.txn}",
                  {"msgtype": "m.text", "body": text})


class Timings:
    """Per room: when the proxy handed the gateway a /sync with the owner's message, and
    when the bot's reply (not a greeting) came through it."""

    def __init__(self):
        self.lock = threading.Condition()
        self.handed_at, self.replied_at, self.greeted = {}, {}, set()


def proxy_handler(timings, upstream):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def forward(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            reply_room = None
            if self.command == "PUT" and "/send/m.room.message/" in self.path and body:
                room = self.path.split("/rooms/", 1)[1].split("/", 1)[0]
                text = json.loads(body).get("body", "")
                now = time.perf_counter()
                with timings.lock:
                    if text.startswith("Hello."):
                        timings.greeted.add(room)
                    else:
                        timings.replied_at.setdefault(room, now)
                    timings.lock.notify_all()
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body, headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            if self.path.startswith("/_matrix/client/v3/sync") and response.status == 200:
                now = time.perf_counter()
                joined = json.loads(data).get("rooms", {}).get("join", {})
                with timings.lock:
                    for room, content in joined.items():
                        for event in content.get("timeline", {}).get("events", []):
                            if event.get("content", {}).get("body", "").startswith("bench "):
                                timings.handed_at.setdefault(quote(room, safe=""), now)
                                timings.handed_at.setdefault(room, now)

        def forward_quietly(self):
            try:
                self.forward()
            except (ConnectionError, http.client.HTTPException):
                pass  # the gateway's long poll cut short as it shuts down

        do_GET = do_POST = do_PUT = forward_quietly

    return Handler


def measure(timings, owner, room, text):
    key = quote(room, safe="")
    with timings.lock:
        for table in (timings.handed_at, timings.replied_at):
            table.pop(key, None); table.pop(room, None)
    owner.say(room, text)
    with timings.lock:
        if not timings.lock.wait_for(lambda: key in timings.replied_at or room in timings.replied_at, timeout=60):
            raise SystemExit(f"no reply to {text!r}")
        replied = timings.replied_at.get(key, timings.replied_at.get(room))
        handed = timings.handed_at.get(key, timings.handed_at.get(room))
        return (replied - handed) * 1000


def new_room(timings, owner):
    room = owner.call("POST", "/createRoom", {"preset": "private_chat", "invite": ["@bot:localhost"]})["room_id"]
    key = quote(room, safe="")
    with timings.lock:
        if not timings.lock.wait_for(lambda: key in timings.greeted or room in timings.greeted, timeout=60):
            raise SystemExit("the bot did not join")
    return room


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--profile", default="release")
    args = parser.parse_args()
    hearth = os.path.join(ROOT, "target", args.profile, "hearth")
    server_bin = os.path.join(ROOT, "target", args.profile, "hearth-scripted-server")
    if not os.path.exists(PYTHON):
        raise SystemExit(f"Synapse is not installed in {VENV} (run scripts/setup.sh --test)")

    with tempfile.TemporaryDirectory() as tmp:
        synapse, port = start_synapse(tmp)
        timings = Timings()
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), proxy_handler(timings, port))
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(home, "workspace"))
        with open(os.path.join(home, "config.toml"), "w") as f:
            f.write(f'[channels.matrix]\nhomeserver = "http://127.0.0.1:{proxy.server_address[1]}"\n'
                    f'user = "@bot:localhost"\npassword = "secret:matrix"\n'
                    f'allowed_users = ["@owner:localhost"]\npoll_timeout_secs = 20\n')
        with open(os.path.join(home, "secrets.json"), "w") as f:
            json.dump({"matrix": "pw-bot"}, f)
        os.chmod(os.path.join(home, "secrets.json"), 0o600)
        record = os.path.join(tmp, "record.jsonl")
        model, url = start_model(server_bin, tmp, 2 * args.messages + 5, record)
        env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home,
               "HEARTH_MODEL": "openai:scripted", "OPENAI_BASE_URL": url + "/v1",
               "OPENAI_API_KEY": "sk-bench", "HEARTH_GATEWAY_TOKEN": "bench-gateway-token"}
        gateway = subprocess.Popen([hearth, "serve", "--listen", "127.0.0.1:0"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = ""
            while "listening on" not in line:
                line = gateway.stderr.readline() or "listening on (closed)"
                if os.environ.get("BENCH_DEBUG"):
                    print(line, end="")
            threading.Thread(target=lambda: [os.environ.get("BENCH_DEBUG") and print(line, end="")
                                             for line in gateway.stderr], daemon=True).start()
            owner = Client(port, "owner")
            time.sleep(3)
            idle_rss = rss_kb(gateway.pid)
            new = []
            for i in range(args.messages):
                room = new_room(timings, owner)
                new.append(measure(timings, owner, room, f"bench new {i}"))
            room = new_room(timings, owner)
            same = [measure(timings, owner, room, f"bench same {i}") for i in range(args.messages)]
            model_ms = model_time_p50(server_bin, tmp, record, 20)
        finally:
            gateway.terminate(); gateway.wait()
            model.terminate(); model.wait()
            proxy.shutdown()
            synapse.terminate(); synapse.wait()
    print(json.dumps({
        "matrix_overhead": {"new_room": figures(new, model_ms), "same_room": figures(same, model_ms)},
        "idle_rss_kb": idle_rss,
        "profile": args.profile,
    }, indent=2))


if __name__ == "__main__":
    main()
