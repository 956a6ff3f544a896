//! The one snapshot helper of the workspace's tests: compare text with a file kept
//! beside the tests, or rewrite the file when `HEARTH_UPDATE_SNAPSHOTS` is set.

use std::path::Path;

/// The environment variable that turns every comparison into a rewrite.
pub const UPDATE_VARIABLE: &str = "HEARTH_UPDATE_SNAPSHOTS";

/// Asserts that the file at `path` holds exactly `actual`. With
/// `HEARTH_UPDATE_SNAPSHOTS=1` it writes `actual` there instead (creating folders),
/// so a deliberate change is accepted by one rerun and shows up as a diff in review.
///
/// Panics (this is a test helper) when the file is missing or differs, naming the
/// first line that differs and the variable that accepts the change.
pub fn assert_matches(path: impl AsRef<Path>, actual: &str) {
    let path = path.as_ref();
    if std::env::var_os(UPDATE_VARIABLE).is_some_and(|value| !value.is_empty()) {
        if let Some(folder) = path.parent() {
            if let Err(error) = std::fs::create_dir_all(folder) {
                panic!("cannot create {}: {error}", folder.display());
            }
        }
        if let Err(error) = std::fs::write(path, actual) {
            panic!("cannot write the snapshot {}: {error}", path.display());
        }
        return;
    }
    let expected = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => panic!(
            "no snapshot at {} ({error}); run with {UPDATE_VARIABLE}=1 to write it",
            path.display()
        ),
    };
    if expected == actual {
        return;
    }
    let line = first_difference(&expected, actual);
    panic!(
        "{} differs from the snapshot at line {}:\n  expected: {:?}\n    actual: {:?}\n\
         rerun with {UPDATE_VARIABLE}=1 if the change is intended\n\
         --- whole actual text ---\n{actual}",
        path.display(),
        line.number,
        line.expected,
        line.actual,
    );
}

/// The first line (1-based) where two texts part, and what each has there.
struct LineDifference<'a> {
    number: usize,
    expected: Option<&'a str>,
    actual: Option<&'a str>,
}

fn first_difference<'a>(expected: &'a str, actual: &'a str) -> LineDifference<'a> {
    let mut expected_lines = expected.split_inclusive('\n');
    let mut actual_lines = actual.split_inclusive('\n');
    let mut number = 1;
    loop {
        let (left, right) = (expected_lines.next(), actual_lines.next());
        if left != right || (left.is_none() && right.is_none()) {
            return LineDifference {
                number,
                expected: left,
                actual: right,
            };
        }
        number += 1;
    }
}
