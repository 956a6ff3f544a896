//! Long sessions end to end: the real `hearth` against the scripted server compacts a
//! history that would pass `compact_at` of a small configured window, resumes from the
//! checkpoint, and `hearth sessions show` marks the checkpoint and nests sub-agents.

use crate::common;

use common::*;
use hearth_testkit::{ScriptedCall, Step};
use serde_json::Value;

const OPENAI: Flavor = Flavor {
    provider: "openai",
    stream: false,
};

/// The session id from `hearth run --json`'s `session_started` event.
fn session_of(output: &std::process::Output) -> String {
    stdout(output)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["type"] == "session_started")
        .and_then(|event| event["session_id"].as_str().map(str::to_string))
        .expect("a session_started event")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_session_is_compacted_resumed_and_shown_with_its_checkpoint() {
    let env = TestEnv::start(vec![
        Step::text("The first answer."),
        Step::text("- Turn one: the user said hello."),
        Step::text("The second answer."),
        Step::text("The third answer."),
    ])
    .await;
    // Compaction past 6,400 tokens (about 25,600 bytes): the fixed prompt (about 6,000
    // characters) and one long turn fit, two do not; after compaction they fit again.
    env.write_config(
        "[models.\"openai:scripted-model\"]\ncontext_window = 8000\n\n[context]\nkeep_recent_turns = 1\n",
    );
    let paste = "a long paste of notes. ".repeat(520);
    let hello = format!("hello {paste}");
    let first = env.hearth(OPENAI, &["run", "--json", &hello]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let id = session_of(&first);
    let long = format!("Now this: {paste}");
    let second = env.hearth(OPENAI, &["run", "--resume", &id, &long]).await;
    assert!(second.status.success(), "{}", stderr(&second));
    let third = env
        .hearth(OPENAI, &["run", "--resume", &id, "and a third thing"])
        .await;
    assert!(third.status.success(), "{}", stderr(&third));

    let requests = env.server().requests();
    assert_eq!(requests.len(), 4);
    let summary_call = system_text(&requests[1]);
    assert!(summary_call.starts_with("You summarise"), "{summary_call}");
    // After the checkpoint (and after a restart): the summary, then what came after.
    for request in &requests[2..] {
        let texts = user_texts(request);
        assert!(
            texts[0].contains("- Turn one: the user said hello."),
            "{texts:?}"
        );
        assert!(
            !texts.iter().any(|text| text.starts_with("hello")),
            "{texts:?}"
        );
        assert_eq!(system_text(request), system_text(&requests[0]));
    }

    let shown = env.hearth(OPENAI, &["sessions", "show", &id]).await;
    let text = stdout(&shown);
    assert!(
        text.contains("── checkpoint") && text.contains("messages 1–2 compacted"),
        "{text}"
    );
    // The full transcript is kept: turn one is still shown, above the mark.
    let mark = text.find("── checkpoint").unwrap_or(0);
    assert!(text[..mark].contains("user: hello a long paste"), "{text}");
    let json = env
        .hearth(OPENAI, &["sessions", "show", "--json", &id])
        .await;
    let value: Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    assert_eq!(value["checkpoints"][0]["up_to_seq"], 2);
    assert_eq!(value["messages"].as_array().map(Vec::len), Some(6));
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_show_nests_a_sub_agent_under_its_parent() {
    let env = TestEnv::start(vec![
        Step::tool_calls(
            "",
            vec![ScriptedCall {
                id: "call_spawn".into(),
                name: "spawn_agent".into(),
                arguments: r#"{"task":"Count to three.","tools":["read_file"]}"#.into(),
            }],
        ),
        Step::text("one, two, three"),
        Step::text("The helper counted to three."),
    ])
    .await;
    let output = env
        .hearth(OPENAI, &["run", "--json", "have a helper count"])
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let id = session_of(&output);
    let shown = env.hearth(OPENAI, &["sessions", "show", &id]).await;
    let text = stdout(&shown);
    assert!(text.contains("↳ sub-agent session"), "{text}");
    assert!(text.contains("task: Count to three."), "{text}");
    assert!(text.contains("answer: one, two, three"), "{text}");
    let child = &env.server().requests()[1];
    let texts = user_texts(child);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].starts_with("Count to three."), "{texts:?}");
}
