//! `HEARTH_HOME` and what lives in it: config, state database, workspace, history.

use std::path::PathBuf;

use crate::{Environment, RuntimeError};

/// The directory holding all of Hearth's state.
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    /// `$HEARTH_HOME`, else `~/.hearth`, from this process's environment. Created if
    /// missing.
    pub fn locate() -> Result<Home, RuntimeError> {
        Self::locate_in(&Environment::from_process())
    }

    /// `HEARTH_HOME`, else `~/.hearth`, as `env` says. Created if missing.
    pub fn locate_in(env: &Environment) -> Result<Home, RuntimeError> {
        let root = match (&env.hearth_home, &env.user_home) {
            (Some(dir), _) => dir.clone(),
            (None, Some(home)) => home.join(".hearth"),
            (None, None) => return Err(RuntimeError::NoHome),
        };
        std::fs::create_dir_all(&root).map_err(|source| RuntimeError::HomeCreate {
            path: root.clone(),
            source,
        })?;
        // Canonical, so that comparing it with the (canonical) workspace and hiding it
        // from the sandbox work through symlinks.
        let root = root
            .canonicalize()
            .map_err(|source| RuntimeError::HomeResolve {
                path: root.clone(),
                source,
            })?;
        Ok(Home { root })
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn state_db(&self) -> PathBuf {
        self.root.join("state.db")
    }

    pub fn default_workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }

    /// Secret values, mode 0600; hidden from every sandboxed command.
    pub fn secrets_file(&self) -> PathBuf {
        self.root.join("secrets.json")
    }

    /// Long-term memory: captured turns, notes, indexes.
    pub fn memory_db(&self) -> PathBuf {
        self.root.join("memory.db")
    }

    pub fn chat_history(&self) -> PathBuf {
        self.root.join("chat-history.txt")
    }

    /// The user's own skills: readable, never writable, by sandboxed commands.
    pub fn skills_dir(&self) -> PathBuf {
        self.root.join("skills")
    }
}
