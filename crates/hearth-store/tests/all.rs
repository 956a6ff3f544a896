//! The store's integration tests, one test binary (each former `tests/*.rs` file is a
//! module here): crash safety under SIGKILL, repair, sessions, transcripts and the
//! migration of a first-release database.

mod channels;
mod checkpoints;
mod crash;
mod heartbeat;
mod jobs;
mod ledger;
mod migration;
mod repair;
mod sessions;
mod transcript;
