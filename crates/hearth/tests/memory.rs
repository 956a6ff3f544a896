//! Long-term memory end to end: a real `hearth run` captures what was said into
//! `memory.db`, `hearth memory` finds it, a later session is offered it as recalled
//! memory, and `forget` takes it out of the next request. (HOME is the temp home, so
//! no embedding model is found: memory runs on keywords, deterministically.)

use crate::common;

use common::*;
use hearth_testkit::Step;
use serde_json::Value;

const FACT: &str = "Remember that my sister Priya moved to Lisbon in March.";

async fn search(env: &TestEnv, query: &str) -> Vec<Value> {
    let output = env
        .hearth(ALL_FLAVORS[0], &["memory", "search", "--json", query])
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let hits: Value = serde_json::from_str(&stdout(&output)).expect("a JSON array");
    hits.as_array().expect("array").clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_is_captured_recalled_in_the_next_and_forgotten_on_request() {
    for flavor in [ALL_FLAVORS[0], ALL_FLAVORS[3]] {
        let mut env = TestEnv::start(vec![Step::text("Noted: Priya lives in Lisbon now.")]).await;
        let output = env.hearth(flavor, &["run", FACT]).await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));

        // Both sides of the turn were captured, with their speakers.
        let hits = search(&env, "Priya Lisbon").await;
        let said: Vec<(String, String)> = hits
            .iter()
            .map(|h| {
                (
                    h["speaker"].as_str().unwrap_or_default().to_string(),
                    h["text"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert!(
            said.contains(&("user".into(), FACT.into())),
            "{flavor:?} {said:?}"
        );
        assert!(
            said.iter()
                .any(|(who, text)| who == "assistant" && text.contains("Noted: Priya")),
            "{flavor:?} {said:?}"
        );

        // A new session about the same thing is offered the memory, marked as such,
        // after the person's own words.
        env.restart_server(vec![Step::text("She lives in Lisbon.")])
            .await;
        let output = env
            .hearth(flavor, &["run", "Where does my sister Priya live?"])
            .await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));
        let sent = user_texts(&env.server().requests()[0]);
        assert_eq!(sent.len(), 1, "a new session: {sent:?}");
        assert!(
            sent[0].starts_with("Where does my sister Priya live?"),
            "{sent:?}"
        );
        assert!(sent[0].contains("<recalled-memory>"), "{sent:?}");
        assert!(sent[0].contains("moved to Lisbon in March"), "{sent:?}");

        // Forgotten, it is in neither the store nor the next request.
        for hit in search(&env, "Lisbon").await {
            let id = hit["id"].to_string();
            let output = env.hearth(flavor, &["memory", "forget", &id]).await;
            assert!(output.status.success(), "{}", stderr(&output));
        }
        assert!(search(&env, "Lisbon").await.is_empty());
        env.restart_server(vec![Step::text("I don't know.")]).await;
        let output = env
            .hearth(flavor, &["run", "Where does my sister Priya live?"])
            .await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));
        let sent = user_texts(&env.server().requests()[0]);
        assert!(!sent[0].contains("Lisbon"), "{sent:?}");
    }
}

/// The bundled embedder's folder in the real model cache, if setup fetched it.
fn cached_embedder() -> Option<std::path::PathBuf> {
    let dir = hearth_protocol::model_cache_dir(|name| std::env::var_os(name))?
        .join(hearth_memory::DEFAULT_MODEL);
    dir.join("model.safetensors").is_file().then_some(dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn hearth_embedder_names_the_model_folder_and_a_bad_one_is_reported() {
    let env = TestEnv::start(Vec::new()).await;
    let missing = env.home.path().join("no-such-model");
    let output = env
        .command("openai")
        .env("HEARTH_EMBEDDER", &missing)
        .args(["memory", "add", "the spare key is under the blue pot"])
        .output()
        .await
        .expect("hearth ran");
    // The note is kept on keywords, and the reason names the folder and the fix.
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(said.contains("no-such-model"), "{said}");
    assert!(said.contains("HEARTH_EMBEDDER"), "{said}");
    assert!(said.contains("keywords only"), "{said}");

    let Some(model) = cached_embedder() else {
        let reason = hearth_testkit::model_absent(
            "the embedder is not in the cache (scripts/fetch-models.sh embedder)",
        );
        eprintln!("skipped the loading half: {reason}");
        return;
    };
    // A folder anywhere (here a copy by symlink under another name) is used as the model.
    let chosen = env.home.path().join("my-embedder");
    std::os::unix::fs::symlink(&model, &chosen).expect("symlink");
    // Another model than the note was stored with: reindex embeds it with this one.
    let output = env
        .command("openai")
        .env("HEARTH_EMBEDDER", &chosen)
        .args(["memory", "reindex"])
        .output()
        .await
        .expect("hearth ran");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("re-embedded"),
        "{}",
        stdout(&output)
    );
    let output = env
        .command("openai")
        .env("HEARTH_EMBEDDER", &chosen)
        .args(["memory", "search", "--json", "where is the spare key"])
        .output()
        .await
        .expect("hearth ran");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("keywords only"),
        "{}",
        stderr(&output)
    );
    let hits: Value = serde_json::from_str(&stdout(&output)).expect("a JSON array");
    let top = &hits[0];
    assert!(
        top["text"]
            .as_str()
            .unwrap_or_default()
            .contains("blue pot"),
        "{hits}"
    );
    assert!(top["cosine"].is_number(), "searched with vectors: {hits}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_memory_file_is_recalled_in_its_workspace_only_and_marked_as_a_file() {
    let flavor = ALL_FLAVORS[0];
    let mut env = TestEnv::start(vec![Step::text("On Fridays.")]).await;
    let ours = env.workspace();
    std::fs::create_dir_all(ours.join("memory")).unwrap();
    std::fs::write(
        ours.join("memory/plans.md"),
        "# Release\n\nPush the persimmon branch on Fridays.\n\n# Garden\n\nWater the roses.",
    )
    .unwrap();
    let theirs = env.workspace().with_file_name("other-workspace");
    std::fs::create_dir_all(&theirs).unwrap();
    let question = "When do I push the persimmon branch?";

    let output = env.hearth(flavor, &["run", question]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let sent = user_texts(&env.server().requests()[0]);
    let recalled = sent[0]
        .lines()
        .find(|line| line.contains("persimmon branch on Fridays"))
        .unwrap_or_else(|| panic!("the file is recalled: {sent:?}"));
    assert!(recalled.contains(" file memory/plans.md] "), "{recalled}");

    env.restart_server(vec![Step::text("I don't know.")]).await;
    let other = theirs.to_string_lossy().to_string();
    let output = env.hearth(flavor, &["run", "-C", &other, question]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let sent = user_texts(&env.server().requests()[0]);
    assert!(!sent[0].contains("on Fridays"), "{sent:?}");
}
