//! `hearth skills new NAME`: a new skill folder that passes validation as written, with
//! a `SKILL.md` to fill in and an example script.

use std::path::{Path, PathBuf};

use crate::frontmatter::{load_skill, SkillError};

/// Why a skill could not be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("'{name}' is not a valid skill name: {problem}")]
    BadName { name: String, problem: String },
    #[error("{path} already exists; choose another name or edit that skill")]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}; check that the folder is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the scaffold for '{name}' did not validate ({0}); this is a bug in hearth", name = .1)]
    Invalid(SkillError, String),
}

/// Creates `root/NAME/SKILL.md` and `root/NAME/scripts/example.sh`; returns the folder.
pub fn scaffold(root: &Path, name: &str) -> Result<PathBuf, ScaffoldError> {
    let template = skill_template(name);
    if let Err(err) = crate::parse_skill_file(&template, Path::new("SKILL.md"), name) {
        let problem = match err {
            SkillError::Invalid { problem, .. } => problem,
            other => other.to_string(),
        };
        return Err(ScaffoldError::BadName {
            name: name.to_string(),
            problem,
        });
    }
    let dir = root.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists { path: dir });
    }
    let script = dir.join("scripts/example.sh");
    write(&dir.join("SKILL.md"), &template)?;
    write(
        &script,
        "#!/bin/sh\n# An example script: skills' scripts run through exec, in the sandbox.\necho \"hello from the skill\"\n",
    )?;
    make_executable(&script);
    load_skill(&dir).map_err(|err| ScaffoldError::Invalid(err, name.to_string()))?;
    Ok(dir)
}

fn skill_template(name: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: Say what this skill does and when to use it, in one or two sentences the model can match a task against.\n---\n\
         # {name}\n\n\
         Write the instructions here: the steps to follow, the rules to keep, and an example.\n\n\
         ## Scripts\n\n\
         Run `sh scripts/example.sh` from this folder with exec; it prints a greeting.\n"
    )
}

fn write(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let failed = |source| ScaffoldError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: the script also runs as `sh scripts/example.sh`.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaffold_is_a_valid_skill_and_is_not_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let dir = scaffold(root.path(), "csv-report").unwrap();
        let skill = load_skill(&dir).unwrap();
        assert_eq!(skill.meta.name, "csv-report");
        assert!(dir.join("scripts/example.sh").is_file());
        assert!(matches!(
            scaffold(root.path(), "csv-report"),
            Err(ScaffoldError::Exists { .. })
        ));
        let err = scaffold(root.path(), "Bad_Name").unwrap_err();
        assert!(err.to_string().contains("contains 'B'"), "{err}");
    }
}
