//! Durable state in SQLite (WAL): sessions and their transcripts, written ahead of action.
//!
//! The agent loop stores each user message, assistant message (with its tool calls)
//! and tool result *before* acting on it; [`Store::append`] returns only once the row
//! is on disk. A process killed mid-turn therefore loses nothing it acknowledged, and
//! [`Store::repair`] answers the tool calls it never finished so the session resumes
//! with a valid history.
//!
//! Architecture invariant: this crate is synchronous and never prints or panics on
//! input; every failure is a [`StoreError`] that names the file or session and says
//! what to do. The schema grows by appending migrations (see `schema.rs`).

mod error;
mod repair;
mod schema;
mod store;
mod title;

pub use error::StoreError;
pub use repair::INTERRUPTED_TOOL_RESULT;
pub use store::{ApprovalRecord, SessionInfo, Store, MIN_SESSION_PREFIX};
