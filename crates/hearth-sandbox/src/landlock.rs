//! The Landlock fallback, parent side: what a helper process must enforce for a policy
//! (a [`HelperPlan`]), and the helper program to run.
//!
//! Used when bubblewrap is missing or cannot create its namespaces. The helper (the
//! `hearth` binary itself, or `hearth-sandbox-helper`) applies the plan to itself and
//! then execs the command; see `helper` for what it does, in order.
//!
//! Landlock only ever allows: a path is readable when it lies under a read root, so
//! hiding `$HEARTH_HOME` means listing as read roots everything *beside* it on the way
//! down from `/` (computed here, where the file system can be walked), with the
//! workspace and readable paths added back. `/tmp` and `/run` are left out as bubblewrap
//! masks them; the command gets a private temp dir (`TMPDIR`) instead.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bwrap::{resolve, resolve_cwd};
use crate::policy::{SandboxError, SandboxMode, SandboxPolicy};

/// Device files every command may read and write.
const DEVICES: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// Directories of other people's temporary files and daemons' sockets: not readable.
const MASKED: [&str; 3] = ["/tmp", "/run", "/var/run"];

/// Everything the helper enforces before it execs the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperPlan {
    /// Readable and executable, with everything below.
    pub read_roots: Vec<PathBuf>,
    /// Writable too (the workspace in `workspace-write`).
    pub write_roots: Vec<PathBuf>,
    /// The command's own temp dir (its `TMPDIR`), writable; the helper mounts a fresh
    /// `/tmp` instead where it can and nothing the command needs lies under `/tmp`.
    pub private_tmp: PathBuf,
    /// Single files readable and writable (`/dev/null`, …).
    pub device_files: Vec<PathBuf>,
    /// Paths under a write root made read-only with a bind mount (every `.git` in the
    /// workspace, and `/proc/sys`), which Landlock alone cannot express; needs a mount
    /// namespace.
    pub read_only_mounts: Vec<PathBuf>,
    /// Hidden paths inside the workspace (`-C ~` around `~/.hearth`), which Landlock
    /// cannot carve out of the workspace's rule: the helper mounts an empty, read-only
    /// tmpfs (a directory) or `/dev/null` (a file) over each, and refuses to run
    /// without a mount namespace rather than leave them visible.
    #[serde(default)]
    pub masked: Vec<MaskedPath>,
    /// Readable paths inside a masked one, bound back read-only (`~/.hearth/skills`).
    #[serde(default)]
    pub kept_in_masked: Vec<PathBuf>,
    /// The policy's read-only paths in the workspace (also in `read_only_mounts`):
    /// the helper refuses to run without a mount namespace rather than leave them
    /// writable.
    #[serde(default)]
    pub protected: Vec<PathBuf>,
    pub network: bool,
    pub cwd: PathBuf,
}

/// A hidden path the helper covers with a mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedPath {
    pub path: PathBuf,
    pub is_dir: bool,
}

/// The program (and leading arguments) that runs the helper, passed by the caller in
/// [`crate::MechanismSettings`]: `hearth` passes itself with its hidden
/// `__sandbox-helper` argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HelperProgram {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl HelperPlan {
    /// The plan for running in `cwd` under `policy` with `private_tmp` as the temp dir.
    pub(crate) fn new(
        policy: &SandboxPolicy,
        cwd: &Path,
        private_tmp: &Path,
    ) -> Result<Self, SandboxError> {
        let workspace = resolve(&policy.workspace, "workspace")?;
        let cwd = resolve_cwd(&workspace, cwd)?;
        if !cwd.starts_with(&workspace) {
            return Err(SandboxError::CwdOutsideWorkspace(cwd));
        }
        let mut hidden: Vec<PathBuf> = policy
            .hidden_paths
            .iter()
            .filter_map(|path| std::fs::canonicalize(path).ok())
            .collect();
        if hidden.contains(&workspace) {
            return Err(SandboxError::WorkspaceHidden(workspace));
        }
        let readable: Vec<PathBuf> = policy
            .readable_paths
            .iter()
            .filter_map(|path| std::fs::canonicalize(path).ok())
            .collect();
        // Hidden paths the workspace's rule would cover are hidden by mounts instead.
        let masked: Vec<MaskedPath> = hidden
            .iter()
            .filter(|path| path.starts_with(&workspace))
            .map(|path| MaskedPath {
                path: path.clone(),
                is_dir: path.is_dir(),
            })
            .collect();
        let kept_in_masked = readable
            .iter()
            .filter(|path| masked.iter().any(|m| path.starts_with(&m.path)))
            .cloned()
            .collect();
        hidden.extend(
            MASKED
                .iter()
                .filter_map(|dir| std::fs::canonicalize(dir).ok()),
        );
        let mut read_roots = Vec::new();
        collect_read_roots(Path::new("/"), &hidden, &mut read_roots);
        read_roots.extend(readable);
        // The resolver's file often lives under /run (systemd-resolved).
        read_roots.extend(std::fs::canonicalize("/etc/resolv.conf").ok());
        let mut write_roots = Vec::new();
        let mut read_only_mounts = vec![PathBuf::from("/proc/sys")];
        let mut protected = Vec::new();
        if policy.mode == SandboxMode::WorkspaceWrite {
            write_roots.push(workspace.clone());
            read_only_mounts.extend(crate::git_dirs::find(&workspace, &hidden));
            protected = crate::bwrap::read_only_inside(&policy.read_only_paths, &workspace);
            read_only_mounts.extend(protected.iter().cloned());
        } else {
            read_roots.push(workspace);
        }
        Ok(Self {
            read_roots,
            write_roots,
            device_files: DEVICES
                .iter()
                .map(PathBuf::from)
                .filter(|path| path.exists())
                .collect(),
            read_only_mounts,
            masked,
            kept_in_masked,
            protected,
            private_tmp: private_tmp.to_path_buf(),
            network: policy.network,
            cwd,
        })
    }
}

/// Adds `dir` as a read root when nothing hidden lies in it; descends into it when
/// something does; adds nothing when `dir` itself is hidden.
fn collect_read_roots(dir: &Path, hidden: &[PathBuf], roots: &mut Vec<PathBuf>) {
    if hidden.iter().any(|h| dir.starts_with(h)) {
        return;
    }
    if !hidden.iter().any(|h| h.starts_with(dir)) {
        roots.push(dir.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        collect_read_roots(&entry.path(), hidden, roots);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_roots_are_everything_beside_the_hidden_paths() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().canonicalize().unwrap();
        for dir in ["home/u/.hearth/workspace", "home/u/docs", "home/v", "usr"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        let hidden = vec![base.join("home/u/.hearth")];
        let mut roots = Vec::new();
        collect_read_roots(&base, &hidden, &mut roots);
        roots.sort();
        assert_eq!(
            roots,
            [
                base.join("home/u/docs"),
                base.join("home/v"),
                base.join("usr")
            ]
        );
    }
}
