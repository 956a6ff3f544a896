//! Which sandbox mechanism works on this machine, found once per setting by actually
//! trying it: bubblewrap first, then the Landlock helper. The caller passes the
//! settings ([`MechanismSettings`]: a choice, from `HEARTH_SANDBOX=bubblewrap|landlock`
//! in the binary, and the helper program); this crate reads no environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::bwrap;
use crate::helper::HelperReport;
use crate::landlock::HelperProgram;
use crate::probe_cache;

/// The environment variable with which a user chooses the mechanism (read by the
/// caller, parsed with [`MechanismChoice::parse`]).
pub const MECHANISM_ENV: &str = "HEARTH_SANDBOX";

/// Which mechanism to use: the first that works, or one forced (to test the fallback,
/// or to avoid a broken bwrap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MechanismChoice {
    #[default]
    Auto,
    Bubblewrap,
    Landlock,
}

impl MechanismChoice {
    /// `bubblewrap` (or `bwrap`) and `landlock` force one; anything else is `Auto`, as
    /// `HEARTH_SANDBOX` has always been read.
    pub fn parse(value: &str) -> Self {
        match value {
            "bubblewrap" | "bwrap" => Self::Bubblewrap,
            "landlock" => Self::Landlock,
            _ => Self::Auto,
        }
    }
}

/// What [`probe_with`] needs from its caller: the choice, and how to start the Landlock
/// helper (the `hearth` binary passes itself with its hidden `__sandbox-helper`
/// argument); without a helper there is no Landlock fallback.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MechanismSettings {
    pub choice: MechanismChoice,
    pub helper: Option<HelperProgram>,
    /// A file in which to remember the probe's answer across processes (the runtime
    /// uses `$HEARTH_HOME/cache`, which no sandboxed command can write); `None` probes
    /// in every process. Its answer is not trusted to name another bwrap.
    pub probe_cache: Option<PathBuf>,
}

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

/// The mechanism that works here with the default settings: bubblewrap, or nothing
/// (no Landlock helper is known). See [`probe_with`].
pub fn probe() -> Mechanism {
    probe_with(&MechanismSettings::default())
}

/// The mechanism that works here under `settings`. The first call for given settings
/// runs a probe (a few milliseconds, blocking) unless `settings.probe_cache` remembers
/// a working answer for the same bwrap, helper and kernel; later calls return the
/// answer kept in memory.
pub fn probe_with(settings: &MechanismSettings) -> Mechanism {
    static PROBED: Mutex<Vec<(MechanismSettings, Mechanism)>> = Mutex::new(Vec::new());
    let mut probed = match PROBED.lock() {
        Ok(probed) => probed,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some((_, mechanism)) = probed.iter().find(|(known, _)| known == settings) {
        return mechanism.clone();
    }
    let mechanism = match &settings.probe_cache {
        Some(file) => probe_remembered(settings, file),
        None => probe_uncached(settings),
    };
    probed.push((settings.clone(), mechanism.clone()));
    mechanism
}

/// The answer remembered in `file` if still valid, else a fresh probe, remembered.
fn probe_remembered(settings: &MechanismSettings, file: &Path) -> Mechanism {
    let bwrap = find_bwrap();
    let key = probe_cache::probe_key(settings, bwrap.as_deref());
    if let Some(mechanism) = probe_cache::recall(file, &key, settings, bwrap.as_deref()) {
        return mechanism;
    }
    let mechanism = probe_uncached(settings);
    probe_cache::remember(file, &key, &mechanism);
    mechanism
}

fn probe_uncached(settings: &MechanismSettings) -> Mechanism {
    let bubblewrap = || match find_bwrap() {
        Some(path) => probe_bwrap(&path),
        None => Mechanism::Unavailable {
            reason: "bwrap (bubblewrap) is not on PATH nor at /usr/bin/bwrap".to_string(),
        },
    };
    let landlock = || match &settings.helper {
        Some(helper) => probe_landlock(helper),
        None => Mechanism::Unavailable {
            reason: "no Landlock helper program was given (MechanismSettings::helper)".to_string(),
        },
    };
    match settings.choice {
        MechanismChoice::Bubblewrap => bubblewrap(),
        MechanismChoice::Landlock => landlock(),
        MechanismChoice::Auto => match bubblewrap() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_is_read_as_hearth_sandbox_always_was() {
        assert_eq!(
            MechanismChoice::parse("bubblewrap"),
            MechanismChoice::Bubblewrap
        );
        assert_eq!(MechanismChoice::parse("bwrap"), MechanismChoice::Bubblewrap);
        assert_eq!(
            MechanismChoice::parse("landlock"),
            MechanismChoice::Landlock
        );
        assert_eq!(MechanismChoice::parse(""), MechanismChoice::Auto);
        assert_eq!(MechanismChoice::parse("other"), MechanismChoice::Auto);
    }

    #[test]
    fn landlock_without_a_helper_is_unavailable_and_says_why() {
        let settings = MechanismSettings {
            choice: MechanismChoice::Landlock,
            helper: None,
            probe_cache: None,
        };
        let mechanism = probe_with(&settings);
        assert!(!mechanism.is_available());
        assert!(
            mechanism.to_string().contains("no Landlock helper"),
            "{mechanism}"
        );
    }
}
