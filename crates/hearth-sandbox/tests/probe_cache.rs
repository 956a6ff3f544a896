//! The mechanism probe is remembered across processes in the file the caller names:
//! written after a probe that works, read back instead of probing, and ignored (then
//! rewritten) when corrupt or when it names another program as bwrap.

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
    // memory too) reads the answer instead of probing: the file is not rewritten.
    use std::os::unix::fs::MetadataExt;
    let reused = dir.path().join("reused.json");
    std::fs::write(&reused, &written).unwrap();
    let inode = std::fs::metadata(&reused).unwrap().ino();
    assert_eq!(probe_with(&settings_with_cache(&reused)), mechanism);
    assert_eq!(
        std::fs::metadata(&reused).unwrap().ino(),
        inode,
        "probed again"
    );

    // A planted answer naming another program as bwrap (a sandboxed command that
    // could write the cache would name its own script, for Hearth to run outside any
    // sandbox) is refused: the probe runs and the real answer replaces it.
    let Mechanism::Bubblewrap { path } = &mechanism else {
        unreachable!("bubblewrap was forced")
    };
    let planted_file = dir.path().join("planted.json");
    let planted = written.replace(
        &serde_json::to_string(path).unwrap(),
        "\"/workspace/evil.sh\"",
    );
    assert_ne!(planted, written);
    std::fs::write(&planted_file, planted).unwrap();
    assert_eq!(probe_with(&settings_with_cache(&planted_file)), mechanism);
    assert_eq!(std::fs::read_to_string(&planted_file).unwrap(), written);

    // A corrupt file is ignored: the probe runs and the file is rewritten.
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, &written[..written.len() / 2]).unwrap();
    assert_eq!(probe_with(&settings_with_cache(&corrupt)), mechanism);
    assert_eq!(std::fs::read_to_string(&corrupt).unwrap(), written);
}
