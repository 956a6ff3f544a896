//! The agent loop: builds the context, asks the model, dispatches tool calls, writes
//! everything ahead to the store, and stops on an answer, a limit, a cancel or an error.
//!
//! Architecture invariants:
//! - Write-ahead: every user message, assistant message and tool result is in the store
//!   before the loop acts on it, so a crash leaves a history that `Store::repair` closes.
//! - Every tool call gets exactly one result, in call order, also on error and cancel.
//! - The system prompt is a pure function of config and workspace files: byte-identical
//!   across the turns of a session unless those change.
//! - No terminal IO: progress leaves as [`hearth_protocol::AgentEvent`]s.

mod budget;
mod call_screen;
mod compaction;
mod context;
mod destinations;
mod dispatch;
mod history;
mod injection_policy;
mod loop_guard;
mod memory_hook;
mod now_line;
mod spawn;
mod taint;
mod tainted_step;
mod turn;

pub use budget::{Budget, BudgetExceeded};
pub use call_screen::InjectionGuard;
pub use compaction::{CompactionError, CompactionModel, CompactionSettings, COMPACT_PROMPT};
pub use context::{ContextBuilder, ContextPart, SystemPrompt, SYSTEM_TEMPLATE};
pub use destinations::DESTINATION_ARGUMENTS;
pub use history::{summary_message, SUMMARY_TEMPLATE};
pub use injection_policy::{
    instruction_path, CallGuard, ExecExposure, InjectionMode, InjectionPolicy, PolicyDecision,
    PolicyReason, ProposedCall, Rule,
};
pub use memory_hook::{with_recall, MemoryHook};
pub use now_line::{with_now, NowLine};
pub use spawn::{ChildTemplate, ModelSource, SpawnAgent, SubAgentSettings, SPAWN_AGENT};
pub use taint::{TaintSource, TurnTaint};
pub use turn::{Agent, AgentError, AgentSettings, TurnOutcome};
