//! Real mail servers for the email channel's tests: a private Dovecot (IMAP with IDLE,
//! and LMTP) and an aiosmtpd SMTP server (`mail/smtp_relay.py`, from
//! `target/email-peers/venv`, installed by `scripts/setup.d/email-test-server.sh`) that
//! delivers into Dovecot over LMTP and stamps `Authentication-Results` as a receiving
//! server does. Started on loopback once per test binary ([`MailServers::shared`]);
//! a test that restarts Dovecot starts its own ([`MailServers::start`]).
//!
//! The relay stops Dovecot and removes the servers' directory when its stdin reaches end
//! of file; the test process holds the other end of that pipe until it exits, so no
//! server outlives the test binary, however it ends.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The domain of every test address.
pub const MAIL_DOMAIN: &str = "hearth.test";
/// The `authserv-id` the relay writes in `Authentication-Results`.
pub const MAIL_AUTHSERV_ID: &str = "mx.hearth.test";
/// Every test user's password.
pub const MAIL_PASSWORD: &str = "pw";
/// The uid and gid Dovecot delivers and reads mail as (`nobody`).
const MAIL_UID: u32 = 65534;

/// A running Dovecot and SMTP relay.
pub struct MailServers {
    dir: PathBuf,
    conf: PathBuf,
    imap_port: u16,
    smtp_port: u16,
    /// Holds the relay's stdin open for as long as the process lives.
    _relay: Mutex<Child>,
}

fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("HEARTH_EMAIL_VENV") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/email-peers/venv")
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|err| err.to_string())?;
    Ok(listener.local_addr().map_err(|err| err.to_string())?.port())
}

/// Waits until something listens on `port` (or, with `up == false`, nothing does).
fn wait_port(port: u16, up: bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() != up {
        if Instant::now() > deadline {
            return Err(format!(
                "port {port} did not {} in 20 s",
                if up { "open" } else { "close" }
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

fn dovecot_conf(dir: &Path, imap: u16, lmtp: u16) -> String {
    let dir = dir.display();
    format!(
        "base_dir = {dir}/run\nstate_dir = {dir}/run\nlog_path = {dir}/dovecot.log\n\
         protocols = imap lmtp\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
         auth_mechanisms = plain login\nauth_username_format = %Ln\n\
         mail_location = maildir:~/Maildir\n\
         default_internal_user = dovecot\ndefault_login_user = dovenull\n\
         default_internal_group = dovecot\nfirst_valid_uid = 1\n\
         passdb {{\n  driver = passwd-file\n  args = {dir}/users\n}}\n\
         userdb {{\n  driver = passwd-file\n  args = {dir}/users\n}}\n\
         service imap-login {{\n  inet_listener imap {{\n    port = {imap}\n  }}\n\
           inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {lmtp}\n  }}\n}}\n"
    )
}

impl MailServers {
    /// The servers shared by a test binary, started on first use. `Err` says why they
    /// cannot run; pass it to [`mail_servers_absent`].
    pub fn shared() -> Result<&'static MailServers, String> {
        static SHARED: OnceLock<Result<MailServers, String>> = OnceLock::new();
        SHARED
            .get_or_init(MailServers::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A private pair of servers (for a test that stops and starts Dovecot).
    pub fn start() -> Result<MailServers, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let python = venv().join("bin/python");
        if !python.exists() {
            return Err(format!(
                "aiosmtpd is not installed ({} is missing); run scripts/setup.sh --test",
                python.display()
            ));
        }
        for program in ["dovecot", "doveadm"] {
            let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .any(|dir| Path::new(dir).join(program).exists());
            if !found {
                return Err(format!(
                    "{program} is not installed; run scripts/setup.sh --test"
                ));
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "hearth-mail-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mail")).map_err(|err| err.to_string())?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|err| err.to_string())?;
        std::os::unix::fs::chown(dir.join("mail"), Some(MAIL_UID), Some(MAIL_UID))
            .map_err(|err| format!("cannot give the mail directory to uid {MAIL_UID}: {err}"))?;
        std::fs::write(dir.join("users"), "").map_err(|err| err.to_string())?;
        let (imap_port, lmtp_port, smtp_port) = (free_port()?, free_port()?, free_port()?);
        let conf = dir.join("dovecot.conf");
        std::fs::write(&conf, dovecot_conf(&dir, imap_port, lmtp_port))
            .map_err(|err| err.to_string())?;
        let mut relay = Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("mail/smtp_relay.py"))
            .arg(&dir)
            .arg(&conf)
            .arg(smtp_port.to_string())
            .arg(lmtp_port.to_string())
            .arg(MAIL_AUTHSERV_ID)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start the SMTP relay: {err}"))?;
        let mut ready = String::new();
        if let Some(stdout) = relay.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut ready);
        }
        if ready.trim() != "ready" {
            let _ = relay.kill();
            return Err("the SMTP relay did not start".into());
        }
        let servers = MailServers {
            dir,
            conf,
            imap_port,
            smtp_port,
            _relay: Mutex::new(relay),
        };
        servers.start_imap()?;
        Ok(servers)
    }

    /// `127.0.0.1:PORT` of IMAP.
    pub fn imap_address(&self) -> String {
        format!("127.0.0.1:{}", self.imap_port)
    }

    /// `127.0.0.1:PORT` of SMTP.
    pub fn smtp_address(&self) -> String {
        format!("127.0.0.1:{}", self.smtp_port)
    }

    /// Adds a user named after `name` (made unique in this server); its login. The
    /// address is `LOGIN@hearth.test`, the password [`MAIL_PASSWORD`].
    pub fn add_user(&self, name: &str) -> Result<String, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let login = format!("{name}{}", NEXT.fetch_add(1, Ordering::Relaxed)).to_lowercase();
        let home = self.dir.join("mail").join(&login);
        std::fs::create_dir_all(&home).map_err(|err| err.to_string())?;
        std::os::unix::fs::chown(&home, Some(MAIL_UID), Some(MAIL_UID))
            .map_err(|err| err.to_string())?;
        let line = format!(
            "{login}:{{PLAIN}}{MAIL_PASSWORD}:{MAIL_UID}:{MAIL_UID}::{}\n",
            home.display()
        );
        let mut users = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("users"))
            .map_err(|err| err.to_string())?;
        std::io::Write::write_all(&mut users, line.as_bytes()).map_err(|err| err.to_string())?;
        drop(users);
        // Dovecot rereads the file when it changes; wait until it knows the user.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let known = Command::new("doveadm")
                .arg("-c")
                .arg(&self.conf)
                .args(["user", &login])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if known {
                return Ok(login);
            }
            if Instant::now() > deadline {
                return Err(format!("dovecot never learnt the user {login}"));
            }
            std::thread::sleep(Duration::from_millis(100));
            // A change within the same second as the last read can go unnoticed: touch it.
            let _ = std::fs::OpenOptions::new()
                .append(true)
                .open(self.dir.join("users"))
                .and_then(|file| file.set_modified(std::time::SystemTime::now()));
        }
    }

    /// Starts Dovecot (again) and waits until IMAP listens.
    pub fn start_imap(&self) -> Result<(), String> {
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|err| format!("cannot run dovecot: {err}"))?;
        if !status.success() {
            return Err(format!(
                "dovecot did not start ({status}); see {}",
                self.dir.join("dovecot.log").display()
            ));
        }
        wait_port(self.imap_port, true)
    }

    /// Stops Dovecot and waits until IMAP is gone.
    pub fn stop_imap(&self) -> Result<(), String> {
        Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|err| format!("cannot run doveadm: {err}"))?;
        wait_port(self.imap_port, false)
    }

    /// Sends `message` (RFC 5322 text, `\n` or `\r\n` line ends) by SMTP, without
    /// logging in, with `envelope_from` as `MAIL FROM` and `to` as `RCPT TO`.
    pub async fn submit(&self, envelope_from: &str, to: &str, message: &str) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.smtp_port))
            .await
            .map_err(|err| err.to_string())?;
        let (read, mut write) = stream.into_split();
        let mut read = tokio::io::BufReader::new(read);
        let mut expect = async |code: &str| -> Result<(), String> {
            loop {
                let mut line = String::new();
                read.read_line(&mut line)
                    .await
                    .map_err(|err| err.to_string())?;
                if !line.starts_with(code) {
                    return Err(format!("SMTP: expected {code}, got {line:?}"));
                }
                if line.as_bytes().get(3) != Some(&b'-') {
                    return Ok(());
                }
            }
        };
        expect("220").await?;
        let mut data = message.replace("\r\n", "\n").replace('\n', "\r\n");
        if !data.ends_with("\r\n") {
            data.push_str("\r\n");
        }
        let data = data.replace("\r\n.", "\r\n..");
        for (command, code) in [
            ("EHLO test.client\r\n".to_string(), "250"),
            (format!("MAIL FROM:<{envelope_from}>\r\n"), "250"),
            (format!("RCPT TO:<{to}>\r\n"), "250"),
            ("DATA\r\n".to_string(), "354"),
            (format!("{data}.\r\n"), "250"),
            ("QUIT\r\n".to_string(), "221"),
        ] {
            write
                .write_all(command.as_bytes())
                .await
                .map_err(|err| err.to_string())?;
            expect(code).await?;
        }
        Ok(())
    }

    /// Every mail in `login`'s INBOX, read by IMAP (nothing is flagged), oldest first.
    pub async fn mailbox(&self, login: &str) -> Result<Vec<String>, String> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .map_err(|err| err.to_string())?;
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|err| err.to_string())?;
        let mut session = client
            .login(login, MAIL_PASSWORD)
            .await
            .map_err(|(err, _)| err.to_string())?;
        let mailbox = session
            .select("INBOX")
            .await
            .map_err(|err| err.to_string())?;
        let mut mails = Vec::new();
        if mailbox.exists > 0 {
            let fetches: Vec<_> = session
                .fetch("1:*", "(UID BODY.PEEK[])")
                .await
                .map_err(|err| err.to_string())?
                .try_collect()
                .await
                .map_err(|err| err.to_string())?;
            let mut found: Vec<(u32, String)> = fetches
                .iter()
                .filter_map(|fetch| {
                    Some((
                        fetch.uid?,
                        String::from_utf8_lossy(fetch.body()?).into_owned(),
                    ))
                })
                .collect();
            found.sort_by_key(|(uid, _)| *uid);
            mails = found.into_iter().map(|(_, mail)| mail).collect();
        }
        let _ = session.logout().await;
        Ok(mails)
    }

    /// The UIDs of `login`'s INBOX mail that is flagged `\Seen`.
    pub async fn seen(&self, login: &str) -> Result<Vec<u32>, String> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .map_err(|err| err.to_string())?;
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|err| err.to_string())?;
        let mut session = client
            .login(login, MAIL_PASSWORD)
            .await
            .map_err(|(err, _)| err.to_string())?;
        session
            .select("INBOX")
            .await
            .map_err(|err| err.to_string())?;
        let mut seen: Vec<u32> = session
            .uid_search("SEEN")
            .await
            .map_err(|err| err.to_string())?
            .into_iter()
            .collect();
        seen.sort_unstable();
        let _ = session.logout().await;
        Ok(seen)
    }
}

/// What an email test does when the servers cannot run: skip (returning the reason to
/// print) on a developer's machine, fail under `CI`.
pub fn mail_servers_absent(why: &str) -> &str {
    if std::env::var_os("CI").is_some() {
        panic!("the mail servers cannot run: {why}; CI is set, so this fails instead of skipping");
    }
    why
}
