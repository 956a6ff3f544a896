#!/usr/bin/env python3
"""Email channel figures for `hearth serve` with `[channels.email]` against a real
Dovecot (IMAP with IDLE, LMTP) and the tests' aiosmtpd relay, printed as one JSON object.

- email_overhead (new_thread: each mail starts a thread, so a new session and agent;
  same_thread: every mail answers the previous reply in one thread): p50 (and p90) from
  the moment Dovecot took the owner's mail into the bot's mailbox (the relay's LMTP
  delivery returned; IDLE tells the gateway) to the moment the reply's DATA reached the
  relay by SMTP, minus p50 of the same model request sent straight to the scripted
  model server: what the channel layer and the gateway add (IDLE wake-up, UID SEARCH
  and FETCH, parse, store the batch and its cursor, route, pairing check, session, the
  turn's own writes, compose, SMTP submission, and flagging \\Seen)
- idle_rss_kb: VmRSS of the gateway with the email channel connected and idle

The servers come from scripts/setup.sh --test (Dovecot from Debian, aiosmtpd in
target/email-peers/venv); run as root (Dovecot delivers as uid 65534).

Builds nothing. Usage:
  cargo build --release -p hearth -p hearth-testkit   (or --profile debug)
  python3 bench/channels_email.py [--messages N] [--profile release]
"""
import argparse, json, os, smtplib, socket, subprocess, tempfile, time

import channels
from channels import figures, model_time_p50, rss_kb, start_model

ROOT = channels.ROOT
PYTHON = os.path.join(ROOT, "target", "email-peers", "venv", "bin", "python")
RELAY = os.path.join(ROOT, "crates", "hearth-testkit", "mail", "smtp_relay.py")
DOMAIN = "hearth.test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on {port}")
            time.sleep(0.05)


def start_servers(tmp, events):
    """Dovecot and the relay in tmp/mail; users bot and owner (password pw)."""
    base = os.path.join(tmp, "mail")
    os.makedirs(os.path.join(base, "mail", "bot"))
    os.makedirs(os.path.join(base, "mail", "owner"))
    os.chmod(tmp, 0o755)
    os.chmod(base, 0o755)
    for path in ["mail", "mail/bot", "mail/owner"]:
        os.chown(os.path.join(base, path), 65534, 65534)
    with open(os.path.join(base, "users"), "w") as f:
        for user in ["bot", "owner"]:
            f.write(f"{user}:{{PLAIN}}pw:65534:65534::{base}/mail/{user}\n")
    imap, lmtp, smtp = free_port(), free_port(), free_port()
    conf = os.path.join(base, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""base_dir = {base}/run
state_dir = {base}/run
log_path = {base}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {base}/users
}}
userdb {{
  driver = passwd-file
  args = {base}/users
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
""")
    relay = subprocess.Popen([PYTHON, RELAY, base, conf, str(smtp), str(lmtp), "mx." + DOMAIN],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "HEARTH_RELAY_EVENTS": events})
    if relay.stdout.readline().strip() != "ready":
        raise SystemExit("the SMTP relay did not start")
    subprocess.run(["dovecot", "-c", conf], check=True)
    wait_port(imap)
    return relay, imap, smtp


def read_events(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def measure(smtp_port, events, mail_id, subject, parent=None, root=None):
    """Sends one mail from the owner; ms from its delivery to the reply's arrival."""
    head = (f"From: Owner <owner@{DOMAIN}>\r\nTo: bot@{DOMAIN}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mail_id}>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n")
    if parent:
        head += f"In-Reply-To: <{parent}>\r\nReferences: <{root}> <{parent}>\r\n"
    with smtplib.SMTP("127.0.0.1", smtp_port) as client:
        client.sendmail(f"owner@{DOMAIN}", [f"bot@{DOMAIN}"], (head + "\r\nhello\r\n").encode())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = read_events(events)
        sent = next((e for e in found if e["id"] == f"<{mail_id}>"), None)
        reply = next((e for e in found if e["in_reply_to"] == f"<{mail_id}>"), None)
        if sent and reply:
            return (reply["arrived"] - sent["delivered"]) * 1000, reply["id"].strip("<>")
        time.sleep(0.002)
    raise SystemExit(f"no reply to {mail_id}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--profile", default="release")
    args = parser.parse_args()
    hearth = os.path.join(ROOT, "target", args.profile, "hearth")
    server_bin = os.path.join(ROOT, "target", args.profile, "hearth-scripted-server")

    with tempfile.TemporaryDirectory() as tmp:
        events = os.path.join(tmp, "events.jsonl")
        relay, imap, smtp = start_servers(tmp, events)
        home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(home, "workspace"))
        with open(os.path.join(home, "config.toml"), "w") as f:
            f.write(f'[channels.email]\nimap = "127.0.0.1:{imap}"\nsmtp = "127.0.0.1:{smtp}"\n'
                    f'username = "bot"\npassword = "secret:email"\naddress = "bot@{DOMAIN}"\n'
                    f'allowed_senders = ["owner@{DOMAIN}"]\ntls = "none"\n')
        with open(os.path.join(home, "secrets.json"), "w") as f:
            json.dump({"email": "pw"}, f)
        os.chmod(os.path.join(home, "secrets.json"), 0o600)
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
            new_thread = [measure(smtp, events, f"new-{i}@bench", f"thread {i}")[0]
                          for i in range(args.messages)]
            same_thread, root, parent = [], "root@bench", None
            first, parent = measure(smtp, events, root, "one thread")
            for i in range(args.messages):
                took, parent = measure(smtp, events, f"same-{i}@bench", "Re: one thread",
                                       parent, root)
                same_thread.append(took)
            model_ms = model_time_p50(server_bin, tmp, record, 20)
        finally:
            gateway.terminate(); gateway.wait()
            model.terminate(); model.wait()
            relay.stdin.close(); relay.wait()
    print(json.dumps({
        "email_overhead": {
            "new_thread": figures(new_thread, model_ms),
            "same_thread": figures(same_thread, model_ms),
        },
        "idle_rss_kb": idle_rss,
        "profile": args.profile,
    }, indent=2))


if __name__ == "__main__":
    main()
