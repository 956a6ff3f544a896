//! The secrets file: `$HEARTH_HOME/secrets.json`, mode 0600, written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::validate_name;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secret name '{0}' is not valid: use 1-64 characters of letters, digits, '_', '-' or '.'"
    )]
    BadName(String),
    #[error("no secret named '{name}'; store it with `hearth secrets set {name}` (the value is read from stdin)")]
    Missing { name: String },
    #[error("secret '{0}' is empty; nothing was stored")]
    Empty(String),
    #[error("secrets file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secrets file {path} is not valid JSON ({source}); fix or remove it (it holds only name → value pairs)")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("secrets file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
}

/// Name → value pairs in one file only the owner can read.
#[derive(Debug, Clone)]
pub struct SecretStore {
    path: PathBuf,
}

impl SecretStore {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> SecretError {
        SecretError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// All secrets; an absent file is an empty store. A file others can read is refused.
    pub fn load(&self) -> Result<BTreeMap<String, String>, SecretError> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(err) => return Err(self.io(err)),
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::TooOpen {
                path: self.path.clone(),
                mode,
            });
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        serde_json::from_str(&text).map_err(|source| SecretError::Corrupt {
            path: self.path.clone(),
            source,
        })
    }

    pub fn names(&self) -> Result<Vec<String>, SecretError> {
        Ok(self.load()?.into_keys().collect())
    }

    pub fn get(&self, name: &str) -> Result<String, SecretError> {
        self.load()?
            .remove(name)
            .ok_or_else(|| SecretError::Missing {
                name: name.to_string(),
            })
    }

    pub fn set(&self, name: &str, value: &str) -> Result<(), SecretError> {
        validate_name(name)?;
        if value.is_empty() {
            return Err(SecretError::Empty(name.to_string()));
        }
        let mut all = self.load()?;
        all.insert(name.to_string(), value.to_string());
        self.save(&all)
    }

    /// Removes `name`; returns whether it existed.
    pub fn remove(&self, name: &str) -> Result<bool, SecretError> {
        let mut all = self.load()?;
        let existed = all.remove(name).is_some();
        if existed {
            self.save(&all)?;
        }
        Ok(existed)
    }

    /// Writes a temp file with mode 0600 from the start, syncs it, renames it over.
    fn save(&self, all: &BTreeMap<String, String>) -> Result<(), SecretError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(all).map_err(|source| SecretError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| self.io(e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| self.io(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_list_remove_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::new(&dir.path().join("secrets.json"));
        assert!(store.names().unwrap().is_empty());
        store.set("github", "ghp_abc").unwrap();
        store.set("openai", "sk-1").unwrap();
        assert_eq!(store.get("github").unwrap(), "ghp_abc");
        assert_eq!(store.names().unwrap(), ["github", "openai"]);
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert!(store.remove("github").unwrap());
        assert!(!store.remove("github").unwrap());
        assert!(matches!(
            store.get("github"),
            Err(SecretError::Missing { .. })
        ));
    }

    #[test]
    fn bad_names_empty_values_and_open_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::new(&dir.path().join("secrets.json"));
        assert!(matches!(
            store.set("a b", "x"),
            Err(SecretError::BadName(_))
        ));
        assert!(matches!(store.set("ok", ""), Err(SecretError::Empty(_))));
        store.set("ok", "v").unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
