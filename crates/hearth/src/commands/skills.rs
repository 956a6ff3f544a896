//! `hearth skills list|check|new`: the skills Hearth would offer, validation of one skill
//! folder, and a new skill that validates as written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use hearth_skills::{load_skill, scaffold};
use serde::Serialize;

use crate::home::Home;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};

#[derive(Debug, Args)]
pub struct SkillsArgs {
    #[command(subcommand)]
    pub command: SkillsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// List the skills found (workspace skills/, workspace .agents/skills/,
    /// ~/.agents/skills/, $HEARTH_HOME/skills/; the first of a name wins) and any problems.
    List {
        /// Print a JSON array of {name, description, path, ...}.
        #[arg(long)]
        json: bool,
        /// The workspace (default: $HEARTH_HOME/workspace).
        #[arg(short = 'C', long = "workspace", value_name = "DIR")]
        workspace: Option<PathBuf>,
    },
    /// Validate one skill folder (or its SKILL.md); exit 1 with the reasons if invalid.
    Check {
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Create a skill that validates as written, in the workspace's skills/ folder.
    New {
        /// 1-64 characters of a-z, 0-9 and '-'.
        name: String,
        /// The workspace (default: $HEARTH_HOME/workspace).
        #[arg(short = 'C', long = "workspace", value_name = "DIR")]
        workspace: Option<PathBuf>,
        /// Create it in this folder instead of <workspace>/skills.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Serialize)]
struct Listed<'a> {
    path: String,
    dir: String,
    #[serde(flatten)]
    meta: &'a hearth_skills::SkillMeta,
}

pub async fn skills(args: SkillsArgs) -> Result<ExitCode> {
    match args.command {
        SkillsCommand::List { json, workspace } => list(json, workspace),
        SkillsCommand::Check { path } => Ok(check(&path)),
        SkillsCommand::New {
            name,
            workspace,
            dir,
        } => new(&name, workspace, dir),
    }
}

fn workspace_or_default(workspace: Option<PathBuf>, home: &Home) -> PathBuf {
    let dir = workspace.unwrap_or_else(|| home.default_workspace());
    dir.canonicalize().unwrap_or(dir)
}

fn list(json: bool, workspace: Option<PathBuf>) -> Result<ExitCode> {
    let env = crate::wiring::environment();
    let home = Home::locate_in(&env)?;
    let workspace = workspace_or_default(workspace, &home);
    let catalog = hearth_runtime::skills::catalog(&workspace, env.user_home.as_deref(), &home);
    if json {
        let listed: Vec<Listed> = catalog
            .skills
            .iter()
            .map(|s| Listed {
                path: s.path.display().to_string(),
                dir: s.dir.display().to_string(),
                meta: &s.meta,
            })
            .collect();
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&listed)?)
        );
    } else if catalog.skills.is_empty() {
        println!("no skills found (create one with: hearth skills new NAME)");
    } else {
        for skill in &catalog.skills {
            println!(
                "{}  {}\n    {}",
                escape_for_terminal(&skill.meta.name, Layout::OneLine),
                escape_for_terminal(&skill.meta.description, Layout::Lines),
                escape_for_terminal(&skill.path.to_string_lossy(), Layout::OneLine)
            );
        }
    }
    for problem in &catalog.problems {
        let problem = escape_for_terminal(&problem.to_string(), Layout::Lines);
        eprintln!("hearth: {problem}");
    }
    Ok(ExitCode::SUCCESS)
}

fn check(path: &Path) -> ExitCode {
    let dir = if path.file_name().is_some_and(|n| n == "SKILL.md") {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    match load_skill(&dir) {
        Ok(skill) => {
            for warning in &skill.warnings {
                eprintln!("hearth: warning: {warning}");
            }
            println!("ok: {} ({})", skill.meta.name, skill.path.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("hearth: invalid skill: {err}");
            ExitCode::FAILURE
        }
    }
}

fn new(name: &str, workspace: Option<PathBuf>, dir: Option<PathBuf>) -> Result<ExitCode> {
    let root = match dir {
        Some(dir) => dir,
        None => {
            let home = Home::locate()?;
            let workspace = workspace_or_default(workspace, &home);
            std::fs::create_dir_all(&workspace)
                .with_context(|| format!("cannot create the workspace {}", workspace.display()))?;
            workspace.join("skills")
        }
    };
    match scaffold(&root, name) {
        Ok(dir) => {
            println!("{}", dir.join("SKILL.md").display());
            eprintln!("hearth: created skill '{name}'; edit its description and instructions, then run `hearth skills check {}`", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("hearth: {err}");
            Ok(ExitCode::from(2))
        }
    }
}
