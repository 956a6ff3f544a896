//! Finding skills: the standard roots in order, one folder per skill, the first skill of
//! a name winning, and every invalid folder or name clash reported.

use std::path::{Path, PathBuf};

use crate::frontmatter::{load_skill, Skill, SkillError};

/// One folder that holds skill folders, and a label saying where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillRoot {
    pub dir: PathBuf,
    pub origin: &'static str,
}

/// The roots searched, highest priority first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkillRoots(pub Vec<SkillRoot>);

impl SkillRoots {
    /// `<workspace>/skills`, `<workspace>/.agents/skills`, `~/.agents/skills` (when `home`
    /// is known), `$HEARTH_HOME/skills`, in that order.
    pub fn standard(workspace: &Path, home: Option<&Path>, hearth_home: &Path) -> Self {
        let mut roots = vec![
            SkillRoot {
                dir: workspace.join("skills"),
                origin: "workspace",
            },
            SkillRoot {
                dir: workspace.join(".agents/skills"),
                origin: "workspace .agents",
            },
        ];
        if let Some(home) = home {
            roots.push(SkillRoot {
                dir: home.join(".agents/skills"),
                origin: "user ~/.agents",
            });
        }
        roots.push(SkillRoot {
            dir: hearth_home.join("skills"),
            origin: "HEARTH_HOME",
        });
        SkillRoots(roots)
    }

    /// The place `hearth skills new` writes to: the first root (the workspace's `skills/`).
    pub fn first(&self) -> Option<&SkillRoot> {
        self.0.first()
    }
}

/// Something about the skill folders the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A folder that is not a valid skill, and why. It is not offered to the model.
    Invalid(SkillError),
    /// A valid skill hidden by an earlier one of the same name.
    Shadowed {
        name: String,
        kept: PathBuf,
        ignored: PathBuf,
    },
    /// A root that exists but cannot be listed.
    UnreadableRoot { dir: PathBuf, cause: String },
    /// A valid skill with something odd about it (e.g. an unknown frontmatter field).
    Warning(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Invalid(err) => write!(f, "skipped invalid skill: {err}"),
            Problem::Shadowed { name, kept, ignored } => write!(
                f,
                "skill '{name}' at {} is hidden by the one at {} (first match wins); rename one of them",
                ignored.display(),
                kept.display()
            ),
            Problem::UnreadableRoot { dir, cause } => write!(
                f,
                "cannot list skills in {}: {cause}; check its permissions",
                dir.display()
            ),
            Problem::Warning(message) => write!(f, "warning: {message}"),
        }
    }
}

impl Problem {
    /// Whether the problem cost a skill (invalid or unreadable), as opposed to a notice.
    pub fn is_error(&self) -> bool {
        matches!(self, Problem::Invalid(_) | Problem::UnreadableRoot { .. })
    }
}

/// The skills found and the problems met finding them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Valid skills in discovery order: by root priority, then by folder name.
    pub skills: Vec<Skill>,
    pub problems: Vec<Problem>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.iter().find(|s| s.meta.name == name)
    }

    /// The folders of all valid skills.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.skills.iter().map(|s| s.dir.clone()).collect()
    }
}

/// Loads every skill folder under `roots`. Missing roots are fine; nothing here fails.
pub fn discover(roots: &SkillRoots) -> Catalog {
    let mut catalog = Catalog::default();
    let mut seen_roots: Vec<PathBuf> = Vec::new();
    for root in &roots.0 {
        let canonical = root.dir.canonicalize().unwrap_or_else(|_| root.dir.clone());
        if seen_roots.contains(&canonical) {
            continue;
        }
        seen_roots.push(canonical);
        for dir in skill_folders(&root.dir, &mut catalog.problems) {
            match load_skill(&dir) {
                Ok(skill) => add(&mut catalog, skill),
                Err(err) => catalog.problems.push(Problem::Invalid(err)),
            }
        }
    }
    catalog
}

fn add(catalog: &mut Catalog, skill: Skill) {
    if let Some(kept) = catalog.get(&skill.meta.name) {
        let problem = Problem::Shadowed {
            name: skill.meta.name.clone(),
            kept: kept.dir.clone(),
            ignored: skill.dir.clone(),
        };
        catalog.problems.push(problem);
        return;
    }
    for warning in &skill.warnings {
        catalog.problems.push(Problem::Warning(warning.clone()));
    }
    catalog.skills.push(skill);
}

/// The sub-folders of `root` (symlinks followed), sorted by name; hidden ones skipped.
fn skill_folders(root: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => return Vec::new(),
        Err(err) => {
            problems.push(Problem::UnreadableRoot {
                dir: root.to_path_buf(),
                cause: err.to_string(),
            });
            return Vec::new();
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .filter(|path| {
            !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    dirs.sort();
    dirs
}
