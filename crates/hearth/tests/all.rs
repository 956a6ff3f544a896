//! The binary's end-to-end tests, one test binary (each former `tests/*.rs` file is a
//! module here): the real `hearth` against the testkit's scripted server for exit codes,
//! flags, output, sessions, memory, skills and MCP, secrets and the sandbox, provider stops,
//! the bundled local model and the web UI in headless Chromium.

mod agent_loop;
mod channels;
mod common;
mod costs;
mod crash_matrix;
mod crash_matrix_serve;
mod injection;
mod injection_policy;
mod local_model;
mod long_sessions;
mod memory;
mod model_tools;
mod provider_stops;
mod schedule;
mod secrets_and_sandbox;
mod serve;
mod service;
mod sessions;
mod skills_mcp;
mod terminal_output;
mod web_ui;
