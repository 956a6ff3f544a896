#!/usr/bin/env python3
"""Channel figures for `hearth serve` with `[channels.telegram]`, printed as one JSON object.

- telegram_overhead (new_chat: each message in a new chat, so a new session and agent;
  same_chat: every message in one chat, its session and agent reused): p50 (and p90) from the moment the Bot API stub hands an update to
  the gateway (its getUpdates answer is written) to the moment the reply's sendMessage
  arrives, minus p50 of the same model request sent straight to the scripted model
  server: what the channel layer and the gateway add (store the update and the cursor,
  route, pairing check, session, the turn's own writes, format, queue, send)
- idle_rss_kb: VmRSS of the gateway with the Telegram channel connected and idle

The Bot API side is a minimal stdlib stub in this file (getUpdates long polling,
sendMessage, sendChatAction), not Telegram: no Telegram server can run here. The
allowed user's messages are sent one at a time, each after the previous reply, each in
a new chat (new_chat) or in one chat (same_chat).

Builds nothing. Usage:
  cargo build --release -p hearth -p hearth-testkit   (or --profile debug)
  python3 bench/channels.py [--messages N] [--profile release]
"""
import argparse, http.client, json, os, statistics, subprocess, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "1:bench-token"
OWNER = 7


class BotApiStub:
    """Updates to hand out and, per chat, when its update left and its reply arrived."""

    def __init__(self):
        self.lock = threading.Condition()
        self.updates = []
        self.next_update = 1
        self.next_message = 1
        self.handed_at = {}   # chat -> perf_counter when the update was written out
        self.replied_at = {}  # chat -> perf_counter when sendMessage arrived

    def push(self, chat, text):
        with self.lock:
            update = {"update_id": self.next_update, "message": {
                "message_id": self.next_message, "date": 0, "text": text,
                "from": {"id": OWNER, "is_bot": False, "first_name": "owner"},
                "chat": {"id": chat, "type": "private"}}}
            self.next_update += 1
            self.next_message += 1
            self.updates.append(update)
            self.lock.notify_all()

    def get_updates(self, body):
        offset, wait = body.get("offset"), min(body.get("timeout", 0), 50)
        deadline = time.monotonic() + wait
        with self.lock:
            while True:
                if offset is not None:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if self.updates or time.monotonic() >= deadline:
                    return list(self.updates)
                self.lock.wait(timeout=max(0.0, deadline - time.monotonic()))


def handler_for(stub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: without this, Nagle holds the body for the
        # client's delayed ACK (~40 ms), which would be counted as Hearth's time.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            method = self.path.rsplit("/", 1)[-1]
            if method == "getUpdates":
                updates = stub.get_updates(body)
                self.answer(updates)
                now = time.perf_counter()
                with stub.lock:
                    for update in updates:
                        stub.handed_at.setdefault(update["message"]["chat"]["id"], now)
                return
            if method == "sendMessage":
                now = time.perf_counter()
                chat = int(body["chat_id"])
                with stub.lock:
                    stub.replied_at.setdefault(chat, now)
                    message_id = stub.next_message
                    stub.next_message += 1
                    stub.lock.notify_all()
                return self.answer({"message_id": message_id, "date": 0,
                                    "chat": {"id": chat, "type": "private"}, "text": body["text"]})
            self.answer(True)

        def answer(self, result):
            data = json.dumps({"ok": True, "result": result}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

    return Handler


def start_model(server_bin, tmp, steps, record=None):
    script = os.path.join(tmp, "script.json")
    with open(script, "w") as f:
        json.dump({"steps": [{"type": "text", "text": "ok"}] * steps}, f)
    cmd = [server_bin, "--script", script] + (["--record", record] if record else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if "http://" not in line:
        raise SystemExit(f"scripted server did not start: {line!r}")
    return proc, line[line.index("http://"):]


def model_time_p50(server_bin, tmp, record, runs):
    """p50 of the recorded first model request replayed straight at a fresh server."""
    first = json.loads(open(record).readline())
    proc, url = start_model(server_bin, tmp, runs + 1)
    host, port = url[len("http://"):].split(":")
    times = []
    try:
        for _ in range(runs):
            conn = http.client.HTTPConnection(host, int(port))
            body = json.dumps(first["body"])
            started = time.perf_counter()
            conn.request("POST", first["path"], body, {"content-type": "application/json"})
            conn.getresponse().read()
            times.append((time.perf_counter() - started) * 1000)
            conn.close()
    finally:
        proc.terminate(); proc.wait()
    return statistics.median(times)


def measure(stub, chat, text):
    """ms from the update handed out to its reply's sendMessage, for one message."""
    with stub.lock:
        stub.handed_at.pop(chat, None)
        stub.replied_at.pop(chat, None)
    stub.push(chat, text)
    with stub.lock:
        if not stub.lock.wait_for(lambda: chat in stub.replied_at, timeout=30):
            raise SystemExit(f"no reply to {text!r}")
        return (stub.replied_at[chat] - stub.handed_at[chat]) * 1000


def figures(totals, model_ms):
    totals = sorted(totals)
    p50 = statistics.median(totals)
    return {
        "messages": len(totals),
        "received_to_reply_p50_ms": round(p50, 2),
        "received_to_reply_p90_ms": round(totals[int(len(totals) * 0.9) - 1], 2),
        "model_request_p50_ms": round(model_ms, 2),
        "overhead_p50_ms": round(p50 - model_ms, 2),
    }


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--profile", default="release")
    args = parser.parse_args()
    hearth = os.path.join(ROOT, "target", args.profile, "hearth")
    server_bin = os.path.join(ROOT, "target", args.profile, "hearth-scripted-server")

    stub = BotApiStub()
    api = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(stub))
    threading.Thread(target=api.serve_forever, daemon=True).start()
    api_base = f"http://127.0.0.1:{api.server_address[1]}"

    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(home, "workspace"))
        with open(os.path.join(home, "config.toml"), "w") as f:
            f.write(f'[channels.telegram]\ntoken = "{TOKEN}"\napi_base = "{api_base}"\n'
                    f'allowed_users = [{OWNER}]\npoll_timeout_secs = 20\n')
        record = os.path.join(tmp, "record.jsonl")
        model, url = start_model(server_bin, tmp, 2 * args.messages + 5, record)
        env = {"PATH": os.environ["PATH"], "HOME": home, "HEARTH_HOME": home,
               "HEARTH_MODEL": "openai:scripted", "OPENAI_BASE_URL": url + "/v1",
               "OPENAI_API_KEY": "sk-bench", "HEARTH_GATEWAY_TOKEN": "bench-gateway-token"}
        gateway = subprocess.Popen([hearth, "serve", "--listen", "127.0.0.1:0"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            while "listening on" not in (gateway.stderr.readline() or "listening on"):
                pass
            time.sleep(2)
            idle_rss = rss_kb(gateway.pid)
            new_chat = [measure(stub, 1000 + i, f"message {i}") for i in range(args.messages)]
            same_chat = [measure(stub, 5, f"again {i}") for i in range(args.messages)]
            model_ms = model_time_p50(server_bin, tmp, record, 20)
        finally:
            gateway.terminate(); gateway.wait()
            model.terminate(); model.wait()
            api.shutdown()
    print(json.dumps({
        "telegram_overhead": {
            "new_chat": figures(new_chat, model_ms),
            "same_chat": figures(same_chat, model_ms),
        },
        "idle_rss_kb": idle_rss,
        "profile": args.profile,
    }, indent=2))


if __name__ == "__main__":
    main()
