//! Run a command under a sandbox policy: bubblewrap where it works, otherwise refuse
//! (unless the user chose `full-access`). Every command gets its own process group,
//! a timeout, resource limits, a cleared environment and bounded output capture.
//!
//! Architecture invariant: this crate is the only place in Hearth that spawns a
//! process on the model's behalf. `exec`, skill scripts and `hearth sandbox run` all
//! come through [`run`], so what the breakout tests prove holds for all of them.

mod bwrap;
mod capture;
mod child_setup;
mod mechanism;
mod policy;
mod process_count;
mod run;

pub use mechanism::{probe, probe_bwrap, Mechanism};
pub use policy::{
    CommandLine, CommandOutput, CommandSpec, ResourceLimits, SandboxError, SandboxMode,
    SandboxPolicy,
};
pub use run::{run, run_with};
