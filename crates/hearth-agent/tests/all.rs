//! The loop's integration tests, one test binary (each `tests/*.rs` file is a module):
//! compaction, sub-agents, the injection policy and how tool errors reach the model,
//! against the scripted model server, and a runtime that is never blocked.

mod compaction;
mod injection;
mod injection_gaps;
mod runtime_not_blocked;
mod subagents;
mod tool_errors;
