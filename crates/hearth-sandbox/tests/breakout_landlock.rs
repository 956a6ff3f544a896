//! The breakout tests of `breakout.rs`, under the Landlock fallback: the helper
//! restricts itself with Landlock, seccomp and (here, where the kernel allows them)
//! namespaces, then execs the command. The same attempts must fail.

mod common;

const MECHANISM: common::Choice = common::Choice::Landlock;

include!("breakout/cases.rs");

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
