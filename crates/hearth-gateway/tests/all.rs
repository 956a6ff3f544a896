//! The gateway's tests, one binary: the real gateway in-process on 127.0.0.1:0 over real
//! sockets, with the testkit's scripted server as the model and a real SQLite store.

mod api;
mod approvals;
mod channel_gateway;
mod common;
mod compact;
mod email;
mod heartbeat;
mod matrix;
mod openai_sdk;
mod request_bodies;
mod scheduler;
mod telegram;
mod telegram_schedule;
mod turns;
mod web;
