//! The protocol crate's integration tests, one test binary: the pinned JSON of every
//! protocol type (`golden`) and the workspace's architecture rules (`architecture`).

mod architecture;
mod golden;
