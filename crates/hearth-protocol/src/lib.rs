//! The vocabulary every Hearth crate speaks: conversation messages, tool calls and
//! results, model requests and stream events, token usage, and the agent's events.
//!
//! Architecture invariant: this crate is data only (and the model cache rule, a pure
//! function of the variables its caller passes). It does no IO, spawns nothing and
//! depends on nothing but serde, so every other crate (and every client of the JSON
//! event stream) can share it.

mod event;
mod message;
mod model;
mod model_cache;

pub use event::{AgentEvent, StopReason, TurnEnd, TurnFailure};
pub use message::{Message, ProviderState, ToolCall, ToolResult};
pub use model::{ModelRequest, ModelResponse, StreamEvent, ToolSpec, Usage};
pub use model_cache::{model_cache_dir, MODELS_ENV};
