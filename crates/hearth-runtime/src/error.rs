//! Why the runtime could not build what a front end asked for. Each error states the
//! facts (which thing, which path, what failed); front ends add their own hints.

use std::path::PathBuf;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("neither HEARTH_HOME nor HOME is set, so there is no place for Hearth's state")]
    NoHome,
    #[error("cannot create HEARTH_HOME at {path}: {source}")]
    HomeCreate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resolve HEARTH_HOME at {path}: {source}")]
    HomeResolve {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("workspace {path} is not a directory")]
    WorkspaceNotDirectory { path: PathBuf },
    #[error("cannot create the workspace {path}: {source}")]
    WorkspaceCreate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resolve the workspace {path}: {source}")]
    WorkspaceResolve {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the workspace cannot be HEARTH_HOME itself ({path}): it holds config, secrets and \
         state that tools must not touch"
    )]
    WorkspaceIsHome { path: PathBuf },
    /// No model was named anywhere and the bundled local model is missing.
    #[error("no model configured, and {local}")]
    NoModel { local: String },
    #[error("{0}")]
    InvalidModel(String),
    #[error("{what}: {source}")]
    Secret {
        /// Where the reference was, e.g. `[sandbox.env] TOKEN`.
        what: String,
        source: hearth_secrets::SecretError,
    },
    #[error(transparent)]
    Store(#[from] hearth_store::StoreError),
    #[error(transparent)]
    Memory(#[from] hearth_memory::MemoryError),
    #[error(transparent)]
    Provider(#[from] hearth_models::ModelError),
    #[error(transparent)]
    Local(#[from] hearth_local::LocalError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] hearth_tools::ContextError),
}
