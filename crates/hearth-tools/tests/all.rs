//! The tools' integration tests, one test binary (each former `tests/*.rs` file is a
//! module here): workspace confinement, the exec gate, the file, search and web tools,
//! and the registry.

mod common;
mod confinement;
mod exec_gate;
mod file_tools;
mod registry;
mod search_tools;
mod untrusted_files;
mod web_fetch;
