//! The gateway's tests, one binary: the real gateway in-process on 127.0.0.1:0 over real
//! sockets, with the testkit's scripted server as the model and a real SQLite store.

mod api;
mod approvals;
mod common;
mod openai_sdk;
mod turns;
