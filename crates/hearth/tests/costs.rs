//! The cost ledger and budgets end to end: the real `hearth` against the scripted
//! server with prices set in config.toml. A call that would pass a budget is never
//! sent (the server records no request for it) and the turn says which budget and how
//! to raise it; `hearth usage --json` sums what the store holds.

use crate::common;

use common::*;
use hearth_testkit::{ScriptUsage, Step};
use serde_json::Value;

const OPENAI: Flavor = Flavor {
    provider: "openai",
    stream: true,
};

/// Output is expensive (10,000 USD per million tokens: 100 tokens cost 1 USD) and input
/// cheap, so a call's cost is known and a request's estimate stays near zero.
const PRICES: &str =
    "[models.\"openai:scripted-model\"]\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 10000.0\n";

fn usage(input: u64, output: u64) -> ScriptUsage {
    ScriptUsage {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_budget_stops_the_next_call_and_names_the_budget() {
    let env = TestEnv::start(vec![Step::text("first").with_usage(usage(1000, 100))]).await;
    env.write_config(&format!("{PRICES}\n[budget]\ndaily_usd = 1.0\n"));
    let first = env.hearth(OPENAI, &["run", "one"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let second = env.hearth(OPENAI, &["run", "two"]).await;
    let said = format!("{}{}", stdout(&second), stderr(&second));
    assert!(!second.status.success(), "{said}");
    assert!(
        said.contains("daily budget") && said.contains("[budget] daily_usd"),
        "{said}"
    );
    assert!(
        said.contains("Raise [budget] daily_usd in config.toml"),
        "{said}"
    );
    assert_eq!(
        env.server().requests().len(),
        1,
        "the refused call was sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_budget_stops_a_turn_between_steps() {
    let env = TestEnv::start(vec![
        Step::tool_call("call_list", "list_dir", r#"{"path":"."}"#).with_usage(usage(1000, 100)),
        Step::text("never asked for"),
    ])
    .await;
    env.write_config(&format!("{PRICES}\n[budget]\nsession_usd = 0.5\n"));
    let output = env.hearth(OPENAI, &["run", "list the workspace"]).await;
    let said = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("session budget") && said.contains("[budget] session_usd = 0.50"),
        "{said}"
    );
    assert_eq!(
        env.server().requests().len(),
        1,
        "the refused call was sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_json_sums_match_the_stored_calls() {
    let env = TestEnv::start(vec![
        Step::tool_call("call_list", "list_dir", r#"{"path":"."}"#).with_usage(usage(1200, 30)),
        Step::text("done").with_usage(usage(1500, 20)),
        Step::text("again").with_usage(usage(800, 10)),
    ])
    .await;
    env.write_config(PRICES);
    for prompt in ["list the workspace", "and again"] {
        let output = env.hearth(OPENAI, &["run", prompt]).await;
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let store = hearth_store::Store::open(&env.home.path().join("state.db")).unwrap();
    let calls = store.calls(None).unwrap();
    assert_eq!(calls.len(), 3);
    let stored_cost: f64 = calls.iter().map(|call| call.cost_usd).sum();
    // Each call: input at 1 USD and output at 10,000 USD per million tokens.
    let expected = (3500.0 + 60.0 * 10_000.0) / 1e6;
    assert!((stored_cost - expected).abs() < 1e-9, "{stored_cost}");

    for by in ["day", "model", "session"] {
        let output = env.hearth(OPENAI, &["usage", "--json", "--by", by]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let total = &report["total"];
        assert_eq!(total["calls"], 3, "{report}");
        assert_eq!(total["input_tokens"], 3500, "{report}");
        assert_eq!(total["output_tokens"], 60, "{report}");
        let total_cost = total["cost_usd"].as_f64().unwrap();
        assert!((total_cost - stored_cost).abs() < 1e-9, "{report}");
        let groups = report["groups"].as_array().unwrap();
        let group_cost: f64 = groups.iter().map(|g| g["cost_usd"].as_f64().unwrap()).sum();
        assert!((group_cost - stored_cost).abs() < 1e-9, "{report}");
        let expected_groups = if by == "session" { 2 } else { 1 };
        assert_eq!(groups.len(), expected_groups, "{report}");
    }
    let future = env
        .hearth(OPENAI, &["usage", "--json", "--since", "2999-01-01"])
        .await;
    let report: Value = serde_json::from_str(&stdout(&future)).unwrap();
    assert_eq!(report["total"]["calls"], 0, "{report}");
    let bad = env.hearth(OPENAI, &["usage", "--since", "yesterday"]).await;
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("YYYY-MM-DD"), "{}", stderr(&bad));
}
