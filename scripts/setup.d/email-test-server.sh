# Email test servers (sourced by scripts/setup.sh; uses $testing): Dovecot (IMAP + LMTP)
# from Debian, and aiosmtpd from PyPI into target/email-peers/venv as the SMTP server.
# The email channel's tests (crates/hearth-gateway/tests/email.rs, through
# hearth_testkit::MailServers) start a private Dovecot and an aiosmtpd relay
# (crates/hearth-testkit/mail/smtp_relay.py, which delivers into Dovecot over LMTP) on
# loopback once per test binary. Idempotent and quiet: nothing is fetched when the
# pinned version is already there.
if ((testing == 1)); then
  apt_install dovecot-imapd dovecot-lmtpd
  email_peers_dir="$(pwd)/target/email-peers"
  email_pip_packages=("aiosmtpd==1.4.6")
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then apt_install python3-venv; fi
  email_pip_stamp="$email_peers_dir/venv/.pip-${email_pip_packages[*]//[= ]/_}"
  if [[ ! -f "$email_pip_stamp" ]]; then
    echo "setup: installing aiosmtpd (the test SMTP server) into $email_peers_dir/venv" >&2
    mkdir -p "$email_peers_dir"
    python3 -m venv "$email_peers_dir/venv"
    "$email_peers_dir/venv/bin/pip" install --quiet --disable-pip-version-check "${email_pip_packages[@]}"
    rm -f "$email_peers_dir"/venv/.pip-* && touch "$email_pip_stamp"
  fi
fi
