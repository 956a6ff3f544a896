//! The channel crate's integration tests, one binary. The end-to-end tests (gateway,
//! scripted model server and scripted Telegram Bot API server) live in the gateway's
//! tests, which wire this crate to a real session hub.

mod formatting;
