//! Run a command under a sandbox policy: bubblewrap where it works, otherwise a helper
//! that restricts itself with Landlock and seccomp (and namespaces where allowed), and
//! refuses when neither works (unless the user chose `full-access`). Every command gets its own process group,
//! a timeout, resource limits, a cleared environment and bounded output capture.
//!
//! Architecture invariant: this crate is the only place in Hearth that spawns a
//! process on the model's behalf. `exec`, skill scripts and `hearth sandbox run` all
//! come through [`run`], so what the breakout tests prove holds for all of them.
//!
//! Known limits (each is stated where it is implemented):
//! - RLIMIT_NPROC is never enforced by the kernel for root; the process count is
//!   also watched by polling `/proc` (see `process_count`), which can overshoot for
//!   one 100 ms interval before the tree is killed.
//! - RLIMIT_CPU and RLIMIT_AS are per process, not per tree.
//! - A read-only mount does not stop `connect()` on a Unix socket: `/run` and `/tmp`
//!   are masked, but a socket elsewhere outside the workspace stays reachable, and with
//!   `network` on so are abstract-namespace sockets.
//! - In `full-access`, a process that calls setsid leaves the process group and
//!   survives the kill; in the sandboxed modes the PID namespace takes it down (both
//!   mechanisms; the Landlock helper only where the kernel grants it namespaces,
//!   which its probe reports).
//! - Every `.git` in the workspace is made read-only, as far as a bounded walk finds
//!   them (`git_dirs::MAX_ENTRIES` entries, skipping `node_modules`, `target` and
//!   `.cache`); a repository a command creates is writable during that command and
//!   reported in [`CommandOutput::new_git_repositories`].
//! - Under Landlock, a hidden path inside the workspace (`-C ~` around `~/.hearth`)
//!   is covered by a mount, so without namespaces such a layout is refused; a
//!   directory above the workspace that holds a hidden path cannot be listed, only
//!   its other entries read; `/tmp` and `/run` are not
//!   readable (the command's `TMPDIR` is its own); without namespaces (a kernel that
//!   refuses them to this user) `.git` stays writable, which `hearth doctor` says.
//! - bwrap reports death by signal N as status 128 + N; the sandboxed modes read
//!   129..=192 as a signal.

mod bwrap;
mod capture;
mod child_setup;
mod git_dirs;
mod helper;
mod landlock;
mod mechanism;
mod pid_init;
mod policy;
mod probe_cache;
mod process_count;
mod run;
mod seccomp;

pub use helper::{helper_main, landlock_abi, HelperReport};
pub use landlock::{HelperPlan, HelperProgram, MaskedPath};
pub use mechanism::{
    probe, probe_bwrap, probe_landlock, probe_with, Mechanism, MechanismChoice, MechanismSettings,
    MECHANISM_ENV,
};
pub use policy::{
    CommandLine, CommandOutput, CommandSpec, ResourceLimits, SandboxError, SandboxMode,
    SandboxPolicy,
};
pub use run::{run, run_using, run_with};
