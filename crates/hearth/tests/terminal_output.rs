//! End-to-end: text from the model never reaches the terminal as escape sequences or
//! control characters: the real `hearth` binary against the scripted model server,
//! the answer, the progress lines, `--json` and `sessions show` all checked byte by byte;
//! and a reader that goes (`hearth run … | head -1`) ends the run quietly with 0.

use crate::common;

use common::*;
use hearth_testkit::{ScriptedCall, Step};

/// OSC 52 (clipboard write), OSC 0 (title), a bare CR, backspace, C1 CSI, a bidi override.
const HOSTILE: &str =
    "Done.\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07 safe\rhidden\x08 \u{9b}31m \u{202e}evil é 日本\n";
const SPOOF: &str = "echo pwned > file #\r\x1b[2K  ls -la";

/// Bytes a terminal would act on: C0 controls other than newline and tab, DEL, C1.
fn terminal_controls(bytes: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .chain(
            String::from_utf8_lossy(bytes)
                .chars()
                .filter(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        )
        .collect()
}

fn spoof_call() -> Step {
    let args = serde_json::json!({ "command": SPOOF }).to_string();
    Step::tool_call("call_spoof", "exec", &args)
}

#[tokio::test(flavor = "multi_thread")]
async fn model_text_reaches_the_terminal_escaped() {
    for flavor in ALL_FLAVORS {
        let env = TestEnv::start(vec![spoof_call(), Step::text(HOSTILE)]).await;
        let output = env
            .hearth(flavor, &["run", "--approval", "untrusted", "do it"])
            .await;
        let context = format!(
            "{flavor:?}\nstdout: {:?}\nstderr: {:?}",
            stdout(&output),
            stderr(&output)
        );
        assert!(output.status.success(), "{context}");
        assert!(!output.stdout.contains(&0x1b), "{context}");
        assert_eq!(
            terminal_controls(&output.stdout),
            Vec::<char>::new(),
            "{context}"
        );
        assert_eq!(
            terminal_controls(&output.stderr),
            Vec::<char>::new(),
            "{context}"
        );
        let answer = stdout(&output);
        assert!(answer.contains("\\x1b]52;c;ZXZpbA==\\x07"), "{context}");
        assert!(answer.contains("é 日本"), "{context}");
        // The progress line shows the whole command, the hidden part included.
        assert!(
            stderr(&output).contains("· exec echo pwned > file #\\r\\x1b[2K  ls -la"),
            "{context}"
        );
        assert!(
            !env.workspace().join("file").exists(),
            "{context}: asked, no terminal, not run"
        );

        let listed = env.hearth(flavor, &["sessions", "list", "--json"]).await;
        let sessions: serde_json::Value =
            serde_json::from_str(&stdout(&listed)).expect("sessions JSON");
        let id = sessions[0]["id"]
            .as_str()
            .expect("a session id")
            .to_string();
        let shown = env.hearth(flavor, &["sessions", "show", &id]).await;
        assert!(shown.status.success(), "{}", stderr(&shown));
        assert_eq!(
            terminal_controls(&shown.stdout),
            Vec::<char>::new(),
            "{}",
            stdout(&shown)
        );
        assert!(
            stdout(&shown).contains("\\x1b]0;pwned\\x07"),
            "{}",
            stdout(&shown)
        );

        let json = env
            .hearth(flavor, &["sessions", "show", "--json", &id])
            .await;
        assert_eq!(
            terminal_controls(&json.stdout),
            Vec::<char>::new(),
            "{}",
            stdout(&json)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_events_carry_the_text_exactly_but_escaped() {
    let flavor = ALL_FLAVORS[0];
    let env = TestEnv::start(vec![Step::text(HOSTILE)]).await;
    let output = env.hearth(flavor, &["run", "--json", "hi"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        terminal_controls(&output.stdout),
        Vec::<char>::new(),
        "{}",
        stdout(&output)
    );
    let text: String = stdout(&output)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["type"] == "text_delta")
        .filter_map(|event| event["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, HOSTILE, "the JSON decodes to the model's exact text");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_goes_stops_the_run_quietly_with_status_0() {
    use tokio::io::AsyncBufReadExt;

    let lines: String = (1..=400).map(|n| format!("line {n}\n")).collect();
    let env = TestEnv::start(vec![
        Step::tool_calls(
            "first line\n",
            vec![ScriptedCall::new("call_1", "list_dir", r#"{"path":"."}"#)],
        ),
        // Streamed slowly (10 s in all), so the reader is gone before it ends.
        Step::tool_calls(
            lines,
            vec![ScriptedCall::new("call_2", "list_dir", r#"{"path":"."}"#)],
        )
        .with_chunk_delay_ms(25),
        Step::text("never asked for"),
    ])
    .await;
    let mut child = env.spawn(ALL_FLAVORS[0], &["run", "count"]);
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .expect("a first line");
    assert_eq!(first, "first line\n");
    // `head -1` exits here: the read end of the pipe closes.
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("hearth stopped once its reader went")
        .expect("hearth ran");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("hearth:"),
        "no error line: {err}"
    );
    assert_eq!(
        env.server().remaining_steps(),
        1,
        "the turn stopped instead of running on unread"
    );
}
