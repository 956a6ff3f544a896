//! The one snapshot helper: a match passes, a difference fails naming the line and the
//! update variable, a missing file fails, and `HEARTH_UPDATE_SNAPSHOTS=1` rewrites.
//! (The rewrite is checked by running this binary again as a child with the variable
//! set, so no test changes this process's environment.)

use std::process::Command;

use hearth_testkit::snapshot::{assert_matches, UPDATE_VARIABLE};

const CHILD_PATH_VAR: &str = "HEARTH_TESTKIT_SNAPSHOT_CHILD_PATH";

fn panic_text(outcome: std::thread::Result<()>) -> String {
    let payload = outcome.expect_err("the assertion fails");
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_matching_file_passes_and_a_different_one_names_the_first_differing_line() {
    if std::env::var_os(UPDATE_VARIABLE).is_some() {
        return; // under the update variable every comparison is a rewrite
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expected.txt");
    std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
    assert_matches(&path, "one\ntwo\nthree\n");

    let text = panic_text(std::panic::catch_unwind(|| {
        assert_matches(&path, "one\nTWO\nthree\n")
    }));
    assert!(text.contains("line 2"), "{text}");
    assert!(
        text.contains("\"two\\n\"") && text.contains("\"TWO\\n\""),
        "{text}"
    );
    assert!(text.contains("HEARTH_UPDATE_SNAPSHOTS=1"), "{text}");

    let missing = dir.path().join("missing.txt");
    let text = panic_text(std::panic::catch_unwind(|| assert_matches(&missing, "x")));
    assert!(text.contains("no snapshot at"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "one\ntwo\nthree\n",
        "a comparison never writes"
    );
}

/// Runs only as the re-executed child: compares (so, with the variable, rewrites).
#[test]
fn snapshot_child() {
    if let Some(path) = std::env::var_os(CHILD_PATH_VAR) {
        assert_matches(std::path::Path::new(&path), "new text\n");
    }
}

#[test]
fn the_update_variable_rewrites_the_snapshot_and_creates_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/expected.txt");
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "snapshot::snapshot_child", "--test-threads=1"])
        .env(CHILD_PATH_VAR, &path)
        .env(UPDATE_VARIABLE, "1")
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new text\n");
}
