"""The email tests' SMTP server: aiosmtpd on loopback, delivering every accepted mail
into the test Dovecot over LMTP, as a receiving mail server would.

Like a real receiving server it removes Authentication-Results headers that claim its
own authserv-id (RFC 8601 section 5) and adds its own on top. Its check is SPF on the
envelope sender, where every client on loopback is a permitted sender for every domain,
so `spf=pass smtp.mailfrom=` names the envelope sender's domain: a mail whose From
header names another domain is not authenticated for it (a forged From).

SMTP AUTH (PLAIN, LOGIN) is checked against Dovecot's passwd-file, without TLS (it is
loopback only); unauthenticated clients may send too, as from the Internet.

Usage: smtp_relay.py DIR DOVECOT_CONF SMTP_PORT LMTP_PORT AUTHSERV_ID
With HEARTH_RELAY_EVENTS=FILE, one JSON line per accepted mail is appended to FILE:
its Message-ID and In-Reply-To, the envelope, and time.monotonic() when its DATA
arrived and when Dovecot took it (bench/channels_email.py times replies with these).
Prints "ready" once listening; when stdin reaches end of file (the test process is
gone), stops Dovecot, removes DIR and exits.
"""

import asyncio
import email.parser
import json
import os
import shutil
import smtplib
import subprocess
import sys
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

DIRECTORY, CONF, SMTP_PORT, LMTP_PORT, AUTHSERV_ID = sys.argv[1:6]
# aiosmtpd 1.4 warns about its own use of Session.login_data on every AUTH.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def passwords():
    found = {}
    with open(os.path.join(DIRECTORY, "users"), encoding="utf-8") as users:
        for line in users:
            name, _, rest = line.partition(":")
            found[name] = rest.split(":", 1)[0].removeprefix("{PLAIN}")
    return found


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword):
        user = auth_data.login.decode().split("@")[0].lower()
        if passwords().get(user) == auth_data.password.decode():
            return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


def without_our_results(message: bytes) -> bytes:
    """The message without Authentication-Results headers naming AUTHSERV_ID."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = message.partition(b"\n\n")
    kept, dropping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        name, _, value = line.partition(b":")
        dropping = (
            name.strip().lower() == b"authentication-results"
            and value.split(b";")[0].strip().split(b" ")[0].decode(errors="replace").lower()
            == AUTHSERV_ID.lower()
        )
        if not dropping:
            kept.append(line)
    return b"".join(kept) + sep + body


class Relay:
    async def handle_DATA(self, server, session, envelope):
        arrived = time.monotonic()
        sender = envelope.mail_from or ""
        result = f"spf=pass smtp.mailfrom={sender}" if "@" in sender else "spf=none"
        header = f"Authentication-Results: {AUTHSERV_ID}; {result}\r\n".encode()
        message = header + without_our_results(envelope.original_content)

        def deliver():
            with smtplib.LMTP("127.0.0.1", int(LMTP_PORT)) as lmtp:
                lmtp.sendmail(sender, envelope.rcpt_tos, message)

        try:
            await asyncio.get_running_loop().run_in_executor(None, deliver)
        except smtplib.SMTPRecipientsRefused as err:
            return f"550 5.1.1 no such user: {sorted(err.recipients)}"
        except Exception as err:  # Dovecot down: the client tries again later.
            return f"451 4.3.0 delivery failed: {err}"
        events = os.environ.get("HEARTH_RELAY_EVENTS")
        if events:
            headers = email.parser.BytesHeaderParser().parsebytes(envelope.original_content)
            record = {"id": headers.get("Message-ID", ""), "in_reply_to": headers.get("In-Reply-To", ""),
                      "from": sender, "to": envelope.rcpt_tos, "arrived": arrived,
                      "delivered": time.monotonic()}
            with open(events, "a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
        return "250 2.0.0 delivered"


def main():
    controller = Controller(
        Relay(),
        hostname="127.0.0.1",
        port=int(SMTP_PORT),
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    print("ready", flush=True)
    sys.stdin.buffer.read()
    subprocess.run(["doveadm", "-c", CONF, "stop"], capture_output=True, check=False)
    controller.stop()
    shutil.rmtree(DIRECTORY, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    main()
