#!/usr/bin/env python3
"""Gateway RSS with all three chat channels connected and idle, printed as JSON.

Starts the Telegram Bot API stub of bench/channels.py, Synapse (bench/channels_matrix.py,
from target/matrix-peers/venv) and Dovecot with the aiosmtpd relay
(bench/channels_email.py), a `hearth serve` with `[channels.telegram]`, `[channels.matrix]`
and `[channels.email]`, waits until `hearth channels status` shows all three connected,
then samples VmRSS five times, 2 s apart.

Builds nothing: `cargo build --release -p hearth -p hearth-testkit` first. Needs
`scripts/setup.sh --test` (Synapse, Dovecot, aiosmtpd) and root (Dovecot's mail users).
"""
import json, os, sys, tempfile, threading, time, subprocess
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import channels as tg, channels_matrix as mx, channels_email as em
from http.server import ThreadingHTTPServer
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
hearth=os.path.join(ROOT,"target","release","hearth"); server_bin=os.path.join(ROOT,"target","release","hearth-scripted-server")
with tempfile.TemporaryDirectory() as tmp:
    stub=tg.BotApiStub(); api=ThreadingHTTPServer(("127.0.0.1",0), tg.handler_for(stub)); threading.Thread(target=api.serve_forever,daemon=True).start()
    synapse, sport = mx.start_synapse(tmp)
    relay, imap, smtp = em.start_servers(tmp, os.path.join(tmp,"events.jsonl"))
    home=os.path.join(tmp,"home"); os.makedirs(os.path.join(home,"workspace"))
    with open(os.path.join(home,"config.toml"),"w") as f:
        f.write(f'[channels.telegram]\ntoken = "secret:telegram"\napi_base = "http://127.0.0.1:{api.server_address[1]}"\nallowed_users = [7]\npoll_timeout_secs = 5\n\n')
        f.write(f'[channels.matrix]\nhomeserver = "http://127.0.0.1:{sport}"\nuser = "@bot:localhost"\npassword = "secret:matrix"\nallowed_users = ["@owner:localhost"]\npoll_timeout_secs = 20\n\n')
        f.write(f'[channels.email]\nimap = "127.0.0.1:{imap}"\nsmtp = "127.0.0.1:{smtp}"\nusername = "bot"\npassword = "secret:email"\naddress = "bot@{em.DOMAIN}"\nallowed_senders = ["owner@{em.DOMAIN}"]\ntls = "none"\n')
    with open(os.path.join(home,"secrets.json"),"w") as f: json.dump({"telegram": tg.TOKEN, "matrix":"pw-bot","email":"pw"}, f)
    os.chmod(os.path.join(home,"secrets.json"),0o600)
    model,url=tg.start_model(server_bin,tmp,5,os.path.join(tmp,"rec.jsonl"))
    env={"PATH":os.environ["PATH"],"HOME":home,"HEARTH_HOME":home,"HEARTH_MODEL":"openai:scripted","OPENAI_BASE_URL":url+"/v1","OPENAI_API_KEY":"sk","HEARTH_GATEWAY_TOKEN":"bench-gateway-token-0123"}
    g=subprocess.Popen([hearth,"serve","--listen","127.0.0.1:0"],env=env,stdout=subprocess.DEVNULL,stderr=subprocess.PIPE,text=True)
    lines=[]
    while True:
        l=g.stderr.readline()
        lines.append(l)
        if "listening on" in l or not l: break
    for _ in range(30):
        time.sleep(1)
        st=subprocess.run([hearth,"channels","status","--json"],env=env,capture_output=True,text=True)
        if st.stdout.count('"connected"')==3: break
    time.sleep(3)
    rss=[tg.rss_kb(g.pid)]
    for _ in range(4): time.sleep(2); rss.append(tg.rss_kb(g.pid))
    g.terminate(); g.wait(); model.terminate(); relay.stdin.close(); relay.wait(); synapse.terminate(); synapse.wait(); api.shutdown()
    print(json.dumps({"idle_rss_kb": rss, "connections": {c["name"]: c["connection"] for c in json.loads(st.stdout)["channels"]}, "profile": "release"}, indent=2))
