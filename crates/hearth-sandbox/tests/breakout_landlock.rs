//! What only the Landlock fallback has: the helper restricts itself with Landlock,
//! seccomp and (here, where the kernel allows them) namespaces, then execs the command.
//! The breakout cases themselves run under it from `breakout.rs` (`breakout::landlock`).

use hearth_sandbox::Mechanism;
use hearth_sandbox::SandboxMode::{ReadOnly, WorkspaceWrite};

use crate::common::{self, *};

const MECHANISM: Choice = Choice::Landlock;

#[tokio::test]
async fn the_helper_reports_what_it_enforces() {
    let mechanism = common::mechanism(common::Choice::Landlock);
    let Mechanism::Landlock { report, .. } = &mechanism else {
        unreachable!("checked by common::mechanism");
    };
    assert!(report.landlock_abi >= 1, "{report:?}");
    assert!(report.seccomp);
    assert!(
        mechanism.to_string().starts_with("Landlock ABI"),
        "{mechanism}"
    );
}

#[tokio::test]
async fn a_broken_plan_is_refused_before_anything_runs() {
    let helper = common::landlock_helper();
    let output = std::process::Command::new(&helper.program)
        .args([
            "--plan",
            "{not json",
            "--",
            "touch",
            "/tmp/should-not-exist",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not valid JSON"));
}

/// A workspace (and HEARTH_HOME) under the host's /tmp, as with a clone in /tmp: the
/// helper mounts a private /tmp and binds the workspace back in, and nothing it binds
/// back becomes more writable than its policy allows.
#[tokio::test]
async fn a_workspace_under_tmp_keeps_tmp_private_and_read_only_paths_read_only() {
    let fixture = Fixture::under(MECHANISM, std::path::Path::new("/tmp"));
    assert!(fixture.workspace.starts_with("/tmp"));
    let private = format!("/tmp/hearth-private-{}", std::process::id());
    let line = format!("echo x > {private} && cat {private} && echo y > written.txt");
    let output = fixture.sh(WorkspaceWrite, &line).await;
    assert!(succeeded(&output), "{}", describe(&output));
    assert!(fixture.path_in_workspace("written.txt").exists());
    assert!(
        !std::path::Path::new(&private).exists(),
        "the sandbox's /tmp reached the host"
    );

    let git = fixture.sh(WorkspaceWrite, "echo evil > .git/HEAD").await;
    assert!(!succeeded(&git), "{}", describe(&git));
    let read_only = fixture
        .sh(ReadOnly, "cat notes.txt && touch new-file")
        .await;
    assert!(text(&read_only.stdout).contains("workspace notes"));
    assert!(!succeeded(&read_only), "{}", describe(&read_only));
    assert!(!fixture.path_in_workspace("new-file").exists());

    let skills = fixture.hearth_home.join("skills");
    std::fs::create_dir_all(&skills).unwrap();
    std::fs::write(skills.join("SKILL.md"), "a skill\n").unwrap();
    let line = format!(
        "cat {}; cat {}; echo evil > {}",
        quote(&skills.join("SKILL.md")),
        quote(&fixture.secrets),
        quote(&skills.join("planted"))
    );
    let output = fixture.sh(WorkspaceWrite, &line).await;
    assert!(
        text(&output.stdout).contains("a skill"),
        "{}",
        describe(&output)
    );
    assert!(
        !text(&output.stdout).contains(SECRET_MARKER),
        "{}",
        describe(&output)
    );
    assert!(!skills.join("planted").exists());
}
