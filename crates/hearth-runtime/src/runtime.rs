//! Turns the environment, `config.toml` and a front end's [`Overrides`] into a ready
//! [`Agent`]: the one place where the crates are plugged together.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hearth_agent::{
    Agent, AgentSettings, CallGuard, ChildTemplate, CompactionModel, CompactionSettings,
    ContextBuilder, ExecExposure, InjectionGuard, InjectionPolicy, ModelSource, SpawnAgent,
};
use hearth_memory::tools::{MemoryGet, MemorySearch, MemoryWrite};
use hearth_memory::Memory;
use hearth_models::ModelRef;
use hearth_sandbox::SandboxPolicy;
use hearth_secrets::{secret_reference, Redactor, SecretStore};
use hearth_store::{AsyncStore, Store};
use hearth_tools::{
    default_http_client, ApprovalPolicy, Approver, ContextError, ExecGate, ExecTool, FileAccess,
    ToolContext, ToolRegistry,
};
use tokio_util::sync::CancellationToken;

use crate::approvals::RecordingApprover;
use crate::config::{validate_model_id, Config};
use crate::home::Home;
use crate::memory::LoopMemory;
use crate::{Environment, Overrides, RuntimeError, Warning};

/// Everything resolved from the environment, config and overrides, before any network
/// use.
pub struct Resolved {
    pub env: Environment,
    pub home: Home,
    pub config: Config,
    pub workspace: PathBuf,
    pub sandbox: SandboxPolicy,
    pub approval: ApprovalPolicy,
    pub settings: AgentSettings,
    /// The skills found for this workspace (and the problems met finding them).
    pub skills: hearth_skills::Catalog,
    /// The configured MCP servers; none runs until [`Resolved::start_mcp_servers`].
    pub mcp: Arc<hearth_mcp::McpToolset>,
    /// The MCP servers' tools, once started.
    pub mcp_tools: Vec<Arc<dyn hearth_tools::Tool>>,
    /// What resolving met that a person should hear of (MCP servers left out); the
    /// front end shows these.
    pub warnings: Vec<Warning>,
    /// Long-term memory, opened (with the embedder) the first time it is needed.
    memory: std::sync::OnceLock<Arc<Memory>>,
    /// Providers, the redactor and the tools' HTTP client, shared by every agent.
    shared: crate::shared_parts::SharedParts,
}

/// Resolves `overrides` against `env` and the config file of its home.
pub fn resolve(overrides: &Overrides, env: Environment) -> Result<Resolved, RuntimeError> {
    let home = Home::locate_in(&env)?;
    let config = Config::load(&home.config_path(), &|name| env.config_var(name))?;
    let workspace = match &overrides.workspace {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(RuntimeError::WorkspaceNotDirectory { path: dir.clone() });
            }
            dir.clone()
        }
        None => {
            let dir = home.default_workspace();
            std::fs::create_dir_all(&dir).map_err(|source| RuntimeError::WorkspaceCreate {
                path: dir.clone(),
                source,
            })?;
            dir
        }
    };
    let workspace = workspace
        .canonicalize()
        .map_err(|source| RuntimeError::WorkspaceResolve {
            path: workspace.clone(),
            source,
        })?;
    let mode = overrides.sandbox.unwrap_or(config.sandbox_mode);
    let approval = overrides.approval.unwrap_or(config.approval);
    if workspace == home.root {
        return Err(RuntimeError::WorkspaceIsHome { path: home.root });
    }
    // Sandboxed commands cannot be limited per host (see `crate::egress`): with an
    // allow-list set, their network stays off.
    let network = crate::egress::sandbox_network(config.network, &config.security.allow);
    let sandbox = sandbox_policy(mode, &workspace, network, &home);
    let settings = AgentSettings {
        max_steps: overrides.max_steps.unwrap_or(config.max_steps).max(1),
        max_output_tokens: config.max_output_tokens,
        stream: overrides.stream,
        budget: config.budget,
        ..AgentSettings::default()
    };
    let skills = crate::skills::catalog(&workspace, env.user_home.as_deref(), &home);
    let (servers, warnings) = mcp_servers(&config, &home);
    let mcp = Arc::new(hearth_mcp::McpToolset::new(servers));
    Ok(Resolved {
        env,
        home,
        config,
        workspace,
        sandbox,
        approval,
        settings,
        skills,
        mcp,
        mcp_tools: Vec::new(),
        warnings,
        memory: std::sync::OnceLock::new(),
        shared: Default::default(),
    })
}

/// The sandbox policy of an agent in `workspace`: all of HEARTH_HOME hidden, also what
/// is created in it later (databases and their WAL files); the workspace inside it
/// stays visible, and skills stay readable so their scripts can run.
pub(crate) fn sandbox_policy(
    mode: hearth_sandbox::SandboxMode,
    workspace: &Path,
    network: bool,
    home: &Home,
) -> SandboxPolicy {
    SandboxPolicy {
        mode,
        workspace: workspace.to_path_buf(),
        network,
        hidden_paths: vec![home.root.clone()],
        readable_paths: vec![home.skills_dir()],
        read_only_paths: Vec::new(),
        limits: Default::default(),
    }
}

/// The configured MCP servers with `secret:NAME` values in their `env` resolved. A
/// server whose secret is missing is left out, with a warning saying which; the rest
/// of Hearth works on.
fn mcp_servers(config: &Config, home: &Home) -> (Vec<hearth_mcp::ServerSettings>, Vec<Warning>) {
    let secrets = SecretStore::new(&home.secrets_file());
    let mut servers = Vec::new();
    let mut warnings = Vec::new();
    for server in &config.mcp_servers {
        let mut server = server.clone();
        if let hearth_mcp::Transport::Stdio { env, .. } = &mut server.transport {
            let mut missing = None;
            for (name, value) in env.iter_mut() {
                let Some(secret) = secret_reference(value).map(str::to_string) else {
                    continue;
                };
                match secrets.get(&secret) {
                    Ok(resolved) => *value = resolved,
                    Err(error) => {
                        missing =
                            Some(format!("[mcp.servers.{}.env] {name}: {error}", server.name));
                        break;
                    }
                }
            }
            if let Some(reason) = missing {
                warnings.push(Warning::McpServerLeftOut {
                    server: server.name.clone(),
                    reason,
                });
                continue;
            }
        }
        servers.push(server);
    }
    (servers, warnings)
}

impl Resolved {
    /// The model to use: `flag` (a front end's choice), else config/HEARTH_MODEL, else
    /// the bundled local model, else an error saying none is configured.
    pub fn model(&self, flag: Option<&str>) -> Result<ModelRef, RuntimeError> {
        let id = flag
            .map(str::to_string)
            .or_else(|| self.config.model.clone())
            .or_else(|| crate::providers::default_model(&self.env));
        let Some(id) = id else {
            return Err(RuntimeError::NoModel {
                local: hearth_local::default_model_missing_hint(self.env.model_cache.as_deref()),
            });
        };
        validate_model_id(&id).map_err(RuntimeError::InvalidModel)
    }

    /// Which skills were left out or shadowed and why, so that none goes missing
    /// without a word (the model is offered only the valid ones).
    pub fn skill_warnings(&self) -> Vec<Warning> {
        self.skills
            .problems
            .iter()
            .map(|problem| Warning::Skill(problem.to_string()))
            .collect()
    }

    pub fn open_store(&self) -> Result<Arc<Store>, RuntimeError> {
        let store = Store::open(&self.home.state_db())?;
        Ok(Arc::new(store))
    }

    /// The tool set of the default profile: the workspace tools plus `exec` behind the gate.
    pub fn tools(&self, approver: Arc<dyn Approver>) -> Result<ToolRegistry, RuntimeError> {
        let mut tools = ToolRegistry::with_builtins();
        let addresses = if self.config.web_allow_private_addresses {
            hearth_tools::AddressPolicy::allow_private()
        } else {
            hearth_tools::AddressPolicy::default()
        };
        tools.register(Arc::new(
            hearth_tools::WebFetch::new(addresses)
                .with_allow_list(self.config.security.allow.clone()),
        ));
        let gate = ExecGate::new(self.sandbox.clone(), self.approval, approver.clone())
            .with_env(self.command_env()?)
            .with_mechanism(self.env.sandbox.clone());
        tools.register(Arc::new(ExecTool::new(gate)));
        if let Some(read_file) = tools.get("read_file") {
            let dirs = self.skills.dirs();
            tools.register(Arc::new(hearth_skills::SkillAwareReadFile::new(
                read_file, dirs,
            )));
        }
        let memory = self.memory()?;
        tools.register(Arc::new(MemorySearch {
            memory: memory.clone(),
        }));
        tools.register(Arc::new(MemoryGet {
            memory: memory.clone(),
        }));
        tools.register(Arc::new(MemoryWrite { memory }));
        for tool in &self.mcp_tools {
            tools.register(tool.clone());
        }
        crate::schedule_tools::ScheduleAccess::new(self.home.state_db(), approver, self.approval)
            .register(&mut tools);
        Ok(tools)
    }

    /// The specs of exactly the tools [`Resolved::agent`] offers `model`, in order: its
    /// tool list (see [`crate::model_tools`]) and `spawn_agent` where allowed. For
    /// `hearth context`, which builds no agent.
    pub fn agent_tool_specs(
        &self,
        model: &ModelRef,
        approver: Arc<dyn Approver>,
    ) -> Result<Vec<hearth_protocol::ToolSpec>, RuntimeError> {
        let offered = crate::model_tools::offered_tools(&self.config, &self.env, model);
        let tools = crate::model_tools::restrict(self.tools(approver)?, offered.as_deref());
        let mut specs = tools.specs();
        let spawns = self.config.subagents.max_depth > 0
            && crate::model_tools::includes(offered.as_deref(), hearth_agent::SPAWN_AGENT);
        if spawns {
            specs.push(SpawnAgent::offered_spec());
        }
        Ok(specs)
    }

    /// `$HEARTH_HOME/memory.db` with the local embedder, loaded when first needed
    /// (keywords only without it), and
    /// the workspace's `memory/*.md` notes re-indexed when they changed (found only
    /// from this workspace).
    pub fn memory(&self) -> Result<Arc<Memory>, RuntimeError> {
        if let Some(memory) = self.memory.get() {
            return Ok(memory.clone());
        }
        // The embedder loads only when memory has something to recall or vectors are
        // asked for: a brand-new home never pays for it.
        let settings = self.env.embedder.clone();
        let memory = Arc::new(Memory::open_lazy(
            &self.home.memory_db(),
            Box::new(move || crate::memory::load_embedder(&settings)),
        )?);
        let notes = self.workspace.join(hearth_memory::MEMORY_DIR);
        if notes.is_dir() {
            if let Err(err) = memory.index_workspace_memory(&self.workspace) {
                tracing::warn!("could not index {}: {err}", notes.display());
            }
        }
        Ok(self.memory.get_or_init(|| memory).clone())
    }

    /// Starts the configured MCP servers and keeps their tools for every agent built
    /// afterwards. Only front ends that run turns call this; a server that fails to
    /// start is left out, and said in the warnings returned.
    pub async fn start_mcp_servers(&mut self) -> Vec<Warning> {
        let (tools, errors) = self.mcp.tools().await;
        self.mcp_tools = tools;
        errors
            .into_iter()
            .map(|err| Warning::McpStart(err.to_string()))
            .collect()
    }

    /// `text` with the SKILL.md body of each skill it names as `$skill-name` appended.
    pub fn expand_skill_mentions(&self, text: &str) -> String {
        hearth_skills::inject_mentions(text, &self.skills)
    }

    pub fn secrets(&self) -> SecretStore {
        SecretStore::new(&self.home.secrets_file())
    }

    /// `[sandbox.env]` with `secret:NAME` references replaced by their values.
    pub fn command_env(&self) -> Result<Vec<(String, String)>, RuntimeError> {
        let secrets = self.secrets();
        self.config
            .sandbox_env
            .iter()
            .map(|(name, value)| match secret_reference(value) {
                Some(secret) => secrets
                    .get(secret)
                    .map(|v| (name.clone(), v))
                    .map_err(|source| RuntimeError::Secret {
                        what: format!("[sandbox.env] {name}"),
                        source,
                    }),
                None => Ok((name.clone(), value.clone())),
            })
            .collect()
    }

    /// Knows every stored secret, so none can reach the model through a tool's output.
    pub fn redactor(&self) -> Result<Redactor, RuntimeError> {
        let secrets = self
            .secrets()
            .load()
            .map_err(|source| RuntimeError::Secret {
                what: format!("the secret store {}", self.home.secrets_file().display()),
                source,
            })?;
        Ok(self.shared.redactor(secrets))
    }

    /// The provider for `model`: an HTTP provider is built once per settings (API key
    /// included) and shared by the agents that use them, with its connections.
    fn provider(&self, model: &ModelRef) -> Result<Arc<dyn hearth_models::Provider>, RuntimeError> {
        let Some(settings) =
            crate::providers::http_settings(&self.config, &self.env, model, &self.secrets())?
        else {
            return crate::providers::build(&self.config, &self.env, model, &self.secrets());
        };
        self.shared.provider(model, settings, |settings| {
            Ok(hearth_models::build_provider(settings)?)
        })
    }

    pub fn context_builder(&self) -> ContextBuilder {
        let network = if self.sandbox.network {
            "network on"
        } else {
            "network off"
        };
        let skills = crate::skills::index(&self.skills, &self.workspace);
        ContextBuilder::new(
            &self.workspace,
            &format!("{}, {network}", self.sandbox.mode),
        )
        .with_section(
            &crate::skills::part_name(&skills),
            &skills.text,
            skills.cut_chars,
        )
    }

    /// What the file tools may touch: derived from the sandbox policy, so they never
    /// reach what a command could not.
    pub fn file_access(&self) -> FileAccess {
        FileAccess::from_policy(&self.sandbox)
    }

    /// The tools' context with `cancel`; its HTTP client (and connections) is shared
    /// by every agent of this runtime.
    pub fn tool_context(&self, cancel: CancellationToken) -> Result<ToolContext, RuntimeError> {
        let shared = self.shared.tool_context(|| {
            let http = default_http_client().map_err(ContextError::Http)?;
            Ok::<_, RuntimeError>(ToolContext {
                workspace: self.workspace.clone(),
                cancel: CancellationToken::new(),
                http,
                files: self.file_access(),
                tainted: None,
            })
        })?;
        Ok(ToolContext { cancel, ..shared })
    }

    /// The Ollama server behind `model`, if it runs on one (probed once a day per
    /// server and model, remembered in `$HEARTH_HOME/cache`). Call it before
    /// [`Resolved::agent`]: the agent's provider then sends the model's own sampling
    /// settings, which Ollama's `/v1` would otherwise replace with 1.0.
    pub async fn ollama_server(
        &self,
        model: &ModelRef,
    ) -> Option<hearth_models::ollama::OllamaInfo> {
        crate::providers::ollama_server(&self.config, &self.env, model).await
    }

    /// A full agent for `model` in `session_id`, for any number of turns: each turn's
    /// cancellation token reaches its tools (`Agent::run_turn`). Every approval
    /// decision is recorded in the session.
    pub fn agent(
        &self,
        model: ModelRef,
        store: Arc<Store>,
        session_id: &str,
        approver: Arc<dyn Approver>,
    ) -> Result<Agent, RuntimeError> {
        self.agent_on(model, AsyncStore::spawn(store)?, session_id, approver)
    }

    /// [`Resolved::agent`] on a store thread the caller already runs, so a front end
    /// with many sessions (the gateway) keeps one store thread for all of them.
    pub fn agent_on(
        &self,
        model: ModelRef,
        store: AsyncStore,
        session_id: &str,
        approver: Arc<dyn Approver>,
    ) -> Result<Agent, RuntimeError> {
        let provider = self.provider(&model)?;
        let approver = Arc::new(RecordingApprover::new(
            approver,
            store.store().clone(),
            session_id,
        ));
        let profile = crate::profiles::model_profile(&self.config, &self.env, &model);
        let compaction = self.compaction_settings(&model)?;
        let offered = crate::model_tools::offered_tools(&self.config, &self.env, &model);
        let mut tools =
            crate::model_tools::restrict(self.tools(approver.clone())?, offered.as_deref());
        let settings = AgentSettings {
            profile,
            compaction,
            injection: self.injection_guard(approver),
            now_line: Some(crate::now_line::system_now_line()),
            ..self.settings.clone()
        };
        let system_prompt = self.context_builder().build().text;
        let redactor = self.redactor()?;
        // `spawn_agent`: children get this agent's parts (its tools at most).
        let template = ChildTemplate {
            provider: provider.clone(),
            model: model.clone(),
            tools: tools.clone(),
            store: store.clone(),
            system_prompt: system_prompt.clone(),
            settings: settings.clone(),
            redactor: redactor.clone(),
            models: Some(self.model_source()),
            workspace: self.workspace.clone(),
            subagents: self.config.subagents,
        };
        if crate::model_tools::includes(offered.as_deref(), hearth_agent::SPAWN_AGENT) {
            if let Some(spawn) = SpawnAgent::new(session_id, template) {
                tools.register(Arc::new(spawn));
            }
        }
        Ok(Agent {
            provider,
            model,
            redactor,
            memory: Some(Arc::new(LoopMemory::new(
                self.memory()?,
                self.workspace.clone(),
            ))),
            tools,
            // The loop gives the tools each turn's own token instead of this one.
            tool_context: self.tool_context(CancellationToken::new())?,
            store,
            system_prompt,
            settings,
        })
    }

    /// Providers and profiles of the other models a sub-agent may ask for.
    fn model_source(&self) -> ModelSource {
        let (config, env, secrets) = (self.config.clone(), self.env.clone(), self.secrets());
        Arc::new(move |model: &ModelRef| {
            let provider = crate::providers::build(&config, &env, model, &secrets)
                .map_err(|err| err.to_string())?;
            Ok((
                provider,
                crate::profiles::model_profile(&config, &env, model),
            ))
        })
    }

    /// `[security] injection` for this agent's sandbox and allow-list, asking
    /// `approver` in `ask` mode.
    pub fn injection_guard(&self, approver: Arc<dyn Approver>) -> InjectionGuard {
        let mut guards = InjectionPolicy::default_guards();
        for tool in &self.config.security.guarded_tools {
            guards.insert(
                tool.clone(),
                CallGuard::Always {
                    what: "is listed in [security] guarded_tools".to_string(),
                },
            );
        }
        InjectionGuard {
            policy: InjectionPolicy {
                mode: self.config.security.injection,
                allow: self.config.security.allow.clone(),
                exec: ExecExposure {
                    network: self.sandbox.network,
                    unsandboxed: self.sandbox.mode == hearth_sandbox::SandboxMode::FullAccess,
                },
                guards,
                trusted: self.config.security.trusted_tools.clone(),
                destinations: self.config.security.destinations.clone(),
            },
            approver: Some(approver),
        }
    }

    /// `[context]` for an agent on `model`: a `compaction_model` other than `model`
    /// gets its own provider.
    fn compaction_settings(&self, model: &ModelRef) -> Result<CompactionSettings, RuntimeError> {
        let context = &self.config.context;
        let summariser = match context
            .compaction_model
            .as_deref()
            .map(crate::config::validate_model_id)
        {
            Some(Ok(other)) if &other != model => Some(CompactionModel {
                provider: self.provider(&other)?,
                model: other,
            }),
            _ => None,
        };
        Ok(CompactionSettings {
            compact_at: context.compact_at,
            keep_recent_turns: context.keep_recent_turns,
            model: summariser,
            ..CompactionSettings::default()
        })
    }
}
