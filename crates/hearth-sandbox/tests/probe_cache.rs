//! The mechanism probe is remembered across processes in the file the caller names:
//! written after a probe that works, read back instead of probing, and ignored (then
//! rewritten) when corrupt.

use hearth_sandbox::{probe_with, Mechanism, MechanismChoice, MechanismSettings};

fn settings_with_cache(file: &std::path::Path) -> MechanismSettings {
    MechanismSettings {
        choice: MechanismChoice::Bubblewrap,
        helper: None,
        probe_cache: Some(file.to_path_buf()),
    }
}

#[test]
fn a_working_probe_is_remembered_reused_and_a_corrupt_file_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first/sandbox-probe.json");
    let mechanism = probe_with(&settings_with_cache(&first));
    if !mechanism.is_available() {
        assert!(!first.exists(), "an unavailable answer was remembered");
        eprintln!("skipped the rest: bubblewrap does not work here ({mechanism})");
        return;
    }
    let written = std::fs::read_to_string(&first).unwrap();
    assert!(written.contains("Bubblewrap"), "{written}");

    // Another process (another file here, as this process keeps its answers in
    // memory too) reads the answer instead of probing: a path only the file names.
    let reused = dir.path().join("reused.json");
    let Mechanism::Bubblewrap { path } = &mechanism else {
        unreachable!("bubblewrap was forced")
    };
    let planted = written.replace(
        &serde_json::to_string(path).unwrap(),
        "\"/remembered/bwrap\"",
    );
    assert_ne!(planted, written);
    std::fs::write(&reused, planted).unwrap();
    assert_eq!(
        probe_with(&settings_with_cache(&reused)),
        Mechanism::Bubblewrap {
            path: "/remembered/bwrap".into()
        }
    );

    // A corrupt file is ignored: the probe runs and the file is rewritten.
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, &written[..written.len() / 2]).unwrap();
    assert_eq!(probe_with(&settings_with_cache(&corrupt)), mechanism);
    assert_eq!(std::fs::read_to_string(&corrupt).unwrap(), written);
}
