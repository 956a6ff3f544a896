//! Turns command-line options, the environment and `config.toml` into a ready [`Agent`]:
//! the one place where the crates are plugged together.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use hearth_agent::{Agent, AgentSettings, ContextBuilder};
use hearth_memory::tools::{MemoryGet, MemorySearch, MemoryWrite};
use hearth_memory::Memory;
use hearth_models::ModelRef;
use hearth_sandbox::{SandboxMode, SandboxPolicy};
use hearth_secrets::{secret_reference, Redactor, SecretStore};
use hearth_store::Store;
use hearth_tools::{
    default_http_client, ApprovalPolicy, Approver, ExecGate, ExecTool, FileAccess, ToolContext,
    ToolRegistry,
};
use tokio_util::sync::CancellationToken;

use crate::approvals::RecordingApprover;
use crate::cli::AgentArgs;
use crate::config::{validate_model_id, Config};
use crate::home::Home;
use crate::memory::LoopMemory;
use crate::terminal_text::{escape_for_terminal, Layout};

/// Everything resolved from flags, environment and config, before any network use.
pub struct Resolved {
    pub home: Home,
    pub config: Config,
    pub workspace: PathBuf,
    pub sandbox: SandboxPolicy,
    pub approval: ApprovalPolicy,
    pub settings: AgentSettings,
    /// The skills found for this workspace (and the problems met finding them).
    pub skills: hearth_skills::Catalog,
    /// The configured MCP servers; none runs until [`Resolved::start_mcp`].
    pub mcp: Arc<hearth_mcp::McpToolset>,
    /// The MCP servers' tools, once started.
    pub mcp_tools: Vec<Arc<dyn hearth_tools::Tool>>,
    /// Long-term memory, opened (with the embedder) the first time it is needed.
    memory: std::sync::OnceLock<Arc<Memory>>,
}

pub fn resolve(args: &AgentArgs) -> Result<Resolved> {
    let home = Home::locate()?;
    let config = Config::load(&home.config_path(), &|name| std::env::var(name).ok())?;
    let workspace = match &args.workspace {
        Some(dir) => {
            if !dir.is_dir() {
                bail!(
                    "workspace {} is not a directory (-C expects an existing folder)",
                    dir.display()
                );
            }
            dir.clone()
        }
        None => {
            let dir = home.default_workspace();
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the workspace {}", dir.display()))?;
            dir
        }
    };
    let workspace = workspace
        .canonicalize()
        .with_context(|| format!("cannot resolve the workspace {}", workspace.display()))?;
    let mode = match &args.sandbox {
        Some(mode) => mode.parse::<SandboxMode>().map_err(anyhow::Error::msg)?,
        None => config.sandbox_mode,
    };
    let approval = match &args.approval {
        Some(policy) => policy
            .parse::<ApprovalPolicy>()
            .map_err(anyhow::Error::msg)?,
        None => config.approval,
    };
    if workspace == home.root {
        bail!(
            "the workspace cannot be HEARTH_HOME itself ({}): it holds config, secrets and \
             state that tools must not touch; choose another folder with -C",
            home.root.display()
        );
    }
    let sandbox = SandboxPolicy {
        mode,
        workspace: workspace.clone(),
        network: config.network,
        // All of HEARTH_HOME, also what is created in it later (databases and their
        // WAL files); the workspace inside it stays visible, and skills stay readable so
        // their scripts can run.
        hidden_paths: vec![home.root.clone()],
        readable_paths: vec![home.skills_dir()],
        limits: Default::default(),
    };
    let settings = AgentSettings {
        max_steps: args.max_steps.unwrap_or(config.max_steps).max(1),
        max_output_tokens: config.max_output_tokens,
        stream: !args.no_stream,
    };
    let skills = crate::commands::skills::catalog(&workspace, &home);
    let mcp = Arc::new(hearth_mcp::McpToolset::new(mcp_servers(&config, &home)));
    Ok(Resolved {
        home,
        config,
        workspace,
        sandbox,
        approval,
        settings,
        skills,
        mcp,
        mcp_tools: Vec::new(),
        memory: std::sync::OnceLock::new(),
    })
}

/// The configured MCP servers with `secret:NAME` values in their `env` resolved. A
/// server whose secret is missing is left out, with a line saying which and how to fix
/// it; the rest of Hearth works on.
fn mcp_servers(config: &Config, home: &Home) -> Vec<hearth_mcp::ServerSettings> {
    let secrets = SecretStore::new(&home.secrets_file());
    let mut servers = Vec::new();
    for server in &config.mcp_servers {
        let mut server = server.clone();
        if let hearth_mcp::Transport::Stdio { env, .. } = &mut server.transport {
            let resolved: Result<Vec<()>> = env
                .iter_mut()
                .filter_map(|(name, value)| {
                    let secret = secret_reference(value)?.to_string();
                    Some((name, value, secret))
                })
                .map(|(name, value, secret)| {
                    *value = secrets
                        .get(&secret)
                        .with_context(|| format!("[mcp.servers.{}.env] {name}", server.name))?;
                    Ok(())
                })
                .collect();
            if let Err(error) = resolved {
                eprintln!(
                    "hearth: MCP server '{}' is left out: {error:#}",
                    server.name
                );
                continue;
            }
        }
        servers.push(server);
    }
    servers
}

impl Resolved {
    /// The model to use: `--model`, else config/HEARTH_MODEL, else a clear error.
    pub fn model(&self, flag: Option<&str>) -> Result<ModelRef> {
        let id = flag
            .map(str::to_string)
            .or_else(|| self.config.model.clone())
            .or_else(crate::providers::default_model);
        let Some(id) = id else {
            bail!(
                "no model configured, and {}; or pass --model provider:model, set HEARTH_MODEL, \
                 or put model = \"openai:gpt-4o-mini\" in {} (openai: works with OpenAI, Ollama, \
                 llama.cpp, vLLM via OPENAI_BASE_URL; anthropic: needs ANTHROPIC_API_KEY)",
                hearth_local::default_model_missing_hint(),
                self.home.config_path().display()
            );
        };
        validate_model_id(&id).map_err(anyhow::Error::msg)
    }

    /// Says on stderr which skills were left out or shadowed and why, so that none
    /// goes missing without a word (the model is offered only the valid ones).
    pub fn report_skill_problems(&self) {
        for problem in &self.skills.problems {
            let problem = escape_for_terminal(&problem.to_string(), Layout::Lines);
            eprintln!("hearth: skills: {problem}");
        }
    }

    pub fn open_store(&self) -> Result<Arc<Store>> {
        let store = Store::open(&self.home.state_db())?;
        Ok(Arc::new(store))
    }

    /// The tool set of the default profile: the workspace tools plus `exec` behind the gate.
    pub fn tools(&self, approver: Arc<dyn Approver>) -> Result<ToolRegistry> {
        let mut tools = ToolRegistry::with_builtins();
        if self.config.web_allow_private_addresses {
            tools.register(Arc::new(hearth_tools::WebFetch::new(
                hearth_tools::AddressPolicy::allow_private(),
            )));
        }
        let gate = ExecGate::new(self.sandbox.clone(), self.approval, approver)
            .with_env(self.command_env()?);
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
        Ok(tools)
    }

    /// `$HEARTH_HOME/memory.db` with the local embedder (keywords only without it), and
    /// the workspace's `memory/*.md` notes re-indexed when they changed (found only
    /// from this workspace).
    pub fn memory(&self) -> Result<Arc<Memory>> {
        if let Some(memory) = self.memory.get() {
            return Ok(memory.clone());
        }
        let memory = Arc::new(Memory::open(
            &self.home.memory_db(),
            crate::memory::load_embedder(),
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
    /// afterwards. Only commands that run turns call this; a server that fails to start
    /// is reported on stderr and left out.
    pub async fn start_mcp(&mut self) {
        let (tools, errors) = self.mcp.tools().await;
        for err in errors {
            eprintln!(
                "hearth: {}",
                escape_for_terminal(&err.to_string(), Layout::Lines)
            );
        }
        self.mcp_tools = tools;
    }

    /// `text` with the SKILL.md body of each skill it names as `$skill-name` appended.
    pub fn expand_skill_mentions(&self, text: &str) -> String {
        hearth_skills::inject_mentions(text, &self.skills)
    }

    pub fn secrets(&self) -> SecretStore {
        SecretStore::new(&self.home.secrets_file())
    }

    /// `[sandbox.env]` with `secret:NAME` references replaced by their values.
    pub fn command_env(&self) -> Result<Vec<(String, String)>> {
        let secrets = self.secrets();
        self.config
            .sandbox_env
            .iter()
            .map(|(name, value)| match secret_reference(value) {
                Some(secret) => secrets
                    .get(secret)
                    .map(|v| (name.clone(), v))
                    .with_context(|| format!("[sandbox.env] {name} in config.toml")),
                None => Ok((name.clone(), value.clone())),
            })
            .collect()
    }

    /// Knows every stored secret, so none can reach the model through a tool's output.
    pub fn redactor(&self) -> Result<Redactor> {
        Ok(Redactor::new(self.secrets().load()?))
    }

    pub fn context_builder(&self) -> ContextBuilder {
        let network = if self.sandbox.network {
            "network on"
        } else {
            "network off"
        };
        let skills = crate::commands::skills::index(&self.skills, &self.workspace);
        ContextBuilder::new(
            &self.workspace,
            &format!("{}, {network}", self.sandbox.mode),
        )
        .with_section(
            &crate::commands::skills::part_name(&skills),
            &skills.text,
            skills.cut_chars,
        )
    }

    /// What the file tools may touch: nothing in read-only mode, and never HEARTH_HOME
    /// when the workspace contains it (`-C ~`), just as the sandbox hides it.
    fn file_access(&self) -> FileAccess {
        let private = if self.home.root.starts_with(&self.workspace) {
            vec![self.home.root.clone()]
        } else {
            Vec::new()
        };
        FileAccess {
            read_only: self.sandbox.mode == SandboxMode::ReadOnly,
            private,
        }
    }

    pub fn tool_context(&self, cancel: CancellationToken) -> Result<ToolContext> {
        let http = default_http_client().context("cannot build the HTTP client")?;
        Ok(ToolContext {
            workspace: self.workspace.clone(),
            cancel,
            http,
            files: self.file_access(),
        })
    }

    /// A full agent for `model` in `session_id`, sharing `cancel` with its tools. Every
    /// approval decision is recorded in the session.
    pub fn agent(
        &self,
        model: ModelRef,
        store: Arc<Store>,
        session_id: &str,
        approver: Arc<dyn Approver>,
        cancel: CancellationToken,
    ) -> Result<Agent> {
        let provider = crate::providers::build(&self.config, &model, &self.secrets())?;
        let approver = Arc::new(RecordingApprover::new(approver, store.clone(), session_id));
        Ok(Agent {
            provider,
            model,
            redactor: self.redactor()?,
            memory: Some(Arc::new(LoopMemory::new(
                self.memory()?,
                self.workspace.clone(),
            ))),
            tools: self.tools(approver)?,
            tool_context: self.tool_context(cancel)?,
            store,
            system_prompt: self.context_builder().build().text,
            settings: self.settings.clone(),
        })
    }
}
