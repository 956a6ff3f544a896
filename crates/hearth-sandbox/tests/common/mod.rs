//! Shared fixture for the sandbox integration tests: a fake `$HEARTH_HOME` with
//! secrets, a state database and skills, the workspace inside it (as by default) with a
//! `.git` and a planted symlink, a directory outside, and helpers to run shell lines
//! under a mode.
//!
//! Everything lives under cargo's target tmp dir, not `/tmp`: the sandbox mounts a
//! fresh `/tmp`, which would hide paths there and make the tests pass for the wrong reason.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_sandbox::{
    probe, probe_landlock, run_with, CommandLine, CommandOutput, CommandSpec, HelperProgram,
    Mechanism, ResourceLimits, SandboxError, SandboxMode, SandboxPolicy,
};
use tokio_util::sync::CancellationToken;

pub const SECRET_MARKER: &str = "sk-hearth-test-secret-4242";
pub const STATE_MARKER: &str = "state-db-row-7777";

/// Which mechanism a test binary runs its cases under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Bubblewrap,
    Landlock,
}

/// The mechanism for `choice`, which must work here: a machine without it fails the
/// tests loudly instead of skipping them.
pub fn mechanism(choice: Choice) -> Mechanism {
    let mechanism = match choice {
        Choice::Bubblewrap => probe(),
        Choice::Landlock => probe_landlock(&landlock_helper()),
    };
    assert!(
        matches!(
            (choice, &mechanism),
            (Choice::Bubblewrap, Mechanism::Bubblewrap { .. })
                | (Choice::Landlock, Mechanism::Landlock { .. })
        ),
        "sandbox tests need {choice:?}: {mechanism}"
    );
    mechanism
}

/// The crate's own helper binary, built for its tests.
pub fn landlock_helper() -> HelperProgram {
    HelperProgram {
        program: env!("CARGO_BIN_EXE_hearth-sandbox-helper").into(),
        args: Vec::new(),
    }
}

pub struct Fixture {
    _root: tempfile::TempDir,
    pub mechanism: Mechanism,
    pub workspace: PathBuf,
    pub outside: PathBuf,
    pub hearth_home: PathBuf,
    pub secrets: PathBuf,
    pub state_db: PathBuf,
    pub skills_dir: PathBuf,
    pub fake_home: PathBuf,
    pub limits: ResourceLimits,
    pub network: bool,
}

impl Fixture {
    /// A fixture whose sandboxed commands run under bubblewrap.
    pub fn new() -> Self {
        Self::with(Choice::Bubblewrap)
    }

    pub fn with(choice: Choice) -> Self {
        Self::under(choice, Path::new(env!("CARGO_TARGET_TMPDIR")))
    }

    /// A fixture whose files (workspace, HEARTH_HOME, …) lie in a new folder in `parent`.
    pub fn under(choice: Choice, parent: &Path) -> Self {
        let root = tempfile::Builder::new()
            .prefix("sandbox-test-")
            .tempdir_in(parent)
            .unwrap();
        let base = root.path().canonicalize().unwrap();
        // As by default, the workspace lies inside HEARTH_HOME, which is hidden whole.
        let hearth_home = base.join("hearth-home");
        let workspace = hearth_home.join("workspace");
        let outside = base.join("outside");
        let fake_home = base.join("home");
        for dir in [&workspace, &outside, &hearth_home, &fake_home] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::create_dir_all(workspace.join(".git")).unwrap();
        std::fs::write(workspace.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(workspace.join("notes.txt"), "workspace notes\n").unwrap();
        std::os::unix::fs::symlink(&outside, workspace.join("escape")).unwrap();
        let secrets = hearth_home.join("secrets.toml");
        let state_db = hearth_home.join("state.db");
        let skills_dir = hearth_home.join("private-skills");
        std::fs::write(&secrets, format!("openai = \"{SECRET_MARKER}\"\n")).unwrap();
        std::fs::write(&state_db, STATE_MARKER).unwrap();
        std::fs::create_dir_all(&skills_dir).unwrap();
        std::fs::write(skills_dir.join("skill.md"), SECRET_MARKER).unwrap();
        Self {
            _root: root,
            mechanism: mechanism(choice),
            workspace,
            outside,
            hearth_home,
            secrets,
            state_db,
            skills_dir,
            fake_home,
            limits: ResourceLimits::default(),
            network: false,
        }
    }

    pub fn policy(&self, mode: SandboxMode) -> SandboxPolicy {
        SandboxPolicy {
            mode,
            workspace: self.workspace.clone(),
            network: self.network,
            hidden_paths: vec![self.hearth_home.clone()],
            readable_paths: vec![self.hearth_home.join("skills")],
            read_only_paths: Vec::new(),
            limits: self.limits.clone(),
        }
    }

    pub fn spec(&self, line: &str) -> CommandSpec {
        CommandSpec {
            command: CommandLine::Shell(line.to_string()),
            cwd: self.workspace.clone(),
            env: Vec::new(),
            timeout: Duration::from_secs(30),
            output_limit: 64 * 1024,
        }
    }

    pub async fn try_run(
        &self,
        mode: SandboxMode,
        spec: &CommandSpec,
    ) -> Result<CommandOutput, SandboxError> {
        run_with(
            &self.mechanism,
            &self.policy(mode),
            spec,
            &CancellationToken::new(),
        )
        .await
    }

    /// Runs a shell line; panics if it could not be run at all.
    pub async fn sh(&self, mode: SandboxMode, line: &str) -> CommandOutput {
        self.try_run(mode, &self.spec(line)).await.unwrap()
    }

    pub fn path_in_workspace(&self, name: &str) -> PathBuf {
        self.workspace.join(name)
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn succeeded(output: &CommandOutput) -> bool {
    output.exit_code == Some(0)
}

pub fn describe(output: &CommandOutput) -> String {
    format!(
        "exit={:?} signal={:?} stdout={:?} stderr={:?}",
        output.exit_code,
        output.signal,
        text(&output.stdout),
        text(&output.stderr)
    )
}

pub fn quote(path: &Path) -> String {
    format!("'{}'", path.display())
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
