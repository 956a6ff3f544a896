//! The binary's end-to-end tests, one test binary (each former `tests/*.rs` file is a
//! module here): the real `hearth` against the testkit's scripted server for exit codes,
//! flags, output, sessions, memory, skills and MCP, secrets and the sandbox, provider stops
//! and the bundled local model.

mod agent_loop;
mod common;
mod costs;
mod crash_matrix;
mod local_model;
mod memory;
mod provider_stops;
mod secrets_and_sandbox;
mod serve;
mod service;
mod sessions;
mod skills_mcp;
mod terminal_output;
