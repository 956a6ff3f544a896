//! Tests that try to break out of the sandbox, under bubblewrap. Each attempt must fail
//! under `workspace-write` and succeed under `full-access`, so every test can fail: if
//! the sandbox stopped doing its job, the first half would break; if the attempt itself
//! were broken, the second half would. The same cases run under the Landlock helper in
//! `breakout_landlock.rs`.

mod common;

const MECHANISM: common::Choice = common::Choice::Bubblewrap;

include!("breakout/cases.rs");

#[tokio::test]
async fn probe_finds_bubblewrap_and_names_it() {
    let mechanism = hearth_sandbox::probe();
    assert!(
        mechanism.to_string().starts_with("bubblewrap ("),
        "{mechanism}"
    );
    let broken = hearth_sandbox::probe_bwrap(std::path::Path::new("/nonexistent/bwrap"));
    assert!(!broken.is_available());
    assert!(
        broken.to_string().contains("/nonexistent/bwrap"),
        "{broken}"
    );
}

#[tokio::test]
async fn run_uses_the_probed_mechanism() {
    let fixture = fixture();
    let output = hearth_sandbox::run(
        &fixture.policy(WorkspaceWrite),
        &fixture.spec("echo hi"),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(text(&output.stdout), "hi\n");
}
