//! The bubblewrap command line for a policy: which namespaces, which mounts, in which order.
//!
//! Mount order matters (bwrap applies its arguments left to right):
//! `/` read-only, fresh `/dev` and `/proc`, fresh tmpfs on `/tmp` and `/run`, then the workspace
//! (writable in `workspace-write`, read-only otherwise; bound after `/tmp` so a workspace
//! under `/tmp` stays visible), then `<workspace>/.git` read-only, then the hidden paths.
//!
//! Why `/run` is masked: a read-only mount does not stop `connect()` on a Unix socket,
//! and `/run` is where the daemons that would run anything as anyone listen (docker,
//! systemd, D-Bus, the user's session bus). `/tmp` (ssh-agent, X11) is masked anyway.
//! The resolver file `/etc/resolv.conf` often points into `/run`; its target is bound
//! back read-only so DNS works when the network is on. Sockets at other paths outside
//! the workspace stay reachable; see the crate's known limits.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::policy::{SandboxError, SandboxMode, SandboxPolicy};

/// Flags every sandboxed command gets, whatever its mounts.
const ISOLATION_FLAGS: [&str; 8] = [
    "--die-with-parent",
    "--new-session",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--cap-drop",
    "ALL",
];

/// The real paths (symlinks resolved) a sandboxed command is set up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SandboxLayout {
    pub workspace: PathBuf,
    pub workspace_writable: bool,
    /// `<workspace>/.git` when it exists (a directory, or a file in a git worktree).
    pub git_dir: Option<PathBuf>,
    /// Hidden paths that exist, resolved; missing ones have nothing to hide.
    pub hidden: Vec<HiddenPath>,
    pub network: bool,
    pub cwd: PathBuf,
    /// Directories of daemon sockets replaced by an empty tmpfs (`/run`, and
    /// `/var/run` when it is not a symlink to `/run`).
    pub masked_runtime_dirs: Vec<PathBuf>,
    /// Files inside the masked directories bound back read-only (the resolver config).
    pub kept_runtime_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HiddenPath {
    pub path: PathBuf,
    pub is_dir: bool,
}

pub(crate) fn resolve(path: &Path, what: &'static str) -> Result<PathBuf, SandboxError> {
    std::fs::canonicalize(path).map_err(|source| SandboxError::PathUnresolvable {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// The canonical working directory: relative `cwd` is taken from the workspace.
pub(crate) fn resolve_cwd(workspace: &Path, cwd: &Path) -> Result<PathBuf, SandboxError> {
    resolve(&workspace.join(cwd), "working directory")
}

impl SandboxLayout {
    /// Resolves every path of `policy`; refuses a `cwd` outside the workspace.
    pub fn new(policy: &SandboxPolicy, cwd: &Path) -> Result<Self, SandboxError> {
        let workspace = resolve(&policy.workspace, "workspace")?;
        let cwd = resolve_cwd(&workspace, cwd)?;
        if !cwd.starts_with(&workspace) {
            return Err(SandboxError::CwdOutsideWorkspace(cwd));
        }
        let git = workspace.join(".git");
        let git_dir = git.symlink_metadata().is_ok().then_some(git);
        let hidden = policy
            .hidden_paths
            .iter()
            .filter_map(|path| {
                let path = std::fs::canonicalize(path).ok()?;
                let is_dir = path.is_dir();
                Some(HiddenPath { path, is_dir })
            })
            .collect();
        Ok(Self {
            workspace,
            workspace_writable: policy.mode == SandboxMode::WorkspaceWrite,
            git_dir,
            hidden,
            network: policy.network,
            cwd,
            masked_runtime_dirs: runtime_dirs(),
            kept_runtime_files: kept_runtime_files(),
        })
    }

    /// bwrap's arguments up to and including `--`; the command follows.
    pub fn args(&self) -> Vec<OsString> {
        let mut args = Args::default();
        args.flags(&ISOLATION_FLAGS);
        if !self.network {
            args.flags(&["--unshare-net"]);
        }
        args.flags(&["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]);
        args.flags(&["--tmpfs", "/tmp"]);
        for dir in &self.masked_runtime_dirs {
            args.flags(&["--tmpfs"]);
            args.path(dir);
        }
        for file in &self.kept_runtime_files {
            args.same_path("--ro-bind", file);
        }
        // A hidden directory that contains the workspace is mounted first, so the
        // workspace can be bound inside it; it stays writable (an empty tmpfs).
        let (around_workspace, others): (Vec<_>, Vec<_>) = self
            .hidden
            .iter()
            .partition(|hidden| hidden.is_dir && self.workspace.starts_with(&hidden.path));
        for hidden in &around_workspace {
            args.flags(&["--perms", "0000", "--tmpfs"]);
            args.path(&hidden.path);
        }
        let bind = if self.workspace_writable {
            "--bind"
        } else {
            "--ro-bind"
        };
        args.same_path(bind, &self.workspace);
        if let Some(git_dir) = &self.git_dir {
            args.same_path("--ro-bind", git_dir);
        }
        for hidden in others {
            hide(&mut args, hidden);
        }
        args.flags(&["--chdir"]);
        args.path(&self.cwd);
        args.flags(&["--"]);
        args.0
    }
}

fn runtime_dirs() -> Vec<PathBuf> {
    ["/run", "/var/run"]
        .into_iter()
        .map(PathBuf::from)
        .filter(|dir| dir.symlink_metadata().is_ok_and(|meta| meta.is_dir()))
        .collect()
}

fn kept_runtime_files() -> Vec<PathBuf> {
    let masked = runtime_dirs();
    std::fs::canonicalize("/etc/resolv.conf")
        .ok()
        .filter(|target| masked.iter().any(|dir| target.starts_with(dir)))
        .into_iter()
        .collect()
}

/// A hidden directory becomes an empty, read-only tmpfs with mode 000; a hidden
/// file becomes `/dev/null` (reads are empty, writes go nowhere).
fn hide(args: &mut Args, hidden: &HiddenPath) {
    if hidden.is_dir {
        args.flags(&["--perms", "0000", "--tmpfs"]);
        args.path(&hidden.path);
        args.flags(&["--remount-ro"]);
        args.path(&hidden.path);
    } else {
        args.flags(&["--ro-bind", "/dev/null"]);
        args.path(&hidden.path);
    }
}

/// The arguments [`crate::probe`] tries: everything but the workspace mounts.
pub(crate) fn probe_args() -> Vec<OsString> {
    let mut args = Args::default();
    args.flags(&ISOLATION_FLAGS);
    args.flags(&["--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev"]);
    args.flags(&["--proc", "/proc", "--tmpfs", "/tmp", "--chdir", "/", "--"]);
    args.0
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn flags(&mut self, flags: &[&str]) {
        self.0.extend(flags.iter().map(OsString::from));
    }

    fn path(&mut self, path: &Path) {
        self.0.push(path.as_os_str().to_os_string());
    }

    fn same_path(&mut self, flag: &str, path: &Path) {
        self.flags(&[flag]);
        self.path(path);
        self.path(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(writable: bool, network: bool) -> SandboxLayout {
        SandboxLayout {
            workspace: PathBuf::from("/home/u/ws"),
            workspace_writable: writable,
            git_dir: Some(PathBuf::from("/home/u/ws/.git")),
            hidden: vec![
                HiddenPath {
                    path: PathBuf::from("/home/u/.hearth/secrets.toml"),
                    is_dir: false,
                },
                HiddenPath {
                    path: PathBuf::from("/home/u/.hearth/skills"),
                    is_dir: true,
                },
            ],
            network,
            cwd: PathBuf::from("/home/u/ws/src"),
            masked_runtime_dirs: vec![PathBuf::from("/run")],
            kept_runtime_files: vec![PathBuf::from("/run/systemd/resolve/stub-resolv.conf")],
        }
    }

    fn joined(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn workspace_write_binds_workspace_then_git_read_only_then_hides() {
        let args = joined(&layout(true, false).args());
        let tmp = args.find("--tmpfs /tmp").unwrap();
        let ws = args.find("--bind /home/u/ws /home/u/ws").unwrap();
        let git = args
            .find("--ro-bind /home/u/ws/.git /home/u/ws/.git")
            .unwrap();
        let secret = args
            .find("--ro-bind /dev/null /home/u/.hearth/secrets.toml")
            .unwrap();
        assert!(args.starts_with("--die-with-parent"));
        assert!(tmp < ws && ws < git && git < secret, "{args}");
        assert!(args.contains(
            "--perms 0000 --tmpfs /home/u/.hearth/skills --remount-ro /home/u/.hearth/skills"
        ));
        assert!(args.contains("--unshare-net"));
        let run = args
            .find("--tmpfs /run --ro-bind /run/systemd/resolve/stub-resolv.conf")
            .unwrap();
        assert!(tmp < run && run < ws, "{args}");
        assert!(args.ends_with("--chdir /home/u/ws/src --"));
    }

    #[test]
    fn read_only_binds_workspace_read_only_and_network_flag_shares_net() {
        let args = joined(&layout(false, true).args());
        assert!(args.contains("--ro-bind /home/u/ws /home/u/ws"));
        assert!(!args.contains("--bind /home/u/ws"));
        assert!(!args.contains("--unshare-net"));
    }

    #[test]
    fn hidden_dir_around_workspace_is_mounted_before_the_workspace() {
        let mut layout = layout(true, false);
        layout.hidden = vec![HiddenPath {
            path: PathBuf::from("/home/u"),
            is_dir: true,
        }];
        let args = joined(&layout.args());
        let hide = args.find("--perms 0000 --tmpfs /home/u ").unwrap();
        let ws = args.find("--bind /home/u/ws /home/u/ws").unwrap();
        assert!(hide < ws, "{args}");
        assert!(!args.contains("--remount-ro /home/u "));
    }
}
