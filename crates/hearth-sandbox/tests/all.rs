//! The sandbox's integration tests, in one test binary (each former `tests/*.rs` file is
//! a module here): the breakout cases under both mechanisms, what only the Landlock
//! helper has, process control (limits, timeouts, cancellation, signals) and the probe
//! remembered across processes.

mod breakout;
mod breakout_landlock;
mod common;
mod probe_cache;
mod process_control;
