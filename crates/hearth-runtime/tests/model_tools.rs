//! What an agent is offered and sized for, per model: `BUILT_IN_TOOLS` names exactly the
//! tools a full agent gets; a `[models."…"] tools` list restricts them (and the
//! `agent_tool_specs` that `hearth context` lists are the agent's own); a local model
//! under a billion parameters gets the small set; an Ollama server's window is the
//! window compaction works to unless config sets one.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use hearth_models::ModelRef;
use hearth_runtime::model_tools::{BUILT_IN_TOOLS, SMALL_MODEL_TOOLS};
use hearth_runtime::{resolve, Environment, Overrides, Resolved};
use hearth_testkit::{Personality, Script, ScriptedServer};
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};

struct Deny;

#[async_trait::async_trait]
impl Approver for Deny {
    async fn decide(&self, _request: &ApprovalRequest) -> ApprovalDecision {
        ApprovalDecision::Deny {
            reason: "test".into(),
        }
    }
}

/// A home at `home` with `config`, the OpenAI provider at `base_url`.
fn resolved(home: &Path, config: &str, base_url: &str) -> Resolved {
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(home.join("config.toml"), config).unwrap();
    let vars: Vec<(&str, OsString)> = vec![
        ("HEARTH_HOME", home.as_os_str().to_owned()),
        ("OPENAI_BASE_URL", base_url.into()),
        ("OPENAI_API_KEY", "sk-test".into()),
    ];
    let env = Environment::from_vars(move |name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    });
    resolve(&Overrides::default(), env).unwrap()
}

fn agent_for(resolved: &Resolved, model: &ModelRef) -> hearth_agent::Agent {
    let store = resolved.open_store().unwrap();
    let session = store
        .create_session(&model.to_string(), &resolved.workspace)
        .unwrap();
    resolved
        .agent(model.clone(), store, &session.id, Arc::new(Deny))
        .unwrap()
}

fn names(specs: &[hearth_protocol::ToolSpec]) -> Vec<String> {
    specs.iter().map(|spec| spec.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_models_tool_list_is_what_its_agent_and_context_offer() {
    let dir = tempfile::tempdir().unwrap();
    let model = ModelRef::parse("openai:big").unwrap();
    let all = resolved(&dir.path().join("all"), "", "http://127.0.0.1:9/v1");
    let agent = agent_for(&all, &model);
    let mut offered = agent.tools.names();
    assert_eq!(
        names(&all.agent_tool_specs(&model, Arc::new(Deny)).unwrap()),
        offered,
        "context lists exactly the agent's tools, spawn_agent included"
    );
    offered.sort();
    let mut built_in: Vec<String> = BUILT_IN_TOOLS.iter().map(|t| t.to_string()).collect();
    built_in.sort();
    assert_eq!(
        offered, built_in,
        "BUILT_IN_TOOLS names every built-in tool"
    );

    let listed = resolved(
        &dir.path().join("listed"),
        "[models.\"openai:big\"]\ntools = [\"exec\", \"read_file\", \"spawn_agent\"]\n",
        "http://127.0.0.1:9/v1",
    );
    let agent = agent_for(&listed, &model);
    // In registration order, whatever the list's.
    assert_eq!(agent.tools.names(), ["read_file", "exec", "spawn_agent"]);
    assert_eq!(
        names(&listed.agent_tool_specs(&model, Arc::new(Deny)).unwrap()),
        agent.tools.names()
    );
    let without_spawn = resolved(
        &dir.path().join("nospawn"),
        "[models.\"openai:big\"]\ntools = [\"read_file\"]\n",
        "http://127.0.0.1:9/v1",
    );
    assert_eq!(
        agent_for(&without_spawn, &model).tools.names(),
        ["read_file"]
    );
    // Another model keeps all its tools.
    let other = ModelRef::parse("openai:other").unwrap();
    assert_eq!(
        agent_for(&listed, &other).tools.names().len(),
        BUILT_IN_TOOLS.len()
    );
}

#[test]
fn a_local_model_under_a_billion_parameters_gets_the_small_tool_set() {
    let models = std::env::var_os("HEARTH_MODELS")
        .filter(|dir| !dir.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/hearth/models")
        });
    if !models.join(hearth_local::BUNDLED_FILE).is_file() {
        eprintln!(
            "skipped: {}",
            hearth_testkit::model_absent("the bundled SmolLM2-135M is not in the model cache")
        );
        return;
    }
    let parameters = hearth_local::parameter_count("smollm2", Some(&models)).unwrap();
    assert!(
        (100_000_000..200_000_000).contains(&parameters),
        "SmolLM2-135M has {parameters} parameters"
    );
    let config = hearth_runtime::config::Config::parse("", Path::new("c.toml"), &|_| None).unwrap();
    let models_os = models.clone().into_os_string();
    let env =
        Environment::from_vars(move |name| (name == "HEARTH_MODELS").then(|| models_os.clone()));
    let local = ModelRef::parse("local:smollm2").unwrap();
    assert_eq!(
        hearth_runtime::model_tools::offered_tools(&config, &env, &local),
        Some(SMALL_MODEL_TOOLS.iter().map(|t| t.to_string()).collect())
    );
    let configured = hearth_runtime::config::Config::parse(
        "[models.\"local:smollm2\"]\ntools = [\"read_file\", \"memory_search\"]\n",
        Path::new("c.toml"),
        &|_| None,
    )
    .unwrap();
    assert_eq!(
        hearth_runtime::model_tools::offered_tools(&configured, &env, &local),
        Some(vec!["read_file".to_string(), "memory_search".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ollama_servers_window_is_the_compaction_window_unless_config_sets_one() {
    let server = ScriptedServer::start_as(Script::new(vec![]), Personality::Ollama)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = ModelRef::parse("openai:llama3.1:8b").unwrap();
    let plain = resolved(&dir.path().join("plain"), "", &server.openai_base_url());
    let before = agent_for(&plain, &model);
    assert_eq!(
        before.settings.profile.context_window,
        hearth_models::profile::DEFAULT_CONTEXT_WINDOW,
        "not probed yet: nothing known"
    );
    let info = plain.ollama_server(&model).await.expect("Ollama detected");
    let agent = agent_for(&plain, &model);
    assert_eq!(
        agent.settings.profile.context_window,
        u64::from(info.context_length)
    );
    assert_eq!(info.context_length, 4096, "Ollama's default window");

    let configured = resolved(
        &dir.path().join("configured"),
        "[models.\"openai:llama3.1:8b\"]\ncontext_window = 32768\n",
        &server.openai_base_url(),
    );
    configured
        .ollama_server(&model)
        .await
        .expect("Ollama detected");
    assert_eq!(
        agent_for(&configured, &model)
            .settings
            .profile
            .context_window,
        32_768
    );
}
