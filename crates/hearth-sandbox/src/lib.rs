//! Run a command under a sandbox policy: bubblewrap where it works, otherwise Landlock +
//! seccomp through a helper, otherwise refuse (unless the user chose `full-access`).
//! Every command gets its own process group, a timeout and resource limits.
//!
//! Architecture invariant: this crate is the only place in Hearth that spawns a
//! process on the model's behalf. `exec`, skill scripts and `hearth sandbox run` all
//! come through [`run`], so what the breakout tests prove holds for all of them.

mod policy;

pub use policy::{
    CommandLine, CommandOutput, CommandSpec, ResourceLimits, SandboxError, SandboxMode,
    SandboxPolicy,
};
