//! Agent Skills (agentskills.io) for Hearth: folders holding a `SKILL.md` whose YAML
//! frontmatter names and describes a job, plus optional scripts and resources.
//!
//! - [`parse_skill_file`] / [`load_skill`]: frontmatter parsing and validation per the spec.
//! - [`discover`]: the skill folders of the standard roots, first match winning on a
//!   name clash, every invalid skill and every clash reported as a [`Problem`].
//! - [`SkillIndex::render`]: the system-prompt section (name, description, path) kept
//!   within a character budget, descriptions shortened before any skill is dropped, in
//!   a `<skills>` block marked as from skill files that no description can close.
//! - [`expand_mentions`]: `$skill-name` in a user message pulls that skill's body in.
//! - [`scaffold`]: `hearth skills new NAME`.
//! - [`SkillAwareReadFile`]: lets `read_file` read inside skill folders outside the workspace.
//!
//! Architecture invariant: nothing here prints or panics on what a skill folder
//! contains; a broken skill is a [`Problem`] with a reason, never a crash and never
//! silently skipped.

mod discover;
mod frontmatter;
mod index;
mod mention;
mod read;
mod scaffold;

pub use discover::{discover, Catalog, Problem, SkillRoot, SkillRoots};
pub use frontmatter::{load_skill, parse_skill_file, Skill, SkillError, SkillMeta};
pub use index::{SkillIndex, DEFAULT_INDEX_BUDGET_CHARS};
pub use mention::{expand_mentions, find_mentions, inject_mentions, without_mentions};
pub use read::SkillAwareReadFile;
pub use scaffold::{scaffold, ScaffoldError};
