//! The bubblewrap command line for a policy: which namespaces, which mounts, in which order.
//!
//! bwrap applies its arguments left to right, and a mount hides whatever was mounted
//! below its path before it. So: `/` read-only, fresh `/dev` and `/proc` (with
//! `/proc/sys` read-only: a command run by root could otherwise change the host's
//! kernel settings), fresh tmpfs on `/tmp` and `/run`; then the policy's own mounts
//! in order of depth, outermost first: a hidden directory becomes an empty tmpfs, the
//! workspace is bound (writable in `workspace-write`), its `.git` read-only, readable
//! paths read-only, hidden files `/dev/null`. Hidden directories are made read-only last,
//! once everything inside them is mounted. A hidden directory that contains the
//! workspace (the default `$HEARTH_HOME/workspace`) thus shows only the workspace.
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
    /// Every `.git` in the workspace (directories, or files in git worktrees), made
    /// read-only in `workspace-write`: see `git_dirs`.
    pub git_dirs: Vec<PathBuf>,
    /// The policy's read-only paths that exist inside the workspace, resolved, bound
    /// read-only in `workspace-write` (`SandboxPolicy::read_only_paths`).
    pub read_only: Vec<PathBuf>,
    /// Hidden paths that exist, resolved; missing ones have nothing to hide.
    pub hidden: Vec<HiddenPath>,
    /// Readable paths that exist, resolved.
    pub readable: Vec<PathBuf>,
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
        if policy
            .hidden_paths
            .iter()
            .any(|hidden| std::fs::canonicalize(hidden).is_ok_and(|h| h == workspace))
        {
            return Err(SandboxError::WorkspaceHidden(workspace));
        }
        let hidden: Vec<HiddenPath> = policy
            .hidden_paths
            .iter()
            .filter_map(|path| {
                let path = std::fs::canonicalize(path).ok()?;
                let is_dir = path.is_dir();
                Some(HiddenPath { path, is_dir })
            })
            .collect();
        let hidden_paths: Vec<PathBuf> = hidden.iter().map(|h| h.path.clone()).collect();
        let workspace_writable = policy.mode == SandboxMode::WorkspaceWrite;
        let git_dirs = if workspace_writable {
            crate::git_dirs::find(&workspace, &hidden_paths)
        } else {
            Vec::new()
        };
        let readable = policy
            .readable_paths
            .iter()
            .filter_map(|path| std::fs::canonicalize(path).ok())
            .collect();
        let read_only = if workspace_writable {
            read_only_inside(&policy.read_only_paths, &workspace)
        } else {
            Vec::new()
        };
        Ok(Self {
            workspace,
            workspace_writable,
            git_dirs,
            read_only,
            hidden,
            readable,
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
        args.same_path("--ro-bind", Path::new("/proc/sys"));
        args.flags(&["--tmpfs", "/tmp"]);
        for dir in &self.masked_runtime_dirs {
            args.flags(&["--tmpfs"]);
            args.path(dir);
        }
        for file in &self.kept_runtime_files {
            args.same_path("--ro-bind", file);
        }
        for mount in self.mounts() {
            match mount {
                Mount::EmptyDir(dir) => {
                    args.flags(&["--perms", "0755", "--tmpfs"]);
                    args.path(dir);
                }
                Mount::NullFile(file) => {
                    args.flags(&["--ro-bind", "/dev/null"]);
                    args.path(file);
                }
                Mount::Writable(path) => args.same_path("--bind", path),
                Mount::ReadOnly(path) => args.same_path("--ro-bind", path),
            }
        }
        for hidden in self.hidden.iter().filter(|h| h.is_dir) {
            args.flags(&["--remount-ro"]);
            args.path(&hidden.path);
        }
        args.flags(&["--chdir"]);
        args.path(&self.cwd);
        args.flags(&["--"]);
        args.0
    }

    /// The policy's mounts, outermost first (a stable sort by depth keeps, for one
    /// path, the order hidden, workspace, `.git`, readable).
    fn mounts(&self) -> Vec<Mount<'_>> {
        let mut mounts: Vec<Mount<'_>> = self
            .hidden
            .iter()
            .map(|hidden| {
                if hidden.is_dir {
                    Mount::EmptyDir(&hidden.path)
                } else {
                    Mount::NullFile(&hidden.path)
                }
            })
            .collect();
        mounts.push(if self.workspace_writable {
            Mount::Writable(&self.workspace)
        } else {
            Mount::ReadOnly(&self.workspace)
        });
        mounts.extend(self.git_dirs.iter().map(|git| Mount::ReadOnly(git)));
        mounts.extend(self.read_only.iter().map(|path| Mount::ReadOnly(path)));
        mounts.extend(self.readable.iter().map(|path| Mount::ReadOnly(path)));
        mounts.sort_by_key(|mount| mount.path().components().count());
        mounts
    }
}

/// `paths` that exist and lie inside `workspace`, resolved (a symlink inside pointing
/// out is left out: the workspace's rule never covered its target).
pub(crate) fn read_only_inside(paths: &[PathBuf], workspace: &Path) -> Vec<PathBuf> {
    paths
        .iter()
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .filter(|path| path.starts_with(workspace) && path != workspace)
        .collect()
}

/// One mount of a policy's own paths.
enum Mount<'a> {
    /// A hidden directory: an empty tmpfs in its place.
    EmptyDir(&'a Path),
    /// A hidden file: `/dev/null` in its place.
    NullFile(&'a Path),
    Writable(&'a Path),
    ReadOnly(&'a Path),
}

impl Mount<'_> {
    fn path(&self) -> &Path {
        match self {
            Mount::EmptyDir(path)
            | Mount::NullFile(path)
            | Mount::Writable(path)
            | Mount::ReadOnly(path) => path,
        }
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

    /// The default layout: the workspace inside `$HEARTH_HOME`, which is hidden but for
    /// the workspace and `skills`.
    fn layout(writable: bool, network: bool) -> SandboxLayout {
        SandboxLayout {
            workspace: PathBuf::from("/home/u/.hearth/workspace"),
            workspace_writable: writable,
            git_dirs: vec![
                PathBuf::from("/home/u/.hearth/workspace/.git"),
                PathBuf::from("/home/u/.hearth/workspace/vendor/lib/.git"),
            ],
            read_only: Vec::new(),
            hidden: vec![
                HiddenPath {
                    path: PathBuf::from("/home/u/.hearth"),
                    is_dir: true,
                },
                HiddenPath {
                    path: PathBuf::from("/home/u/token.txt"),
                    is_dir: false,
                },
            ],
            readable: vec![PathBuf::from("/home/u/.hearth/skills")],
            network,
            cwd: PathBuf::from("/home/u/.hearth/workspace/src"),
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

    fn at(args: &str, needle: &str) -> usize {
        args.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {args}"))
    }

    #[test]
    fn the_home_is_emptied_then_the_workspace_git_and_skills_are_bound_inside_it() {
        let args = joined(&layout(true, false).args());
        assert!(args.starts_with("--die-with-parent"));
        let tmp = at(&args, "--tmpfs /tmp");
        let home = at(&args, "--perms 0755 --tmpfs /home/u/.hearth ");
        let ws = at(
            &args,
            "--bind /home/u/.hearth/workspace /home/u/.hearth/workspace",
        );
        let git = at(
            &args,
            "--ro-bind /home/u/.hearth/workspace/.git /home/u/.hearth/workspace/.git",
        );
        let skills = at(
            &args,
            "--ro-bind /home/u/.hearth/skills /home/u/.hearth/skills",
        );
        let sealed = at(&args, "--remount-ro /home/u/.hearth ");
        assert!(
            tmp < home && home < ws && ws < git && home < skills,
            "{args}"
        );
        assert!(git < sealed && skills < sealed, "{args}");
        let nested = at(
            &args,
            "--ro-bind /home/u/.hearth/workspace/vendor/lib/.git /home/u/.hearth/workspace/vendor/lib/.git",
        );
        assert!(ws < nested, "{args}");
        assert!(args.contains("--ro-bind /dev/null /home/u/token.txt"));
        assert!(args.contains("--unshare-net"));
        let run = at(
            &args,
            "--tmpfs /run --ro-bind /run/systemd/resolve/stub-resolv.conf",
        );
        assert!(tmp < run && run < home, "{args}");
        assert!(args.ends_with("--chdir /home/u/.hearth/workspace/src --"));
    }

    #[test]
    fn kernel_settings_are_read_only() {
        let args = joined(&layout(true, false).args());
        let proc = at(&args, "--proc /proc");
        let sys = at(&args, "--ro-bind /proc/sys /proc/sys");
        assert!(proc < sys, "{args}");
    }

    #[test]
    fn read_only_binds_workspace_read_only_and_network_flag_shares_net() {
        let args = joined(&layout(false, true).args());
        assert!(args.contains("--ro-bind /home/u/.hearth/workspace /home/u/.hearth/workspace"));
        assert!(!args.contains("--bind /home/u/.hearth/workspace"));
        assert!(!args.contains("--unshare-net"));
    }

    #[test]
    fn a_home_inside_the_workspace_is_hidden_after_the_workspace_is_bound() {
        let mut layout = layout(true, false);
        layout.workspace = PathBuf::from("/home/u");
        layout.git_dirs.clear();
        layout.cwd = PathBuf::from("/home/u");
        let args = joined(&layout.args());
        let ws = at(&args, "--bind /home/u /home/u");
        let home = at(&args, "--perms 0755 --tmpfs /home/u/.hearth ");
        let skills = at(&args, "--ro-bind /home/u/.hearth/skills");
        assert!(ws < home && home < skills, "{args}");
    }
}
