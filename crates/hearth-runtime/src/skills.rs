//! Which skills an agent gets: the standard roots for a workspace, the catalog found
//! there, and its prompt section.

use std::path::Path;

use hearth_skills::{discover, Catalog, SkillIndex, SkillRoots};

use crate::home::Home;

/// The skill roots for `workspace`, in priority order (`user_home` is `$HOME`, for
/// `~/.agents/skills`).
pub fn skill_roots(workspace: &Path, user_home: Option<&Path>, home: &Home) -> SkillRoots {
    SkillRoots::standard(workspace, user_home, &home.root)
}

/// The skills of `workspace`, and the problems met finding them.
pub fn catalog(workspace: &Path, user_home: Option<&Path>, home: &Home) -> Catalog {
    discover(&skill_roots(workspace, user_home, home))
}

/// The prompt section listing `catalog`'s skills within the default budget.
pub fn index(catalog: &Catalog, workspace: &Path) -> SkillIndex {
    SkillIndex::render(
        &catalog.skills,
        workspace,
        hearth_skills::DEFAULT_INDEX_BUDGET_CHARS,
    )
}

/// The name `hearth context` shows for the skills part.
pub fn part_name(index: &SkillIndex) -> String {
    format!("skills ({} listed)", index.listed)
}
