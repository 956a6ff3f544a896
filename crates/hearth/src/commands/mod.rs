//! One module per `hearth` subcommand.

pub mod approver;
pub mod channels;
pub mod chat;
pub mod context;
pub mod doctor;
pub mod heartbeat;
pub mod mcp;
pub mod memory;
pub mod models;
pub mod run;
pub mod sandbox;
pub mod schedule;
pub mod secrets;
pub mod serve;
pub mod service;
pub mod sessions;
pub mod skills;
pub mod usage;
