//! A real Matrix homeserver for tests: Synapse from `target/matrix-peers/venv`
//! (installed by `scripts/setup.d/matrix-test-server.sh`), started once per test binary
//! on loopback with a generated config (SQLite, registration closed, rate limits off)
//! and users registered through its shared-secret admin API.
//!
//! Synapse runs under a small Python launcher that exits (and removes the server's
//! directory) when its stdin reaches end of file; the test process holds the other end
//! of that pipe until it exits, so no Synapse outlives the test binary, however it ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The pinned Synapse the setup script installs.
pub const SYNAPSE_VERSION: &str = "1.163.2";

/// A running Synapse.
pub struct Synapse {
    base_url: String,
    dir: PathBuf,
    python: PathBuf,
    /// Holds the launcher's stdin open for as long as the process lives.
    _child: Mutex<Child>,
}

/// The venv the setup script makes: `HEARTH_SYNAPSE_VENV`, or the workspace's
/// `target/matrix-peers/venv`.
fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("HEARTH_SYNAPSE_VENV") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/matrix-peers/venv")
}

/// Writes the test config (`../synapse/configure.py`, shared with the Matrix bench).
const CONFIGURE: &str = include_str!("../synapse/configure.py");

/// Runs Synapse until stdin closes, then removes its directory.
const LAUNCHER: &str = "
import os, runpy, shutil, sys, threading
directory, config = sys.argv[1], sys.argv[2]
def watch():
    sys.stdin.buffer.read()
    shutil.rmtree(directory, ignore_errors=True)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv = ['synapse', '-c', config]
runpy.run_module('synapse.app.homeserver', run_name='__main__')
";

/// Registers `user password` pairs (`../synapse/register.py`, shared with the bench).
const REGISTER: &str = include_str!("../synapse/register.py");

impl Synapse {
    /// The shared server, started on first use. `Err` says why it cannot run (the venv
    /// is missing, or it did not start); pass it to [`crate::model_absent`]-style
    /// handling: [`synapse_absent`] skips, or fails under `CI`.
    pub fn shared() -> Result<&'static Synapse, String> {
        static SHARED: OnceLock<Result<Synapse, String>> = OnceLock::new();
        SHARED
            .get_or_init(Synapse::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The client-server API's base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The server name in user ids.
    pub fn server_name(&self) -> &str {
        "localhost"
    }

    /// Registers fresh users named after `names` (unique within this server: a counter
    /// and the process id are appended), each with password `pw-NAME`; their full ids.
    pub fn register(&self, names: &[&str]) -> Result<Vec<String>, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let run = NEXT.fetch_add(1, Ordering::Relaxed);
        let locals: Vec<String> = names
            .iter()
            .map(|name| format!("{name}{run}p{}", std::process::id()))
            .collect();
        let mut command = Command::new(&self.python);
        command
            .arg("-c")
            .arg(REGISTER)
            .arg(self.dir.join("homeserver.yaml"))
            .arg(&self.base_url);
        for local in &locals {
            command.arg(format!("{local} {}", password_of(local)));
        }
        let output = command
            .output()
            .map_err(|err| format!("cannot run the registration script: {err}"))?;
        if !output.status.success() {
            return Err(format!(
                "registering {locals:?} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(locals
            .iter()
            .map(|local| format!("@{local}:{}", self.server_name()))
            .collect())
    }

    fn start() -> Result<Synapse, String> {
        let venv = venv();
        let python = venv.join("bin/python");
        if !python.exists() {
            return Err(format!(
                "Synapse {SYNAPSE_VERSION} is not installed in {} (run scripts/setup.sh --test)",
                venv.display()
            ));
        }
        let dir = std::env::temp_dir().join(format!("hearth-synapse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let port = free_port()?;
        let configured = Command::new(&python)
            .arg("-c")
            .arg(CONFIGURE)
            .arg(&dir)
            .arg(port.to_string())
            .output()
            .map_err(|err| format!("cannot run Synapse: {err}"))?;
        if !configured.status.success() {
            return Err(format!(
                "Synapse's test config could not be written: {}",
                String::from_utf8_lossy(&configured.stderr)
            ));
        }
        let config = dir.join("homeserver.yaml");
        let log = std::fs::File::create(dir.join("stdout.log")).map_err(|err| err.to_string())?;
        let log_err = log.try_clone().map_err(|err| err.to_string())?;
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(LAUNCHER)
            .arg(&dir)
            .arg(&config)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|err| format!("cannot start Synapse: {err}"))?;
        let base_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(90);
        while !answers_versions(port) {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default();
                return Err(format!("Synapse exited ({status}) while starting: {log}"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("Synapse did not answer /_matrix/client/versions within 90 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Synapse {
            base_url,
            dir,
            python,
            _child: Mutex::new(child),
        })
    }
}

/// The password [`Synapse::register`] gives the user with this local part (or full id).
pub fn password_of(user: &str) -> String {
    let local = user
        .trim_start_matches('@')
        .split(':')
        .next()
        .unwrap_or(user);
    format!("pw-{local}")
}

/// Call where a test finds Synapse unavailable, just before it returns early: with `CI`
/// set this panics with `why` (a CI run must not pass by skipping); otherwise it returns
/// the reason for the test to print.
pub fn synapse_absent(why: &str) -> String {
    crate::model_absent(why).to_string()
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|err| err.to_string())?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|err| err.to_string())
}

fn answers_versions(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /_matrix/client/versions HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}
