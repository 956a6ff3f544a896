//! `HEARTH_HOME` and what lives in it: config, state database, workspace, history.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The directory holding all of Hearth's state.
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    /// `$HEARTH_HOME`, else `~/.hearth`. Created if missing.
    pub fn locate() -> Result<Home> {
        let root = match std::env::var_os("HEARTH_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .context("neither HEARTH_HOME nor HOME is set; set HEARTH_HOME to a directory for Hearth's state")?;
                Path::new(&home).join(".hearth")
            }
        };
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create HEARTH_HOME at {}", root.display()))?;
        // Canonical, so that comparing it with the (canonical) workspace and hiding it
        // from the sandbox work through symlinks.
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve HEARTH_HOME at {}", root.display()))?;
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
