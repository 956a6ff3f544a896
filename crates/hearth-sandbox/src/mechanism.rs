//! Which sandbox mechanism works on this machine, found once by actually trying it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::bwrap;

/// The mechanism [`crate::run`] uses for the sandboxed modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// bubblewrap at `path` ran a probe command with every namespace Hearth asks for.
    Bubblewrap { path: PathBuf },
    /// Nothing works; sandboxed modes are refused, `full-access` still runs.
    Unavailable { reason: String },
}

impl Mechanism {
    pub fn is_available(&self) -> bool {
        matches!(self, Self::Bubblewrap { .. })
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bubblewrap { path } => write!(f, "bubblewrap ({})", path.display()),
            Self::Unavailable { reason } => write!(f, "unavailable: {reason}"),
        }
    }
}

/// The mechanism that works here. The first call runs `bwrap ... true` once (a few
/// milliseconds, blocking); later calls return the cached answer.
pub fn probe() -> Mechanism {
    static PROBED: OnceLock<Mechanism> = OnceLock::new();
    PROBED.get_or_init(probe_uncached).clone()
}

fn probe_uncached() -> Mechanism {
    match find_bwrap() {
        Some(path) => probe_bwrap(&path),
        None => Mechanism::Unavailable {
            reason: "bwrap (bubblewrap) is not on PATH nor at /usr/bin/bwrap".to_string(),
        },
    }
}

fn find_bwrap() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|dir| dir.join("bwrap"))
        .chain(std::iter::once(PathBuf::from("/usr/bin/bwrap")))
        .find(|candidate| candidate.is_file())
}

/// Runs `true` under the same namespaces and mounts a real command gets (network
/// unshared), so a machine that forbids user namespaces is found out here, not later.
pub fn probe_bwrap(path: &Path) -> Mechanism {
    let result = Command::new(path)
        .args(bwrap::probe_args())
        .arg("true")
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match result {
        Ok(output) if output.status.success() => Mechanism::Bubblewrap {
            path: path.to_path_buf(),
        },
        Ok(output) => Mechanism::Unavailable {
            reason: format!(
                "{} failed its probe ({}): {}",
                path.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        },
        Err(error) => Mechanism::Unavailable {
            reason: format!("{} could not be started: {error}", path.display()),
        },
    }
}
