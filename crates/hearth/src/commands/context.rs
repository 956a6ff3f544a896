//! `hearth context`: what the next model request would carry and what each part costs,
//! so the fixed prompt overhead is something a user can check.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};
use serde::Serialize;

use crate::cli::ContextArgs;
use crate::commands::run::with_resumed_session;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};
use crate::wiring::resolve;

#[derive(Serialize)]
struct Part {
    name: String,
    chars: usize,
    cut_chars: usize,
}

#[derive(Serialize)]
struct Report {
    model: Option<String>,
    parts: Vec<Part>,
    /// System text plus tool schemas: what every request of the session repeats.
    fixed_chars: usize,
    history_messages: usize,
    history_chars: usize,
    total_chars: usize,
    skills: SkillsReport,
}

/// What the skills part holds and what its budget cut.
#[derive(Serialize)]
struct SkillsReport {
    found: usize,
    listed: usize,
    shortened: Vec<String>,
    dropped: Vec<String>,
    problems: Vec<String>,
}

fn skills_report(resolved: &crate::wiring::Resolved) -> SkillsReport {
    let catalog = &resolved.skills;
    let index = hearth_runtime::skills::index(catalog, &resolved.workspace);
    SkillsReport {
        found: catalog.skills.len(),
        listed: index.listed,
        shortened: index.shortened,
        dropped: index.dropped,
        problems: catalog.problems.iter().map(|p| p.to_string()).collect(),
    }
}

fn print_skills(skills: &SkillsReport) {
    if skills.found == 0 && skills.problems.is_empty() {
        return;
    }
    println!("skills: {} found, {} listed", skills.found, skills.listed);
    if !skills.shortened.is_empty() {
        println!(
            "  descriptions shortened to fit the budget: {}",
            skills.shortened.join(", ")
        );
    }
    if !skills.dropped.is_empty() {
        println!(
            "  left out to fit the budget: {}",
            skills.dropped.join(", ")
        );
    }
    for problem in &skills.problems {
        println!("  {}", escape_for_terminal(problem, Layout::Lines));
    }
}

/// Never asked: `hearth context` runs no tools.
struct NoApprover;

#[async_trait::async_trait]
impl Approver for NoApprover {
    async fn decide(&self, _request: &ApprovalRequest) -> ApprovalDecision {
        ApprovalDecision::Deny {
            reason: "not running".into(),
        }
    }
}

pub fn context(args: ContextArgs) -> Result<ExitCode> {
    let (agent_args, resumed) = with_resumed_session(&args.agent)?;
    let resolved = resolve(&agent_args)?;
    let system = resolved.context_builder().build();
    let tools = resolved.tools(Arc::new(NoApprover))?;
    let mut parts: Vec<Part> = system
        .parts
        .iter()
        .map(|p| Part {
            name: p.name.clone(),
            chars: p.chars,
            cut_chars: p.cut_chars,
        })
        .collect();
    let specs = tools.specs();
    let mut tool_chars = 0;
    for spec in &specs {
        let chars = serde_json::to_string(spec)?.chars().count();
        tool_chars += chars;
        parts.push(Part {
            name: format!("tool {}", spec.name),
            chars,
            cut_chars: 0,
        });
    }
    let system_chars = system.text.chars().count();
    let (history_messages, history_chars) = match &resumed {
        Some(session) => {
            let messages = resolved.open_store()?.messages(&session.id)?;
            let chars = serde_json::to_string(&messages)?.chars().count();
            (messages.len(), chars)
        }
        None => (0, 0),
    };
    let prompt_chars = args.prompt.chars().count();
    let report = Report {
        // What a run would use: the flag, config, or the bundled local default.
        model: resolved
            .model(agent_args.model.as_deref())
            .ok()
            .map(|model| model.to_string()),
        parts,
        fixed_chars: system_chars + tool_chars,
        history_messages,
        history_chars,
        total_chars: system_chars + tool_chars + history_chars + prompt_chars,
        skills: skills_report(&resolved),
    };
    if args.json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&report)?)
        );
    } else {
        println!(
            "model: {}",
            report.model.as_deref().unwrap_or("(none configured)")
        );
        for part in &report.parts {
            let cut = if part.cut_chars > 0 {
                format!("  ({} chars cut)", part.cut_chars)
            } else {
                String::new()
            };
            println!("{:>7}  {}{cut}", part.chars, part.name);
        }
        println!(
            "{:>7}  fixed overhead (system text + tool schemas)",
            report.fixed_chars
        );
        println!(
            "{:>7}  history ({} messages)",
            report.history_chars, report.history_messages
        );
        println!("{:>7}  this message", prompt_chars);
        println!("{:>7}  total", report.total_chars);
        print_skills(&report.skills);
    }
    if args.full {
        println!(
            "\n--- system prompt ---\n{}",
            escape_for_terminal(&system.text, Layout::Lines)
        );
        println!(
            "--- tool schemas ---\n{}",
            json_for_terminal(&serde_json::to_string_pretty(&specs)?)
        );
    }
    Ok(ExitCode::SUCCESS)
}
