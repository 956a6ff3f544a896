//! The store's integration tests, one test binary (each former `tests/*.rs` file is a
//! module here): crash safety under SIGKILL, repair, sessions, transcripts and the
//! migration of a first-release database.

mod crash;
mod ledger;
mod migration;
mod repair;
mod sessions;
mod transcript;
