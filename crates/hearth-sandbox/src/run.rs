//! Running one command: build it for the mechanism, wait for the first of exit,
//! timeout, cancellation or the process limit, kill the whole tree, collect the output.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::bwrap::{resolve_cwd, SandboxLayout};
use crate::capture::{self, BoundedCapture};
use crate::landlock::HelperPlan;
use crate::mechanism::{probe_with, Mechanism, MechanismSettings};
use crate::policy::{
    CommandLine, CommandOutput, CommandSpec, SandboxError, SandboxMode, SandboxPolicy,
};
use crate::{child_setup, process_count};

/// How long to wait for the output pipes after the tree was killed. Only a process
/// that left the process group (setsid in `full-access`) can keep a pipe open this long.
const STRAGGLER_GRACE: Duration = Duration::from_millis(500);

/// The sandbox's own processes in the tree: the outer bwrap (or Landlock helper) and
/// the sandbox's PID 1.
const WRAPPER_PROCESSES: usize = 2;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs `spec` under `policy` with the mechanism [`crate::probe`] finds for the default
/// settings (bubblewrap; no Landlock helper). See [`run_using`].
pub async fn run(
    policy: &SandboxPolicy,
    spec: &CommandSpec,
    cancel: &CancellationToken,
) -> Result<CommandOutput, SandboxError> {
    run_using(&MechanismSettings::default(), policy, spec, cancel).await
}

/// Runs `spec` under `policy` with the mechanism [`probe_with`] finds for `settings`.
/// `full-access` needs no mechanism, so it does not pay for the probe.
pub async fn run_using(
    settings: &MechanismSettings,
    policy: &SandboxPolicy,
    spec: &CommandSpec,
    cancel: &CancellationToken,
) -> Result<CommandOutput, SandboxError> {
    let mechanism = if policy.mode == SandboxMode::FullAccess {
        Mechanism::Unavailable {
            reason: "not needed: full-access runs without a sandbox".into(),
        }
    } else {
        // The first probe of a process spawns bwrap (or the helper) and waits for it.
        let settings = settings.clone();
        off_the_runtime(move || probe_with(&settings)).await?
    };
    run_with(&mechanism, policy, spec, cancel).await
}

/// Runs blocking work (a probe, a walk of the workspace) on a blocking thread, so no
/// runtime worker waits on a child process or the file system.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SandboxError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        SandboxError::Spawn(std::io::Error::other(format!(
            "preparing the sandboxed command failed: {error}"
        )))
    })
}

/// Runs `spec` under `policy` with a given mechanism (for callers and tests that
/// probed themselves). Sandboxed modes are refused when `mechanism` is unavailable.
pub async fn run_with(
    mechanism: &Mechanism,
    policy: &SandboxPolicy,
    spec: &CommandSpec,
    cancel: &CancellationToken,
) -> Result<CommandOutput, SandboxError> {
    // Planning walks the workspace (every `.git`) and the file system.
    let (owned_mechanism, owned_policy, owned_spec) =
        (mechanism.clone(), policy.clone(), spec.clone());
    let prepared =
        off_the_runtime(move || build_command(&owned_mechanism, &owned_policy, &owned_spec))
            .await??;
    let mut output = execute(prepared.command, prepared.wrapper, policy, spec, cancel).await;
    // The private temp dir (Landlock) and the filter file go with the command.
    drop(prepared.private_tmp);
    drop(prepared.seccomp_filter);
    if let (Ok(output), Some(before)) = (&mut output, prepared.git_dirs) {
        let policy = policy.clone();
        output.new_git_repositories =
            off_the_runtime(move || new_repositories(&policy, &before)).await?;
    }
    output
}

/// `.git` entries in the workspace that were not there before the command (made
/// read-only only from the next command on, so the person should know of them).
fn new_repositories(policy: &SandboxPolicy, before: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(workspace) = std::fs::canonicalize(&policy.workspace) else {
        return Vec::new();
    };
    let hidden: Vec<PathBuf> = policy
        .hidden_paths
        .iter()
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .collect();
    crate::git_dirs::find(&workspace, &hidden)
        .into_iter()
        .filter(|git| !before.contains(git))
        .filter_map(|git| git.parent().map(Path::to_path_buf))
        .collect()
}

/// What stands between us and the command in the process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrapper {
    /// The command itself (full-access, or the Landlock helper, which execs it).
    None,
    /// bwrap and the sandbox's PID 1, which report a signal as status 128 + N.
    Bubblewrap,
    /// The Landlock helper and its PID namespace's PID 1, which pass the command's
    /// status on as it was (a signal re-raised).
    LandlockInit,
}

/// A command ready to spawn.
struct Prepared {
    command: tokio::process::Command,
    wrapper: Wrapper,
    /// The command's own temp dir (`TMPDIR`) under Landlock, removed afterwards.
    private_tmp: Option<tempfile::TempDir>,
    /// bwrap's seccomp filter (`--seccomp FD`), open until the command was spawned.
    seccomp_filter: Option<OwnedFd>,
    /// The workspace's `.git` entries before the command (sandboxed `workspace-write`).
    git_dirs: Option<Vec<PathBuf>>,
}

fn command_argv(command: &CommandLine) -> Result<Vec<OsString>, SandboxError> {
    let argv: Vec<OsString> = match command {
        CommandLine::Shell(line) => vec!["sh".into(), "-c".into(), line.into()],
        CommandLine::Argv(argv) => argv.iter().map(OsString::from).collect(),
    };
    if argv.is_empty() {
        return Err(SandboxError::EmptyCommand);
    }
    Ok(argv)
}

/// The process to spawn for `spec` under `policy` with `mechanism`.
fn build_command(
    mechanism: &Mechanism,
    policy: &SandboxPolicy,
    spec: &CommandSpec,
) -> Result<Prepared, SandboxError> {
    let argv = command_argv(&spec.command)?;
    let mut private_tmp = None;
    let mut seccomp_filter = None;
    let mut git_dirs = None;
    let (mut command, wrapper) = match (policy.mode, mechanism) {
        (SandboxMode::FullAccess, _) => {
            let cwd = resolve_cwd(&policy.workspace, &spec.cwd)?;
            let mut command = tokio::process::Command::new(&argv[0]);
            command.args(&argv[1..]).current_dir(cwd);
            (command, Wrapper::None)
        }
        (_, Mechanism::Unavailable { reason }) => {
            return Err(SandboxError::Unavailable(reason.clone()));
        }
        (_, Mechanism::Bubblewrap { path }) => {
            let layout = SandboxLayout::new(policy, &spec.cwd)?;
            let bwrap_args = layout.args();
            tracing::debug!(?bwrap_args, "sandboxed command");
            let filter = crate::seccomp::program_file(policy.network)
                .map_err(|e| SandboxError::Spawn(std::io::Error::other(e)))?;
            let mut command = tokio::process::Command::new(path);
            command
                .arg("--seccomp")
                .arg(filter.as_raw_fd().to_string())
                .args(bwrap_args)
                .args(&argv)
                .current_dir("/");
            seccomp_filter = Some(filter);
            if layout.workspace_writable {
                git_dirs = Some(layout.git_dirs);
            }
            (command, Wrapper::Bubblewrap)
        }
        (_, Mechanism::Landlock { helper, report }) => {
            let tmp = tempfile::Builder::new()
                .prefix("hearth-sandbox-")
                .tempdir()?;
            let plan = HelperPlan::new(policy, &spec.cwd, tmp.path())?;
            let plan_git_dirs: Vec<PathBuf> = plan
                .read_only_mounts
                .iter()
                .filter(|path| path.file_name().is_some_and(|name| name == ".git"))
                .cloned()
                .collect();
            let plan = serde_json::to_string(&plan)
                .map_err(|e| SandboxError::Spawn(std::io::Error::other(e)))?;
            tracing::debug!(%plan, "sandboxed command (landlock)");
            let mut command = tokio::process::Command::new(&helper.program);
            command
                .args(&helper.args)
                .arg("--plan")
                .arg(plan)
                .arg("--")
                .args(&argv)
                .current_dir("/");
            private_tmp = Some(tmp);
            if policy.mode == SandboxMode::WorkspaceWrite {
                git_dirs = Some(plan_git_dirs);
            }
            let wrapper = if report.pid_namespace {
                Wrapper::LandlockInit
            } else {
                Wrapper::None
            };
            (command, wrapper)
        }
    };
    command.env_clear().envs(safe_environment(policy));
    if let Some(tmp) = &private_tmp {
        // Under Landlock the shared /tmp is out of reach: the command's own is here.
        command.env("TMPDIR", tmp.path());
        if policy.mode == SandboxMode::ReadOnly {
            command.env("HOME", tmp.path());
        }
    }
    command
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    child_setup::install(
        &mut command,
        &policy.limits,
        seccomp_filter.as_ref().map(AsRawFd::as_raw_fd),
    );
    Ok(Prepared {
        command,
        wrapper,
        private_tmp,
        seccomp_filter,
        git_dirs,
    })
}

/// PATH and LANG from Hearth's own environment (or defaults), HOME at the workspace
/// (at `/tmp` in `read-only`, where the workspace is not writable), TERM=dumb since
/// output goes to a pipe. Nothing else of Hearth's environment reaches the command.
fn safe_environment(policy: &SandboxPolicy) -> Vec<(&'static str, OsString)> {
    let home = match policy.mode {
        SandboxMode::ReadOnly => OsString::from("/tmp"),
        _ => policy.workspace.clone().into_os_string(),
    };
    let inherited =
        |name: &str, default: &str| std::env::var_os(name).unwrap_or_else(|| default.into());
    vec![
        ("PATH", inherited("PATH", DEFAULT_PATH)),
        ("HOME", home),
        ("LANG", inherited("LANG", "C.UTF-8")),
        ("TERM", OsString::from("dumb")),
    ]
}

/// Why the tree was killed before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    TimedOut,
    Cancelled,
    TooManyProcesses,
}

async fn execute(
    mut command: tokio::process::Command,
    wrapper: Wrapper,
    policy: &SandboxPolicy,
    spec: &CommandSpec,
    cancel: &CancellationToken,
) -> Result<CommandOutput, SandboxError> {
    let mut child = command.spawn()?;
    // The child called setsid before exec: its pid is its process-group id.
    let mut group = ProcessGroup { pgid: child.id() };
    let stdout = StreamCapture::start(child.stdout.take(), spec.output_limit);
    let stderr = StreamCapture::start(child.stderr.take(), spec.output_limit);
    let overhead = match wrapper {
        Wrapper::Bubblewrap | Wrapper::LandlockInit => WRAPPER_PROCESSES,
        Wrapper::None => 0,
    };
    let max_processes = policy.limits.max_processes;

    let ended = tokio::select! {
        biased;
        status = child.wait() => Ok(status),
        () = cancel.cancelled() => Err(Stop::Cancelled),
        () = tokio::time::sleep(spec.timeout) => Err(Stop::TimedOut),
        () = process_count::exceeded(group.pgid, max_processes, overhead) => Err(Stop::TooManyProcesses),
    };
    let (status, stop) = match ended {
        Ok(status) => (status, None),
        Err(stop) => {
            group.kill();
            (child.wait().await, Some(stop))
        }
    };
    // Background jobs the command left behind die with it.
    group.kill();
    group.pgid = None;

    let (stdout, stdout_truncated) = stdout.finish().await;
    let (mut stderr, stderr_truncated) = stderr.finish().await;
    if let (Some(Stop::TooManyProcesses), Some(max)) = (stop, max_processes) {
        let note = format!("\n[killed by the sandbox: more than {max} processes]\n");
        stderr.extend_from_slice(note.as_bytes());
    }
    let (exit_code, signal) = decode_status(status.map_err(SandboxError::Wait)?, wrapper);
    Ok(CommandOutput {
        exit_code,
        signal,
        stdout,
        stderr,
        timed_out: stop == Some(Stop::TimedOut),
        cancelled: stop == Some(Stop::Cancelled),
        truncated: stdout_truncated || stderr_truncated,
        process_limit_exceeded: stop == Some(Stop::TooManyProcesses),
        new_git_repositories: Vec::new(),
    })
}

/// Exit code or signal. bwrap reports a command killed by signal N as exit status
/// 128 + N (the shell's convention), so under bwrap 129..=192 is read as a signal; a
/// command that literally `exit 137`s is reported as SIGKILL there.
fn decode_status(status: ExitStatus, wrapper: Wrapper) -> (Option<i32>, Option<i32>) {
    if let Some(signal) = status.signal() {
        return (None, Some(signal));
    }
    match status.code() {
        Some(code) if wrapper == Wrapper::Bubblewrap && (129..=192).contains(&code) => {
            (None, Some(code - 128))
        }
        code => (code, None),
    }
}

/// The command's process group, killed with SIGKILL when asked and when dropped (so
/// a caller that drops the `run` future does not leave the tree running).
struct ProcessGroup {
    pgid: Option<u32>,
}

impl ProcessGroup {
    fn kill(&self) {
        let Some(pgid) = self.pgid.and_then(|pgid| i32::try_from(pgid).ok()) else {
            return;
        };
        // SAFETY: kill has no memory-safety preconditions; a negative pid names the
        // group our child leads (a group id is not reused while any member lives).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One output stream being read into a bounded buffer by its own task.
struct StreamCapture {
    limit: usize,
    buffer: Arc<Mutex<BoundedCapture>>,
    reader: Option<JoinHandle<()>>,
}

impl StreamCapture {
    fn start(
        stream: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>,
        limit: usize,
    ) -> Self {
        let buffer = Arc::new(Mutex::new(BoundedCapture::new(limit)));
        let reader =
            stream.map(|stream| tokio::spawn(capture::read_into(stream, Arc::clone(&buffer))));
        Self {
            limit,
            buffer,
            reader,
        }
    }

    /// Waits for the end of the stream (at most [`STRAGGLER_GRACE`]) and takes the bytes.
    async fn finish(mut self) -> (Vec<u8>, bool) {
        if let Some(mut reader) = self.reader.take() {
            if tokio::time::timeout(STRAGGLER_GRACE, &mut reader)
                .await
                .is_err()
            {
                reader.abort();
            }
        }
        capture::take(&self.buffer, self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_and_argv_commands_become_argv() {
        let shell = command_argv(&CommandLine::Shell("echo hi".into())).unwrap();
        assert_eq!(shell, ["sh", "-c", "echo hi"]);
        let argv = command_argv(&CommandLine::Argv(vec!["ls".into(), "-l".into()])).unwrap();
        assert_eq!(argv, ["ls", "-l"]);
        assert!(matches!(
            command_argv(&CommandLine::Argv(vec![])),
            Err(SandboxError::EmptyCommand)
        ));
    }

    #[test]
    fn bwrap_statuses_above_128_are_signals_only_when_sandboxed() {
        let exited_137 = ExitStatus::from_raw(137 << 8);
        assert_eq!(
            decode_status(exited_137, Wrapper::Bubblewrap),
            (None, Some(9))
        );
        assert_eq!(decode_status(exited_137, Wrapper::None), (Some(137), None));
        assert_eq!(
            decode_status(ExitStatus::from_raw(9), Wrapper::None),
            (None, Some(9))
        );
        assert_eq!(
            decode_status(ExitStatus::from_raw(3 << 8), Wrapper::Bubblewrap),
            (Some(3), None)
        );
    }
}
