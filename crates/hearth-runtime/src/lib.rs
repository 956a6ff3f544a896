//! Hearth's runtime: turns settings (the environment, `config.toml`, a front end's
//! [`Overrides`]) into ready agents: tools, skills, MCP, secrets, sandbox policy, the
//! memory hook and recorded approvals. The `hearth` binary and the gateway are two thin
//! front ends over it.
//!
//! Architecture invariants: no terminal IO (problems worth telling a person come back
//! as [`Warning`]s for the front end to show); errors state facts, front ends add
//! their own hints (flags, config keys); the environment is read in one place
//! ([`Environment`]) and passed down, library crates below read none of it; the loop
//! knows no HTTP and this crate knows no front end.

pub mod approvals;
pub mod config;
pub mod egress;
mod environment;
mod error;
pub mod home;
pub mod memory;
pub mod model_tools;
pub mod now_line;
mod overrides;
pub mod profiles;
pub mod providers;
mod runtime;
pub mod schedule_tools;
mod shared_parts;
pub mod skills;
pub mod status;
mod warning;

pub use environment::Environment;
pub use error::RuntimeError;
pub use overrides::Overrides;
pub use runtime::{resolve, Resolved};
pub use warning::Warning;
