//! The mechanism probe remembered across processes: a small JSON file (the caller
//! names it in [`crate::MechanismSettings::probe_cache`]) holding the last working
//! mechanism under a key made of everything the answer depends on: the choice, the
//! bwrap binary (path, size, modification time), the helper program (path, arguments,
//! size, modification time), the kernel release and the user-namespace sysctls. Any
//! change, an unreadable or corrupt file, or another version's file means probing
//! again (and rewriting the file). Only a working mechanism is remembered: an
//! unavailable one is probed every time, so a fix is seen at once.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::helper::HelperReport;
use crate::mechanism::{Mechanism, MechanismSettings};

/// Bumped when the file's meaning changes; another version's file is ignored.
const FORMAT_VERSION: u32 = 1;

/// Kernel settings that decide whether unprivileged namespaces work.
const KERNEL_FILES: [&str; 4] = [
    "/proc/sys/kernel/osrelease",
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
];

#[derive(Debug, Serialize, Deserialize)]
struct ProbeFile {
    version: u32,
    key: String,
    found: Remembered,
}

/// A working mechanism, without what the settings already say (the helper program).
#[derive(Debug, Serialize, Deserialize)]
enum Remembered {
    Bubblewrap { path: PathBuf },
    Landlock { report: HelperReport },
}

/// What a file's identity is for the key: its path, size and modification time, or
/// that it is missing.
fn file_identity(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(meta) => format!(
            "{}:{}:{}.{}",
            path.display(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec()
        ),
        Err(_) => format!("{}:missing", path.display()),
    }
}

/// The key the remembered answer is valid under, for these settings and this bwrap.
pub(crate) fn probe_key(settings: &MechanismSettings, bwrap: Option<&Path>) -> String {
    let mut key = format!("choice={:?}", settings.choice);
    key.push_str(&format!(
        "|bwrap={}",
        bwrap.map_or_else(|| "none".to_string(), file_identity)
    ));
    match &settings.helper {
        Some(helper) => key.push_str(&format!(
            "|helper={}:{:?}",
            file_identity(&helper.program),
            helper.args
        )),
        None => key.push_str("|helper=none"),
    }
    for file in KERNEL_FILES {
        let value = std::fs::read_to_string(file).unwrap_or_default();
        key.push_str(&format!("|{file}={}", value.trim()));
    }
    key
}

/// The mechanism remembered in `file` under `key`, or `None` when there is none, the
/// key differs, or the file is unreadable or corrupt (each logged at debug level).
///
/// The file is not trusted to say *what* to run: it may lie where a sandboxed command
/// can write (the model cache inside a `-C ~` workspace), and its key is computable.
/// So a remembered bubblewrap is taken only when it is `bwrap`, the very program the
/// key was made from, and the Landlock helper always comes from `settings`.
pub(crate) fn recall(
    file: &Path,
    key: &str,
    settings: &MechanismSettings,
    bwrap: Option<&Path>,
) -> Option<Mechanism> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::debug!("no sandbox probe cache at {}: {error}", file.display());
            return None;
        }
    };
    let remembered: ProbeFile = match serde_json::from_slice(&bytes) {
        Ok(remembered) => remembered,
        Err(error) => {
            tracing::debug!(
                "ignoring corrupt sandbox probe cache {}: {error}",
                file.display()
            );
            return None;
        }
    };
    if remembered.version != FORMAT_VERSION || remembered.key != key {
        tracing::debug!(
            "sandbox probe cache {} is stale (bwrap, helper or kernel changed)",
            file.display()
        );
        return None;
    }
    match remembered.found {
        Remembered::Bubblewrap { path } => {
            if bwrap != Some(path.as_path()) {
                tracing::warn!(
                    "ignoring sandbox probe cache {}: it names {} as bubblewrap",
                    file.display(),
                    path.display()
                );
                return None;
            }
            Some(Mechanism::Bubblewrap { path })
        }
        Remembered::Landlock { report } => Some(Mechanism::Landlock {
            helper: settings.helper.clone()?,
            report,
        }),
    }
}

/// Remembers `mechanism` in `file` under `key` if it works (written to a temporary
/// file and renamed, so a reader never sees half of it). Failure only costs the next
/// process a probe, so it is logged, not returned.
pub(crate) fn remember(file: &Path, key: &str, mechanism: &Mechanism) {
    let found = match mechanism {
        Mechanism::Bubblewrap { path } => Remembered::Bubblewrap { path: path.clone() },
        Mechanism::Landlock { report, .. } => Remembered::Landlock {
            report: report.clone(),
        },
        Mechanism::Unavailable { .. } => return,
    };
    let contents = ProbeFile {
        version: FORMAT_VERSION,
        key: key.to_string(),
        found,
    };
    if let Err(error) = write_atomically(file, &contents) {
        tracing::debug!(
            "could not write the sandbox probe cache {}: {error}",
            file.display()
        );
    }
}

fn write_atomically(file: &Path, contents: &ProbeFile) -> std::io::Result<()> {
    let dir = match file.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec(contents).map_err(std::io::Error::other)?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut temporary, &json)?;
    temporary.persist(file).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::MechanismChoice;

    fn settings() -> MechanismSettings {
        MechanismSettings {
            choice: MechanismChoice::Auto,
            helper: None,
            probe_cache: None,
        }
    }

    #[test]
    fn a_remembered_mechanism_comes_back_under_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let bwrap = dir.path().join("bwrap");
        std::fs::write(&bwrap, "v1").unwrap();
        let file = dir.path().join("cache/sandbox-probe.json");
        let key = probe_key(&settings(), Some(&bwrap));
        let works = Mechanism::Bubblewrap {
            path: bwrap.clone(),
        };
        remember(&file, &key, &works);
        assert_eq!(recall(&file, &key, &settings(), Some(&bwrap)), Some(works));

        // bwrap replaced (another size): the key changes and the answer is not trusted.
        std::fs::write(&bwrap, "version 2").unwrap();
        let new_key = probe_key(&settings(), Some(&bwrap));
        assert_ne!(new_key, key);
        assert_eq!(recall(&file, &new_key, &settings(), Some(&bwrap)), None);
        // Another choice is another key too.
        let forced = MechanismSettings {
            choice: MechanismChoice::Landlock,
            ..settings()
        };
        assert_ne!(probe_key(&forced, Some(&bwrap)), new_key);
    }

    /// A sandboxed command that can write the cache (the model cache inside a `-C ~`
    /// workspace) plants a valid-looking answer naming its own script as bubblewrap,
    /// which Hearth would then run outside any sandbox: refused.
    #[test]
    fn a_planted_answer_naming_another_program_as_bwrap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bwrap = dir.path().join("bwrap");
        std::fs::write(&bwrap, "the real one").unwrap();
        let file = dir.path().join("sandbox-probe.json");
        let key = probe_key(&settings(), Some(&bwrap));
        let planted = Mechanism::Bubblewrap {
            path: dir.path().join("workspace/evil.sh"),
        };
        remember(&file, &key, &planted);
        assert_eq!(recall(&file, &key, &settings(), Some(&bwrap)), None);
        assert_eq!(recall(&file, &key, &settings(), None), None);
    }

    #[test]
    fn a_corrupt_or_truncated_file_is_ignored_and_an_unavailable_answer_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sandbox-probe.json");
        let key = probe_key(&settings(), None);
        remember(
            &file,
            &key,
            &Mechanism::Bubblewrap {
                path: "/usr/bin/bwrap".into(),
            },
        );
        let whole = std::fs::read(&file).unwrap();
        std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
        assert_eq!(recall(&file, &key, &settings(), None), None);
        std::fs::write(&file, b"\x00\xffnot json").unwrap();
        assert_eq!(recall(&file, &key, &settings(), None), None);

        let other = dir.path().join("other.json");
        remember(
            &other,
            &key,
            &Mechanism::Unavailable {
                reason: "no bwrap".into(),
            },
        );
        assert!(!other.exists());
    }
}
