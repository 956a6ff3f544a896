//! The testkit's integration tests, one test binary (each former `tests/*.rs` file is a
//! module here): both wire formats, server behaviour, the tool-call history check, the
//! snapshot helper and the `hearth-scripted-server` binary.

mod anthropic_wire;
mod common;
mod history_check;
mod openai_wire;
mod scripted_server_binary;
mod server_behaviour;
mod snapshot;
