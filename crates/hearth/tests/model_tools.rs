//! Through the binary: a model's `[models."…"] tools` list is the tool list its requests
//! carry, on both wires, and `hearth context` lists exactly the tools a run sends
//! (`spawn_agent` included) with the stable prefix in estimated tokens.

use crate::common;

use common::*;
use hearth_testkit::{RecordedRequest, Step};
use serde_json::Value;

/// The tool names a recorded request offered, in order, on either wire.
fn offered(request: &RecordedRequest) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|tool| {
                    tool["function"]["name"]
                        .as_str()
                        .or(tool["name"].as_str())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The tool names `hearth context --json` lists, in order, and the report.
async fn context_tools(env: &TestEnv, flavor: Flavor) -> (Vec<String>, Value) {
    let output = env.hearth(flavor, &["context", "--json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let tools = report["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|part| part["name"].as_str()?.strip_prefix("tool "))
        .map(str::to_string)
        .collect();
    (tools, report)
}

#[tokio::test(flavor = "multi_thread")]
async fn context_lists_exactly_the_tools_a_run_offers() {
    for flavor in [ALL_FLAVORS[0], ALL_FLAVORS[2]] {
        let env = TestEnv::start(vec![Step::text("Hello.")]).await;
        let (listed, report) = context_tools(&env, flavor).await;
        let output = env.hearth(flavor, &["run", "hi"]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let sent = offered(&env.server().requests()[0]);
        assert_eq!(listed, sent, "{flavor:?}");
        assert!(sent.contains(&"spawn_agent".to_string()), "{sent:?}");
        let fixed = report["fixed_chars"].as_u64().expect("fixed_chars");
        assert_eq!(report["prefix_tokens_counted"], "estimate");
        assert_eq!(report["prefix_tokens"].as_u64(), Some(fixed.div_ceil(4)));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_models_tool_list_is_the_tool_list_its_requests_carry() {
    for flavor in [ALL_FLAVORS[0], ALL_FLAVORS[2]] {
        let env = TestEnv::start(vec![Step::text("Hello.")]).await;
        env.write_config(&format!(
            "[models.\"{}:scripted-model\"]\ntools = [\"write_file\", \"read_file\"]\n",
            flavor.provider
        ));
        let output = env.hearth(flavor, &["run", "hi"]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let sent = offered(&env.server().requests()[0]);
        assert_eq!(sent, ["read_file", "write_file"], "{flavor:?}");
        let (listed, _) = context_tools(&env, flavor).await;
        assert_eq!(listed, sent);
    }
}
