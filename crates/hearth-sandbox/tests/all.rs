//! The sandbox's integration tests, in one test binary (each former `tests/*.rs` file is
//! a module here): the breakout cases under both mechanisms, what only the Landlock
//! helper has, and process control (limits, timeouts, cancellation, signals).

mod breakout;
mod breakout_landlock;
mod common;
mod process_control;
