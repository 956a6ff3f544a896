//! The model cache: where GGUF files live, the ids `local:<id>` takes, listing, adding,
//! and resolving an id or a path to a file.
//!
//! Ids: a cached file is addressed by its file stem (`SmolLM2-135M-Instruct.Q4_1` for
//! `SmolLM2-135M-Instruct.Q4_1.gguf`, compared case-insensitively) or, for the files
//! Hearth knows, by a short alias (`smollm2`). Anything containing a `/` or ending in
//! `.gguf` is a path, so `local:/models/x.gguf` runs any file.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{LocalError, FETCH_COMMAND};

/// The bundled default chat model's file name in the cache.
pub const BUNDLED_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The short id of the bundled model: `local:smollm2`.
pub const BUNDLED_ALIAS: &str = "smollm2";

/// Short names for files Hearth knows: (alias, file name in the cache).
const ALIASES: &[(&str, &str)] = &[
    (BUNDLED_ALIAS, BUNDLED_FILE),
    ("gemma3-270m", "gemma-3-270m-Q4_K_M.gguf"),
];

/// The environment variable naming the model cache (read by the caller, see
/// [`hearth_protocol::model_cache_dir`]).
pub use hearth_protocol::MODELS_ENV;

/// One GGUF file in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CachedModel {
    /// What `local:<id>` takes: the short alias when there is one, else the file stem.
    pub id: String,
    /// Every other name that resolves to this file (the file stem when `id` is an alias).
    pub aliases: Vec<String>,
    pub path: PathBuf,
    pub size_bytes: u64,
}

/// The GGUF files in `dir`, sorted by id. A missing directory is an empty cache.
pub fn list(dir: &Path) -> Result<Vec<CachedModel>, LocalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(cause) => {
            return Err(LocalError::Io {
                path: dir.to_path_buf(),
                cause,
            })
        }
    };
    let mut models = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = file_name.strip_suffix(".gguf") else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let alias = ALIASES.iter().find(|(_, file)| *file == file_name);
        let (id, aliases) = match alias {
            Some((alias, _)) => (alias.to_string(), vec![stem.to_string()]),
            None => (stem.to_string(), Vec::new()),
        };
        models.push(CachedModel {
            id,
            aliases,
            path,
            size_bytes: meta.len(),
        });
    }
    models.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(models)
}

/// Whether `name` is a path rather than an id.
fn is_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".gguf")
}

/// The file `local:<name>` means: a path as given, or an id looked up in `dir` (the
/// model cache; `None` when there is none, as when neither `HEARTH_MODELS` nor `HOME`
/// is set).
pub fn resolve(name: &str, dir: Option<&Path>) -> Result<PathBuf, LocalError> {
    if is_path(name) {
        let path = PathBuf::from(name);
        if !path.is_file() {
            return Err(LocalError::Missing {
                path,
                hint: "check the path after local:".into(),
            });
        }
        return Ok(path);
    }
    let Some(dir) = dir else {
        return Err(LocalError::NoModelCache {
            name: name.to_string(),
        });
    };
    let models = list(dir)?;
    let wanted = name.to_ascii_lowercase();
    let found = models.iter().find(|m| {
        m.id.to_ascii_lowercase() == wanted
            || m.aliases.iter().any(|a| a.to_ascii_lowercase() == wanted)
    });
    if let Some(model) = found {
        return Ok(model.path.clone());
    }
    if let Some((_, file)) = ALIASES.iter().find(|(alias, _)| *alias == wanted) {
        let hint = if *file == BUNDLED_FILE {
            format!("fetch it with `{FETCH_COMMAND}`")
        } else {
            format!(
                "put {file} in {} or run `hearth models add PATH`",
                dir.display()
            )
        };
        return Err(LocalError::Missing {
            path: dir.join(file),
            hint,
        });
    }
    let known: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    Err(LocalError::NotInCache {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        known: if known.is_empty() {
            "no models".into()
        } else {
            known.join(", ")
        },
    })
}

/// The id of the bundled model when its file is in `dir`.
pub fn bundled_id(dir: &Path) -> Option<String> {
    dir.join(BUNDLED_FILE)
        .is_file()
        .then(|| format!("local:{BUNDLED_ALIAS}"))
}

/// Checks that `path` starts like a GGUF file (magic `GGUF`, a known version), so a
/// wrong or empty file is refused with a clear message before llama.cpp sees it.
pub fn check_gguf(path: &Path) -> Result<(), LocalError> {
    let mut header = [0u8; 8];
    let mut file = std::fs::File::open(path).map_err(|cause| match cause.kind() {
        std::io::ErrorKind::NotFound => LocalError::Missing {
            path: path.to_path_buf(),
            hint: format!("fetch the bundled model with `{FETCH_COMMAND}`"),
        },
        _ => LocalError::Io {
            path: path.to_path_buf(),
            cause,
        },
    })?;
    let read = file.read(&mut header).map_err(|cause| LocalError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let not_gguf = |cause: String| LocalError::NotGguf {
        path: path.to_path_buf(),
        cause,
    };
    if read < 8 {
        return Err(not_gguf(format!("only {read} bytes long")));
    }
    if &header[..4] != b"GGUF" {
        return Err(not_gguf(
            "it does not start with the GGUF magic bytes".into(),
        ));
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(2..=3).contains(&version) {
        return Err(not_gguf(format!("unsupported GGUF version {version}")));
    }
    Ok(())
}

/// Copies (or, with `link`, symlinks) the GGUF at `source` into `dir`, keeping its file
/// name, and returns its cache entry. Refuses non-GGUF files and existing names.
pub fn add(source: &Path, dir: &Path, link: bool) -> Result<CachedModel, LocalError> {
    check_gguf(source)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| LocalError::Io { path, cause }
    };
    let Some(file_name) = source.file_name() else {
        return Err(LocalError::NotGguf {
            path: source.to_path_buf(),
            cause: "it has no file name".into(),
        });
    };
    let mut target = dir.join(file_name);
    if target.extension().and_then(|e| e.to_str()) != Some("gguf") {
        target.set_extension("gguf");
    }
    if target.exists() {
        return Err(LocalError::Io {
            path: target,
            cause: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already in the model cache; remove it first to replace it",
            ),
        });
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if link {
        let absolute = std::fs::canonicalize(source).map_err(io(source))?;
        std::os::unix::fs::symlink(absolute, &target).map_err(io(&target))?;
    } else {
        let partial = target.with_extension("gguf.partial");
        std::fs::copy(source, &partial).map_err(io(&partial))?;
        std::fs::rename(&partial, &target).map_err(io(&target))?;
    }
    let models = list(dir)?;
    models
        .into_iter()
        .find(|m| m.path == target)
        .ok_or_else(|| LocalError::Missing {
            path: target.clone(),
            hint: "it vanished right after being added".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_gguf(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        let mut bytes = b"GGUF".to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 16]);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn ids_are_aliases_or_file_stems_and_resolve_case_insensitively() {
        let dir = tempfile::tempdir().unwrap();
        fake_gguf(dir.path(), BUNDLED_FILE);
        fake_gguf(dir.path(), "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf");
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let models = list(dir.path()).unwrap();
        let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["Qwen2.5-0.5B-Instruct-Q4_K_M", "smollm2"]);
        assert_eq!(models[1].aliases, ["SmolLM2-135M-Instruct.Q4_1"]);
        assert_eq!(models[1].size_bytes, 24);
        for name in [
            "smollm2",
            "SmolLM2-135M-Instruct.Q4_1",
            "smollm2-135m-instruct.q4_1",
        ] {
            assert_eq!(
                resolve(name, Some(dir.path())).unwrap(),
                dir.path().join(BUNDLED_FILE)
            );
        }
        assert_eq!(bundled_id(dir.path()).as_deref(), Some("local:smollm2"));
    }

    #[test]
    fn a_missing_bundled_model_names_the_fetch_command() {
        let dir = tempfile::tempdir().unwrap();
        let message = resolve("smollm2", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("scripts/fetch-models.sh chat"),
            "{message}"
        );
        assert_eq!(bundled_id(dir.path()), None);
        let message = resolve("llama-9000", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(message.contains("'llama-9000'"), "{message}");
        assert!(message.contains("hearth models add"), "{message}");
        let message = resolve("/nowhere/x.gguf", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(message.contains("/nowhere/x.gguf"), "{message}");
    }

    #[test]
    fn without_a_model_cache_ids_say_so_and_paths_still_resolve() {
        let message = resolve("smollm2", None).unwrap_err().to_string();
        assert!(
            message.contains("neither HEARTH_MODELS nor HOME is set"),
            "{message}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.gguf");
        std::fs::write(&file, b"GGUF").unwrap();
        assert_eq!(resolve(file.to_str().unwrap(), None).unwrap(), file);
    }

    #[test]
    fn check_gguf_refuses_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("model.gguf");
        std::fs::write(&text, "<html>not found</html>").unwrap();
        let message = check_gguf(&text).unwrap_err().to_string();
        assert!(message.contains("not a GGUF model file"), "{message}");
        std::fs::write(&text, "").unwrap();
        assert!(check_gguf(&text).is_err());
        assert!(check_gguf(&fake_gguf(dir.path(), "ok.gguf")).is_ok());
    }

    #[test]
    fn add_copies_or_links_into_the_cache_once() {
        let source_dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let source = fake_gguf(source_dir.path(), "tiny.gguf");
        let added = add(&source, cache.path(), false).unwrap();
        assert_eq!(added.id, "tiny");
        assert!(!added.path.is_symlink());
        assert!(add(&source, cache.path(), false).is_err());
        let other = fake_gguf(source_dir.path(), "linked.gguf");
        let linked = add(&other, cache.path(), true).unwrap();
        assert!(linked.path.is_symlink());
        let bad = source_dir.path().join("bad.gguf");
        std::fs::write(&bad, "nope").unwrap();
        assert!(add(&bad, cache.path(), false).is_err());
    }
}
