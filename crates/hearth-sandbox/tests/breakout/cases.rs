// The breakout cases, included by `breakout.rs` (bubblewrap) and `breakout_landlock.rs`
// (the Landlock helper); each defines `MECHANISM` and has `mod common`.

use std::net::TcpListener;
use std::process::{Child, Command};

use common::*;
use hearth_sandbox::SandboxMode::{FullAccess, ReadOnly, WorkspaceWrite};
use hearth_sandbox::{run_with, Mechanism, SandboxError};
use tokio_util::sync::CancellationToken;

fn fixture() -> Fixture {
    Fixture::with(MECHANISM)
}

/// Runs `line` under `workspace-write` and `full-access`, returning both outputs.
async fn contrast(
    fixture: &Fixture,
    line: &str,
) -> (hearth_sandbox::CommandOutput, hearth_sandbox::CommandOutput) {
    let sandboxed = fixture.sh(WorkspaceWrite, line).await;
    let unsandboxed = fixture.sh(FullAccess, line).await;
    (sandboxed, unsandboxed)
}

#[tokio::test]
async fn writing_outside_the_workspace_fails() {
    let fixture = fixture();
    let target = fixture.outside.join("planted.txt");
    let line = format!("echo pwned > {}", quote(&target));

    let sandboxed = fixture.sh(WorkspaceWrite, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(!target.exists());

    let unsandboxed = fixture.sh(FullAccess, &line).await;
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
    assert!(target.exists());
}

#[tokio::test]
async fn writing_into_dot_git_fails() {
    let fixture = fixture();
    let head = fixture.path_in_workspace(".git/HEAD");
    let hook = fixture.path_in_workspace(".git/hooks-post-checkout");
    let line = format!(
        "echo evil > {} && echo evil > {}",
        quote(&head),
        quote(&hook)
    );

    let sandboxed = fixture.sh(WorkspaceWrite, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert_eq!(
        std::fs::read_to_string(&head).unwrap(),
        "ref: refs/heads/main\n"
    );
    assert!(!hook.exists());

    let unsandboxed = fixture.sh(FullAccess, &line).await;
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
    assert_eq!(std::fs::read_to_string(&head).unwrap(), "evil\n");
}

#[tokio::test]
async fn writing_through_a_planted_symlink_fails() {
    let fixture = fixture();
    let line = "echo pwned > escape/through-symlink.txt";
    let target = fixture.outside.join("through-symlink.txt");

    let (sandboxed, unsandboxed) = contrast(&fixture, line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
    assert!(target.exists(), "full-access wrote through the symlink");
}

#[tokio::test]
async fn symlink_cwd_pointing_outside_is_refused() {
    let fixture = fixture();
    let mut spec = fixture.spec("pwd");
    spec.cwd = fixture.path_in_workspace("escape");
    let refused = fixture.try_run(WorkspaceWrite, &spec).await;
    assert!(
        matches!(refused, Err(SandboxError::CwdOutsideWorkspace(_))),
        "{refused:?}"
    );
    let unsandboxed = fixture.try_run(FullAccess, &spec).await.unwrap();
    assert!(succeeded(&unsandboxed));
}

#[tokio::test]
async fn reading_the_secrets_file_and_state_db_fails() {
    let fixture = fixture();
    let line = format!(
        "cat {} {}; cat {}/*",
        quote(&fixture.secrets),
        quote(&fixture.state_db),
        quote(&fixture.skills_dir)
    );

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    let seen = text(&sandboxed.stdout);
    assert!(
        !seen.contains(SECRET_MARKER) && !seen.contains(STATE_MARKER),
        "{}",
        describe(&sandboxed)
    );
    let seen = text(&unsandboxed.stdout);
    assert!(
        seen.contains(SECRET_MARKER) && seen.contains(STATE_MARKER),
        "{}",
        describe(&unsandboxed)
    );
}

#[tokio::test]
async fn files_created_in_hearth_home_later_stay_hidden() {
    // The state databases' WAL files and anything else HEARTH_HOME gains after the
    // policy was made are hidden too: the whole directory is, not a list of its files.
    let fixture = fixture();
    let wal = fixture.hearth_home.join("state.db-wal");
    std::fs::write(&wal, STATE_MARKER).unwrap();
    let line = format!("cat {}; ls -a {}", quote(&wal), quote(&fixture.hearth_home));

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    let seen = text(&sandboxed.stdout);
    assert!(!seen.contains(STATE_MARKER), "{}", describe(&sandboxed));
    assert!(!seen.contains("secrets.toml"), "{}", describe(&sandboxed));
    if MECHANISM == Choice::Bubblewrap {
        // An empty home with the workspace in it; Landlock cannot list it at all.
        assert!(seen.contains("workspace"), "{}", describe(&sandboxed));
    }
    assert!(
        text(&unsandboxed.stdout).contains(STATE_MARKER),
        "{}",
        describe(&unsandboxed)
    );
}

#[tokio::test]
async fn skills_in_hearth_home_are_readable_but_not_writable() {
    let fixture = fixture();
    let skills = fixture.hearth_home.join("skills");
    std::fs::create_dir_all(skills.join("greet")).unwrap();
    std::fs::write(skills.join("greet/SKILL.md"), "greet skill\n").unwrap();
    let line = format!(
        "cat {}; echo evil > {}",
        quote(&skills.join("greet/SKILL.md")),
        quote(&skills.join("greet/planted.sh"))
    );

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(
        text(&sandboxed.stdout).contains("greet skill"),
        "{}",
        describe(&sandboxed)
    );
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
    assert!(skills.join("greet/planted.sh").exists());
}

#[tokio::test]
async fn changing_kernel_settings_fails() {
    // Writes vm.swappiness's own value back: no change, but only root outside a
    // sandbox may do it (a sandboxed root could otherwise set kernel.core_pattern and
    // run any program as root on the host).
    let line = "v=$(cat /proc/sys/vm/swappiness) && echo \"$v\" > /proc/sys/vm/swappiness";
    let fixture = fixture();
    let sandboxed = fixture.sh(WorkspaceWrite, line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: only root may write kernel settings, so there is no contrast");
        return;
    }
    let unsandboxed = fixture.sh(FullAccess, line).await;
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
}

#[tokio::test]
async fn overwriting_hidden_files_does_not_reach_them() {
    let fixture = fixture();
    let line = format!(
        "echo hacked > {}; echo hacked > {}/new.md; true",
        quote(&fixture.secrets),
        quote(&fixture.skills_dir)
    );
    fixture.sh(WorkspaceWrite, &line).await;
    assert!(std::fs::read_to_string(&fixture.secrets)
        .unwrap()
        .contains(SECRET_MARKER));
    assert!(!fixture.skills_dir.join("new.md").exists());

    fixture.sh(FullAccess, &line).await;
    assert_eq!(
        std::fs::read_to_string(&fixture.secrets).unwrap(),
        "hacked\n"
    );
}

#[tokio::test]
async fn writing_to_a_home_directory_fails() {
    let fixture = fixture();
    let line = format!(
        "echo 'alias ls=pwn' > {}/.bashrc",
        quote(&fixture.fake_home)
    );

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
    assert!(fixture.fake_home.join(".bashrc").exists());
}

#[tokio::test]
async fn writing_to_tmp_stays_private() {
    let fixture = fixture();
    let name = format!("/tmp/hearth-sandbox-private-{}", std::process::id());
    let line = format!("echo x > {name} && cat {name}");
    let sandboxed = fixture.sh(WorkspaceWrite, &line).await;
    assert!(succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(
        !std::path::Path::new(&name).exists(),
        "the sandbox's /tmp reached the host"
    );
}

fn loopback_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A python3 that is not a user-level shim (pyenv shims need the real $HOME).
fn system_python() -> Option<&'static str> {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
}

#[tokio::test]
async fn connecting_to_a_host_loopback_server_with_python_fails() {
    let Some(python) = system_python() else {
        eprintln!("no system python3; the bash /dev/tcp tests cover connecting");
        return;
    };
    let fixture = fixture();
    let (_server, port) = loopback_server();
    let line = format!(
        "{python} -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=5)'"
    );

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
}

#[tokio::test]
async fn connecting_through_dev_tcp_fails() {
    let fixture = fixture();
    let (_server, port) = loopback_server();
    let line = format!("/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'");

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
}

/// `localhost` resolves from /etc/hosts without any network, so resolving alone
/// proves nothing; what must fail is reaching a host service by name. (A real DNS
/// lookup cannot be the contrast: CI may have no resolver at all.)
#[tokio::test]
async fn reaching_a_host_service_by_name_fails() {
    let fixture = fixture();
    let (_server, port) = loopback_server();
    let line = format!("/bin/bash -c 'exec 3<>/dev/tcp/localhost/{port}'");

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
}

#[tokio::test]
async fn network_flag_lets_the_command_reach_the_host() {
    let mut fixture = fixture();
    fixture.network = true;
    let (_server, port) = loopback_server();
    let line = format!("/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'");
    let output = fixture.sh(WorkspaceWrite, &line).await;
    assert!(succeeded(&output), "{}", describe(&output));
}

/// A process outside the sandbox, killed when dropped.
struct OutsideProcess(Child);

impl OutsideProcess {
    fn start() -> Self {
        let child = Command::new("sleep")
            .arg("120")
            .env("HEARTH_OUTSIDE_MARKER", SECRET_MARKER)
            .spawn()
            .unwrap();
        Self(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for OutsideProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn signalling_a_process_outside_fails() {
    let fixture = fixture();
    let outside = OutsideProcess::start();
    let line = format!("kill -0 {}", outside.pid());

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
}

#[tokio::test]
async fn inspecting_a_process_outside_through_proc_fails() {
    let fixture = fixture();
    let outside = OutsideProcess::start();
    let line = format!("tr '\\0' '\\n' < /proc/{}/environ", outside.pid());

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(
        !text(&sandboxed.stdout).contains(SECRET_MARKER),
        "{}",
        describe(&sandboxed)
    );
    assert!(!succeeded(&sandboxed));
    assert!(
        text(&unsandboxed.stdout).contains(SECRET_MARKER),
        "{}",
        describe(&unsandboxed)
    );
}

#[tokio::test]
async fn ptrace_attach_to_a_process_outside_fails() {
    if !std::path::Path::new("/usr/bin/strace").exists() {
        eprintln!("strace not installed; /proc and kill tests cover the PID namespace");
        return;
    }
    let fixture = fixture();
    let outside = OutsideProcess::start();
    // strace attaches, prints nothing the sleep does, and is detached by timeout(1).
    let line = format!(
        "timeout -s INT 1 strace -p {} 2>&1; echo strace-exit=$?",
        outside.pid()
    );

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    let seen = text(&sandboxed.stdout);
    assert!(!seen.contains("attached"), "{}", describe(&sandboxed));
    assert!(
        text(&unsandboxed.stdout).contains("attached"),
        "{}",
        describe(&unsandboxed)
    );
}

#[tokio::test]
async fn the_sandboxed_command_has_no_capabilities() {
    let fixture = fixture();
    let output = fixture
        .sh(
            WorkspaceWrite,
            "grep CapEff /proc/self/status; ls /proc | grep -c '^[0-9]'",
        )
        .await;
    let seen = text(&output.stdout);
    assert!(seen.contains("CapEff:\t0000000000000000"), "{seen}");
    // Only bubblewrap has a PID namespace; under Landlock other processes are listed
    // but cannot be signalled, traced or inspected (the tests above).
    if MECHANISM == Choice::Bubblewrap {
        let visible: usize = seen.lines().last().unwrap().trim().parse().unwrap();
        assert!(visible < 10, "the sandbox sees {visible} processes: {seen}");
    }
}

#[tokio::test]
async fn environment_is_cleared_to_a_safe_set_plus_spec_env() {
    let fixture = fixture();
    let mut spec = fixture.spec("env");
    spec.env.push(("INJECTED_TOKEN".into(), "abc123".into()));
    for mode in [WorkspaceWrite, FullAccess] {
        let output = fixture.try_run(mode, &spec).await.unwrap();
        let seen = text(&output.stdout);
        assert!(seen.contains("INJECTED_TOKEN=abc123"), "{seen}");
        assert!(
            seen.contains("TERM=dumb") && seen.contains("PATH="),
            "{seen}"
        );
        // cargo sets CARGO_* for the test process; none may leak into the command.
        assert!(!seen.contains("CARGO_"), "{mode}: {seen}");
    }
}

#[tokio::test]
async fn read_only_mode_reads_but_cannot_write_the_workspace() {
    let fixture = fixture();
    let line = "cat notes.txt && echo scratch > /tmp/scratch && cat /tmp/scratch && touch new-file";
    let output = fixture.sh(ReadOnly, line).await;
    let seen = text(&output.stdout);
    assert!(
        seen.contains("workspace notes") && seen.contains("scratch"),
        "{}",
        describe(&output)
    );
    assert!(!succeeded(&output));
    assert!(!fixture.path_in_workspace("new-file").exists());

    let writable = fixture.sh(WorkspaceWrite, "touch new-file").await;
    assert!(succeeded(&writable), "{}", describe(&writable));
    assert!(fixture.path_in_workspace("new-file").exists());
}

#[tokio::test]
async fn cwd_outside_the_workspace_is_refused_in_sandboxed_modes() {
    let fixture = fixture();
    let mut spec = fixture.spec("pwd");
    spec.cwd = fixture.outside.clone();
    for mode in [ReadOnly, WorkspaceWrite] {
        let refused = fixture.try_run(mode, &spec).await;
        assert!(
            matches!(refused, Err(SandboxError::CwdOutsideWorkspace(_))),
            "{mode}: {refused:?}"
        );
    }
    let output = fixture.try_run(FullAccess, &spec).await.unwrap();
    assert_eq!(
        text(&output.stdout).trim(),
        fixture.outside.display().to_string()
    );
}

#[tokio::test]
async fn relative_cwd_is_taken_from_the_workspace() {
    let fixture = fixture();
    std::fs::create_dir(fixture.path_in_workspace("src")).unwrap();
    let mut spec = fixture.spec("pwd");
    spec.cwd = "src".into();
    let output = fixture.try_run(WorkspaceWrite, &spec).await.unwrap();
    assert_eq!(
        text(&output.stdout).trim(),
        fixture.path_in_workspace("src").display().to_string()
    );
}

#[tokio::test]
async fn without_a_mechanism_sandboxed_modes_are_refused_and_full_access_runs() {
    let fixture = fixture();
    let nothing = Mechanism::Unavailable {
        reason: "test: no bwrap".into(),
    };
    let spec = fixture.spec("echo ran");
    let cancel = CancellationToken::new();
    for mode in [ReadOnly, WorkspaceWrite] {
        let refused = run_with(&nothing, &fixture.policy(mode), &spec, &cancel).await;
        assert!(
            matches!(&refused, Err(SandboxError::Unavailable(reason)) if reason.contains("no bwrap"))
        );
    }
    let output = run_with(&nothing, &fixture.policy(FullAccess), &spec, &cancel)
        .await
        .unwrap();
    assert_eq!(text(&output.stdout), "ran\n");
}

/// Removes a directory when dropped.
struct RemoveDirOnDrop(std::path::PathBuf);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A read-only mount does not stop `connect()` on a Unix socket, and daemons that
/// run anything for their clients (docker, systemd, D-Bus) listen in /run.
#[tokio::test]
async fn connecting_to_a_daemon_socket_in_run_fails() {
    let Some(python) = system_python() else {
        eprintln!("no system python3 to connect to a Unix socket; skipped");
        return;
    };
    let dir = std::path::PathBuf::from(format!("/run/hearth-sandbox-test-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        eprintln!("cannot create {} (not root?); skipped", dir.display());
        return;
    }
    let _cleanup = RemoveDirOnDrop(dir.clone());
    let socket = dir.join("daemon.sock");
    let _daemon = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let fixture = fixture();
    let line = format!(
        "{python} -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"{}\")'",
        socket.display()
    );

    let (sandboxed, unsandboxed) = contrast(&fixture, &line).await;
    assert!(!succeeded(&sandboxed), "{}", describe(&sandboxed));
    assert!(succeeded(&unsandboxed), "{}", describe(&unsandboxed));
}

#[tokio::test]
async fn resolver_config_stays_readable_when_run_is_masked() {
    let fixture = fixture();
    let on_host = std::fs::read("/etc/resolv.conf").ok();
    let output = fixture.sh(WorkspaceWrite, "cat /etc/resolv.conf").await;
    if let Some(on_host) = on_host {
        assert_eq!(output.stdout, on_host, "{}", describe(&output));
    }
}

#[tokio::test]
async fn a_workspace_under_tmp_stays_visible_and_writable() {
    // The sandbox's own /tmp must not cover a workspace that lives in the host's /tmp.
    let fixture = fixture();
    let dir = tempfile::Builder::new()
        .prefix("hearth-ws-in-tmp-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::write(dir.path().join("seen.txt"), "here\n").unwrap();
    let mut policy = fixture.policy(WorkspaceWrite);
    policy.workspace = dir.path().to_path_buf();
    let mut spec = fixture.spec("cat seen.txt && echo made > made.txt");
    spec.cwd = dir.path().to_path_buf();
    let output = run_with(&fixture.mechanism, &policy, &spec, &CancellationToken::new())
        .await
        .unwrap();
    assert!(succeeded(&output), "{}", describe(&output));
    assert_eq!(text(&output.stdout), "here\n");
    assert!(dir.path().join("made.txt").exists());
}
