//! `spawn_agent {task, tools?, model?}`: a sub-agent. The child runs one turn in a
//! session of its own (linked to the parent's) with a fresh context: the parent's
//! system prompt and the task, nothing of the parent's history. It gets a subset of
//! the parent's tools (the same tool objects: the same sandbox, the same approvals,
//! never more), the parent turn's cancellation token, and the session budget of the
//! whole family. Its final answer, cut to a budget, is the tool result.
//!
//! Several `spawn_agent` calls of one step run concurrently (see `dispatch`), at most
//! `max_concurrent` at a time; a child spawns further children only while
//! `max_depth` allows (default 1: a child cannot spawn).

use std::path::PathBuf;
use std::sync::Arc;

use hearth_models::{ModelProfile, ModelRef, Provider};
use hearth_protocol::{ToolSpec, TurnEnd};
use hearth_secrets::Redactor;
use hearth_store::AsyncStore;
use hearth_tools::{truncate_middle, Tool, ToolContext, ToolError, ToolOutput, ToolRegistry};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::turn::{Agent, AgentSettings};

/// The tool's name (the dispatcher runs consecutive calls of it concurrently).
pub const SPAWN_AGENT: &str = "spawn_agent";

/// `[subagents]` in config.toml.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubAgentSettings {
    /// Children of one parent running at once; more wait their turn.
    pub max_concurrent: usize,
    /// How deep sub-agents nest: 1 lets the main agent spawn and no child; 0 offers
    /// no `spawn_agent` at all.
    pub max_depth: u32,
    /// The most characters of a child's answer returned to the parent.
    pub answer_chars: usize,
}

impl Default for SubAgentSettings {
    fn default() -> Self {
        SubAgentSettings {
            max_concurrent: 4,
            max_depth: 1,
            answer_chars: 8_000,
        }
    }
}

/// Gives a child another model's provider and profile (`model` in the call), or says
/// why it cannot.
pub type ModelSource =
    Arc<dyn Fn(&ModelRef) -> Result<(Arc<dyn Provider>, ModelProfile), String> + Send + Sync>;

/// What children are made from: the parent agent's parts.
#[derive(Clone)]
pub struct ChildTemplate {
    pub provider: Arc<dyn Provider>,
    pub model: ModelRef,
    /// The parent's tools, without `spawn_agent`: the most a child can get.
    pub tools: ToolRegistry,
    pub store: AsyncStore,
    pub system_prompt: String,
    pub settings: AgentSettings,
    pub redactor: Redactor,
    /// Other models a child may ask for; `None` allows only the parent's.
    pub models: Option<ModelSource>,
    /// The workspace recorded with the child's session.
    pub workspace: PathBuf,
    pub subagents: SubAgentSettings,
}

/// The `spawn_agent` tool of one session.
pub struct SpawnAgent {
    parent_session: String,
    template: Arc<ChildTemplate>,
    /// Levels of children still allowed below this session (at least 1).
    depth_left: u32,
    running: Arc<Semaphore>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpawnArgs {
    task: String,
    tools: Option<Vec<String>>,
    model: Option<String>,
}

impl SpawnAgent {
    /// The spec the model is offered (the same for every instance: `hearth context`
    /// lists it without building one).
    pub fn offered_spec() -> ToolSpec {
        ToolSpec {
            name: SPAWN_AGENT.into(),
            description: "Hand a self-contained task to a sub-agent and get its final answer. \
                The sub-agent starts fresh: it sees only the task (write everything it needs \
                into it), not this conversation. Several calls in one answer run at the same \
                time. tools: a subset of your tools (default: all of them); model: \
                provider:model (default: yours)."
                .into(),
            parameters: json!({"type": "object", "properties": {
                "task": {"type": "string", "description": "the complete task, with the context it needs"},
                "tools": {"type": "array", "items": {"type": "string"}, "description": "tool names (default: all yours)"},
                "model": {"type": "string", "description": "provider:model (default: yours)"}
            }, "required": ["task"]}),
        }
    }

    /// The tool for `parent_session`, or `None` when `max_depth` is 0.
    pub fn new(parent_session: &str, template: ChildTemplate) -> Option<SpawnAgent> {
        let depth_left = template.subagents.max_depth;
        (depth_left > 0).then(|| SpawnAgent {
            parent_session: parent_session.to_string(),
            running: Arc::new(Semaphore::new(template.subagents.max_concurrent.max(1))),
            template: Arc::new(template),
            depth_left,
        })
    }

    /// The names of the child's tools: those asked for (all the parent's when none
    /// are named), each of which the parent must have; `spawn_agent` only while depth
    /// allows.
    fn child_tool_names(&self, asked: Option<&[String]>) -> Result<Vec<String>, ToolError> {
        let parent = &self.template.tools;
        let may_spawn = self.depth_left > 1;
        let Some(asked) = asked else {
            let mut all = parent.names();
            if may_spawn {
                all.push(SPAWN_AGENT.to_string());
            }
            return Ok(all);
        };
        for name in asked {
            let allowed = if name == SPAWN_AGENT {
                may_spawn
            } else {
                parent.get(name).is_some()
            };
            if !allowed {
                return Err(ToolError::Refused(format!(
                    "a sub-agent can only have tools this agent has, and \
                     '{name}' is not one of them{}; available: {}",
                    if name == SPAWN_AGENT {
                        " (sub-agents cannot spawn further: [subagents] max_depth)"
                    } else {
                        ""
                    },
                    parent.names().join(", ")
                )));
            }
        }
        Ok(asked.to_vec())
    }

    /// The child's tools by `names` (checked by [`Self::child_tool_names`]): the
    /// parent's own tool objects, and a `spawn_agent` one level down for the child.
    fn child_tools(&self, names: &[String], child_session: &str) -> ToolRegistry {
        let mut tools = ToolRegistry::new();
        for name in names {
            if name == SPAWN_AGENT {
                tools.register(Arc::new(SpawnAgent {
                    parent_session: child_session.to_string(),
                    template: Arc::clone(&self.template),
                    depth_left: self.depth_left - 1,
                    running: Arc::new(Semaphore::new(
                        self.template.subagents.max_concurrent.max(1),
                    )),
                }));
            } else if let Some(tool) = self.template.tools.get(name) {
                tools.register(tool);
            }
        }
        tools
    }

    /// The provider, model and profile a child runs on.
    fn child_model(
        &self,
        asked: Option<&str>,
    ) -> Result<(Arc<dyn Provider>, ModelRef, ModelProfile), ToolError> {
        let template = &self.template;
        let Some(asked) = asked.map(str::trim).filter(|id| !id.is_empty()) else {
            return Ok((
                Arc::clone(&template.provider),
                template.model.clone(),
                template.settings.profile,
            ));
        };
        let model = ModelRef::parse(asked).map_err(|err| ToolError::InvalidField {
            field: "model",
            message: err.to_string(),
        })?;
        if model == template.model {
            return Ok((
                Arc::clone(&template.provider),
                model,
                template.settings.profile,
            ));
        }
        let Some(models) = &template.models else {
            return Err(ToolError::Refused(format!(
                "only this agent's model ({}) is available to sub-agents",
                template.model
            )));
        };
        let (provider, profile) =
            models(&model).map_err(|why| ToolError::Failed(why.to_string()))?;
        Ok((provider, model, profile))
    }
}

#[async_trait::async_trait]
impl Tool for SpawnAgent {
    fn name(&self) -> &str {
        SPAWN_AGENT
    }

    fn spec(&self) -> ToolSpec {
        SpawnAgent::offered_spec()
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: SpawnArgs = hearth_tools::parse_args(SPAWN_AGENT, args)?;
        if args.task.trim().is_empty() {
            return Err(ToolError::InvalidField {
                field: "task",
                message: "the task is empty; describe the whole task".into(),
            });
        }
        let tool_names = self.child_tool_names(args.tools.as_deref())?;
        let (provider, model, profile) = self.child_model(args.model.as_deref())?;
        // Wait for a free place among the running children, or for the turn's cancel.
        let _permit = tokio::select! {
            permit = self.running.acquire() => permit.map_err(|_| ToolError::Failed("closed".into()))?,
            () = ctx.cancel.cancelled() => return Err(ToolError::CancelledBeforeStart("the sub-agent")),
        };
        let template = &self.template;
        let child = template
            .store
            .create_child_session(
                &model.to_string(),
                &template.workspace,
                &self.parent_session,
            )
            .await
            .map_err(|err| ToolError::Failed(err.to_string()))?;
        let agent = Agent {
            provider,
            model,
            tools: self.child_tools(&tool_names, &child.id),
            tool_context: ctx.clone(),
            store: template.store.clone(),
            system_prompt: template.system_prompt.clone(),
            settings: AgentSettings {
                profile,
                ..template.settings.clone()
            },
            redactor: template.redactor.clone(),
            memory: None,
        };
        // The parent turn's token: cancelling the parent cancels the child.
        let outcome = agent
            .run_turn(&child.id, &args.task, &mut |_| {}, &ctx.cancel)
            .await;
        let answer_chars = template.subagents.answer_chars;
        match outcome {
            // The child's answer is the result, even when its turn did not complete.
            Ok(outcome) => {
                let answer = truncate_middle(&outcome.text, answer_chars);
                let header = format!(
                    "[sub-agent session {} · {} · {} steps]",
                    child.id,
                    end_word(outcome.end),
                    outcome.steps
                );
                let content = format!("{header}\n{answer}");
                Ok(if outcome.end.succeeded() {
                    ToolOutput::ok(content)
                } else {
                    ToolOutput::error(content)
                })
            }
            Err(err) => Err(ToolError::Failed(format!(
                "the sub-agent (session {}) failed: {err}",
                child.id
            ))),
        }
    }
}

fn end_word(end: TurnEnd) -> &'static str {
    match end {
        TurnEnd::Completed => "completed",
        TurnEnd::Truncated => "answer cut at the output limit",
        TurnEnd::Cancelled => "cancelled",
        TurnEnd::MaxSteps => "stopped at the step limit",
        TurnEnd::LoopDetected => "stopped: repeated failing call",
        TurnEnd::ProviderStopped { .. } => "stopped by the provider",
    }
}
