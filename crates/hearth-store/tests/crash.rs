//! Crash safety: a process appending in a loop is SIGKILLed; every message it was told
//! was stored is there after reopening, and the database passes `integrity_check`.
//!
//! The appender is this test binary itself, re-run with [`CHILD_DB_VAR`] set so that
//! only [`appender_child`] does any work.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use hearth_protocol::{Message, ToolCall, ToolResult};
use hearth_store::Store;

const CHILD_DB_VAR: &str = "HEARTH_STORE_CRASH_CHILD_DB";
const CHILD_SESSION_VAR: &str = "HEARTH_STORE_CRASH_CHILD_SESSION";
const APPENDED_MARKER: &str = "HEARTH-APPENDED-SEQ ";
/// How many acknowledged appends the parent waits for before killing the child.
const KILL_AFTER: usize = 40;
/// The child stops on its own after this many, in case nobody kills it.
const CHILD_MAX_APPENDS: i64 = 100_000;

/// The message the child stores as its `n`th append; mixes every kind, with bodies
/// long enough that a kill often lands mid-write.
fn nth_message(n: i64) -> Message {
    let call = ToolCall {
        id: format!("call_{n}"),
        name: "shell".into(),
        arguments: format!(r#"{{"command":"echo {n}"}}"#),
    };
    let padding = "x".repeat(2_000);
    match n % 3 {
        0 => Message::user(format!("message {n} {padding}")),
        1 => Message::assistant(format!("message {n}"), vec![call]),
        _ => Message::Tool(ToolResult::ok(&call, format!("message {n} {padding}"))),
    }
}

/// Runs only as the re-executed child: appends forever, reporting each seq after
/// `append` returns.
#[test]
fn appender_child() {
    let (Ok(db), Ok(session_id)) = (
        std::env::var(CHILD_DB_VAR),
        std::env::var(CHILD_SESSION_VAR),
    ) else {
        return;
    };
    let store = Store::open(Path::new(&db)).unwrap();
    let mut stdout = std::io::stdout().lock();
    for n in 1..=CHILD_MAX_APPENDS {
        let seq = store.append(&session_id, &nth_message(n)).unwrap();
        writeln!(stdout, "{APPENDED_MARKER}{seq}").unwrap();
        stdout.flush().unwrap();
    }
}

#[cfg(unix)]
#[test]
fn acknowledged_appends_survive_sigkill() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let session_id = {
        let store = Store::open(&db).unwrap();
        store.create_session("m", Path::new("/w")).unwrap().id
    };

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::appender_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB_VAR, &db)
        .env(CHILD_SESSION_VAR, &session_id)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reported = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((_, seq)) = line.split_once(APPENDED_MARKER) {
            reported.push(seq.trim().parse::<i64>().unwrap());
        }
        if reported.len() == KILL_AFTER && !killed {
            child.kill().unwrap(); // SIGKILL on Unix
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    const SIGKILL: i32 = 9;
    assert_eq!(
        status.signal(),
        Some(SIGKILL),
        "child was not killed: {status}"
    );
    assert!(
        reported.len() >= KILL_AFTER,
        "child reported only {reported:?}"
    );
    assert_eq!(reported, (1..=reported.len() as i64).collect::<Vec<_>>());

    let store = Store::open(&db).unwrap();
    let messages = store.messages(&session_id).unwrap();
    assert!(messages.len() >= reported.len());
    for seq in &reported {
        let index = usize::try_from(*seq - 1).unwrap();
        assert_eq!(messages[index], nth_message(*seq), "message {seq}");
    }

    let raw = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = raw
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}
