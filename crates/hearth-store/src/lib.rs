//! Durable state in SQLite (WAL): sessions and their transcripts, written ahead of action.
//!
//! The agent loop stores each user message, assistant message (with its tool calls)
//! and tool result *before* acting on it; [`Store::append`] returns only once the row
//! is on disk. A process killed mid-turn therefore loses nothing it acknowledged, and
//! [`Store::repair`] answers the tool calls it never finished so the session resumes
//! with a valid history.
//!
//! [`Store`] is synchronous (for the CLI's commands); [`AsyncStore`] runs its calls on
//! one thread of its own for async callers, so the loop awaits each durable write
//! instead of blocking a runtime worker on an fsync.
//!
//! Architecture invariants: async code reaches the database only through
//! [`AsyncStore`] (no fsync on a runtime worker); this crate never prints or panics on
//! input; every failure is a [`StoreError`] that names the file or session and says
//! what to do. The schema grows by appending migrations (see `schema.rs`).

mod async_store;
mod channels;
mod checkpoints;
mod error;
mod family;
mod heartbeat;
mod jobs;
mod ledger;
mod repair;
mod schema;
mod store;
mod title;

pub use async_store::AsyncStore;
pub use channels::{
    AdmittedSender, ChannelStatus, InboxMessage, NewInboxMessage, OutboxReply, PairingOffer,
};
pub use checkpoints::{Checkpoint, NewCheckpoint, ResumeContext};
pub use error::StoreError;
pub use heartbeat::{HeartbeatTick, NewTick, TickOutcome};
pub use jobs::{
    CatchUp, DeliveryStatus, Job, JobOrigin, JobRun, NewJob, RunOutcome, RunResult, RunTrigger,
    ScheduleSpec,
};
pub use ledger::CallRecord;
pub use repair::INTERRUPTED_TOOL_RESULT;
pub use store::{ApprovalRecord, SessionInfo, Store, MIN_SESSION_PREFIX};
