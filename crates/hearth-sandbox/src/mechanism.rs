//! Which sandbox mechanism works on this machine, found once by actually trying it:
//! bubblewrap first, then the Landlock helper. `HEARTH_SANDBOX=bubblewrap|landlock`
//! picks one (to test the fallback, or to avoid a broken bwrap).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::bwrap;
use crate::helper::HelperReport;
use crate::landlock::{helper_program, HelperProgram};

/// The environment variable that chooses the mechanism.
pub const MECHANISM_ENV: &str = "HEARTH_SANDBOX";

/// The mechanism [`crate::run`] uses for the sandboxed modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// bubblewrap at `path` ran a probe command with every namespace Hearth asks for.
    Bubblewrap { path: PathBuf },
    /// The helper restricts itself with Landlock and seccomp (and namespaces where the
    /// kernel allows them) and execs the command; `report` is what its probe enforced.
    Landlock {
        helper: HelperProgram,
        report: HelperReport,
    },
    /// Nothing works; sandboxed modes are refused, `full-access` still runs.
    Unavailable { reason: String },
}

impl Mechanism {
    pub fn is_available(&self) -> bool {
        !matches!(self, Self::Unavailable { .. })
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bubblewrap { path } => write!(f, "bubblewrap ({})", path.display()),
            Self::Landlock { report, .. } => {
                write!(
                    f,
                    "Landlock ABI {}{} + seccomp",
                    report.landlock_abi,
                    if report.landlock_full {
                        ""
                    } else {
                        " (partly enforced: an older kernel)"
                    }
                )?;
                if report.namespaces {
                    write!(f, " + namespaces")
                } else {
                    write!(
                        f,
                        "; no namespaces here, so .git stays writable and the network \
                         is cut only by seccomp and Landlock"
                    )
                }
            }
            Self::Unavailable { reason } => write!(f, "unavailable: {reason}"),
        }
    }
}

/// The mechanism that works here. The first call runs a probe once (a few
/// milliseconds, blocking); later calls return the cached answer.
pub fn probe() -> Mechanism {
    static PROBED: OnceLock<Mechanism> = OnceLock::new();
    PROBED.get_or_init(probe_uncached).clone()
}

fn probe_uncached() -> Mechanism {
    let choice = std::env::var(MECHANISM_ENV).unwrap_or_default();
    let bubblewrap = || match find_bwrap() {
        Some(path) => probe_bwrap(&path),
        None => Mechanism::Unavailable {
            reason: "bwrap (bubblewrap) is not on PATH nor at /usr/bin/bwrap".to_string(),
        },
    };
    let landlock = || match helper_program() {
        Some(helper) => probe_landlock(helper),
        None => Mechanism::Unavailable {
            reason: "no Landlock helper program is registered".to_string(),
        },
    };
    match choice.as_str() {
        "bubblewrap" | "bwrap" => bubblewrap(),
        "landlock" => landlock(),
        _ => match bubblewrap() {
            Mechanism::Unavailable { reason: first } => match landlock() {
                Mechanism::Unavailable { reason: second } => Mechanism::Unavailable {
                    reason: format!("{first}; and the Landlock fallback: {second}"),
                },
                works => works,
            },
            works => works,
        },
    }
}

/// Runs the helper's `--probe`: it restricts itself as for a real command and says
/// what it managed to enforce.
pub fn probe_landlock(helper: &HelperProgram) -> Mechanism {
    let result = Command::new(&helper.program)
        .args(&helper.args)
        .arg("--probe")
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    match result {
        Ok(output) if output.status.success() => {
            match serde_json::from_slice::<HelperReport>(&output.stdout) {
                Ok(report) => Mechanism::Landlock {
                    helper: helper.clone(),
                    report,
                },
                Err(error) => Mechanism::Unavailable {
                    reason: format!(
                        "the Landlock helper's probe said something unreadable: {error}"
                    ),
                },
            }
        }
        Ok(output) => Mechanism::Unavailable {
            reason: format!(
                "the Landlock helper failed its probe ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        },
        Err(error) => Mechanism::Unavailable {
            reason: format!(
                "the Landlock helper {} could not be started: {error}",
                helper.program.display()
            ),
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
