//! A tool's `ToolError` reaches the model and the transcript as `"{tool}: {error}"`,
//! rendered once by dispatch: a built-in tool's path error, a custom tool's refusal,
//! and an error output (a result that carries what was run) passed through as it is.

use std::sync::Arc;

use async_trait::async_trait;
use hearth_agent::{Agent, AgentSettings};
use hearth_models::{build_provider, ModelRef, ProviderKind, ProviderSettings};
use hearth_protocol::{Message, ToolResult, ToolSpec, TurnEnd};
use hearth_secrets::Redactor;
use hearth_store::{AsyncStore, Store};
use hearth_testkit::{Script, ScriptedCall, ScriptedServer, Step};
use hearth_tools::{ReadFile, Tool, ToolContext, ToolError, ToolOutput, ToolRegistry};
use tokio_util::sync::CancellationToken;

/// Refuses when asked to, or answers with an error output of its own.
struct Picky;

#[async_trait]
impl Tool for Picky {
    fn name(&self) -> &str {
        "picky"
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "picky".into(),
            description: "Refuses or fails.".into(),
            parameters: serde_json::json!({"type": "object"}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        _ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        if args["refuse"] == true {
            return Err(ToolError::Refused("the rule 'no' says no".into()));
        }
        Ok(ToolOutput::error("exit code 1 (what was run said so)"))
    }
}

#[tokio::test]
async fn tool_errors_are_rendered_once_naming_the_tool() {
    let server = ScriptedServer::start(Script::new(vec![
        Step::tool_calls(
            "",
            vec![
                ScriptedCall::new("c1", "read_file", r#"{"path":"nope.txt"}"#),
                ScriptedCall::new("c2", "picky", r#"{"refuse":true}"#),
                ScriptedCall::new("c3", "picky", r#"{}"#),
            ],
        ),
        Step::text("done"),
    ]))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    std::fs::create_dir(&workspace).unwrap();
    let store = Arc::new(Store::open(&dir.path().join("state.db")).unwrap());
    let session = store.create_session("openai:scripted", &workspace).unwrap();
    let mut settings = ProviderSettings::new(ProviderKind::OpenAi);
    settings.base_url = server.openai_base_url();
    let mut tools = ToolRegistry::new();
    tools.register(Arc::new(ReadFile));
    tools.register(Arc::new(Picky));
    let agent = Agent {
        provider: build_provider(settings).unwrap(),
        model: ModelRef::parse("openai:scripted").unwrap(),
        tools,
        tool_context: ToolContext::new(&workspace).unwrap(),
        store: AsyncStore::spawn(store.clone()).unwrap(),
        system_prompt: "You are a test.".into(),
        settings: AgentSettings::default(),
        redactor: Redactor::new(Vec::new()),
        memory: None,
    };

    let outcome = agent
        .run_turn(&session.id, "go", &mut |_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.end, TurnEnd::Completed);

    let results: Vec<ToolResult> = store
        .messages(&session.id)
        .unwrap()
        .into_iter()
        .filter_map(|message| match message {
            Message::Tool(result) => Some(result),
            _ => None,
        })
        .collect();
    let error = |id: &str, name: &str, content: &str| ToolResult {
        call_id: id.into(),
        name: name.into(),
        content: content.into(),
        is_error: true,
    };
    assert_eq!(
        results,
        vec![
            error(
                "c1",
                "read_file",
                "read_file: path 'nope.txt' does not exist in the workspace; check the spelling, or use list_dir or glob to find the right path",
            ),
            error("c2", "picky", "picky: the rule 'no' says no"),
            error("c3", "picky", "exit code 1 (what was run said so)"),
        ]
    );
}
