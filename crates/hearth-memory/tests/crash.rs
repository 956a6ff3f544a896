//! A process killed while capturing (and while its worker embeds) loses nothing it
//! acknowledged: every capture it reported is there after reopening, and with a model
//! the next worker embeds whatever the killed one had not.
//!
//! The capturer is this test binary itself, re-run with [`CHILD_DB_VAR`] set so that
//! only [`capturer_child`] does any work.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use hearth_memory::{CapturedTurn, Embedder, Memory, Provenance};

const CHILD_DB_VAR: &str = "HEARTH_MEMORY_CRASH_CHILD_DB";
const CAPTURED_MARKER: &str = "HEARTH-CAPTURED ";
const KILL_AFTER: usize = 20;
const CHILD_MAX: usize = 100_000;

fn nth_text(n: usize) -> String {
    format!("turn {n}: we talked about topic {} and the weather", n * 7)
}

fn embedder() -> Option<Arc<Embedder>> {
    Embedder::load_default(&hearth_memory::EmbedderSettings::from_vars(|name| {
        std::env::var_os(name)
    }))
    .ok()
    .flatten()
    .map(Arc::new)
}

#[test]
fn capturer_child() {
    let Ok(db) = std::env::var(CHILD_DB_VAR) else {
        return;
    };
    let memory = Memory::open(Path::new(&db), embedder()).unwrap();
    let mut stdout = std::io::stdout().lock();
    for n in 1..=CHILD_MAX {
        let id = memory
            .capture(CapturedTurn {
                session_id: "crash".into(),
                speaker: "user".into(),
                text: nth_text(n),
                timestamp: None,
                provenance: Provenance::User,
            })
            .unwrap();
        writeln!(stdout, "{CAPTURED_MARKER}{n} {id}").unwrap();
        stdout.flush().unwrap();
    }
}

#[cfg(unix)]
#[test]
fn acknowledged_captures_survive_sigkill() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("memory.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::capturer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB_VAR, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acknowledged: Vec<(usize, i64)> = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((_, rest)) = line.split_once(CAPTURED_MARKER) {
            let (n, id) = rest.trim().split_once(' ').unwrap();
            acknowledged.push((n.parse().unwrap(), id.parse().unwrap()));
        }
        if acknowledged.len() == KILL_AFTER && !killed {
            child.kill().unwrap(); // SIGKILL
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "child was not killed: {status}");
    assert!(acknowledged.len() >= KILL_AFTER);

    let model = embedder();
    let with_model = model.is_some();
    let memory = Memory::open(&db, model).unwrap();
    for (n, id) in &acknowledged {
        let item = memory
            .get(*id)
            .unwrap()
            .unwrap_or_else(|| panic!("capture {n} lost"));
        assert_eq!(item.text, nth_text(*n));
        assert_eq!(item.seq, *n as i64);
    }
    memory.wait_idle().unwrap();
    let raw = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = raw
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let fts: i64 = raw
        .query_row("SELECT count(*) FROM items_fts", [], |r| r.get(0))
        .unwrap();
    let items: i64 = raw
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fts, items, "every item has its keyword row");
    if with_model {
        let unembedded: i64 = raw
            .query_row("SELECT count(*) FROM items WHERE embedded = 0", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(unembedded, 0, "the reopened worker embeds what was left");
    } else {
        let reason = hearth_testkit::model_absent(
            "no embedding model in the cache (run scripts/fetch-models.sh embedder)",
        );
        eprintln!("skipped the embedding half: {reason}");
    }
}
