//! `hearth context`: what the next model request would carry and what each part costs,
//! so the fixed prompt overhead is something a user can check: the tools listed are
//! exactly those the agent on the selected model gets (its tool list, `spawn_agent`),
//! and the stable prefix is also given in tokens (a local model's own tokenizer, else
//! the loop's 4-characters-a-token estimate).

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
    /// The same stable prefix in tokens, counted as `prefix_tokens_counted` says.
    prefix_tokens: u64,
    /// "tokenizer" (a local model's own, on the prompt as its chat template renders
    /// it) or "estimate" (4 characters a token, as the loop estimates requests).
    prefix_tokens_counted: &'static str,
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

/// The stable prefix's size in tokens and how it was counted: a local model's own
/// tokenizer (its vocabulary loaded alone) on the system message as its template
/// renders it; otherwise, or when that fails, the loop's estimate.
fn prefix_tokens(
    resolved: &crate::wiring::Resolved,
    model: Option<&hearth_models::ModelRef>,
    system: &str,
    specs: &[hearth_protocol::ToolSpec],
    fixed_chars: usize,
) -> (u64, &'static str) {
    let counted = model
        .filter(|model| model.provider == "local")
        .and_then(|model| {
            let path =
                hearth_local::resolve(&model.model, resolved.env.model_cache.as_deref()).ok()?;
            hearth_local::prefix_tokens(&path, system, specs).ok()
        });
    match counted {
        Some(tokens) => (tokens as u64, "tokenizer"),
        None => (
            hearth_models::profile::estimate_tokens(fixed_chars),
            "estimate",
        ),
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
    // What a run would use: the flag, config, or the bundled local default.
    let model = resolved.model(agent_args.model.as_deref()).ok();
    let specs = match &model {
        Some(model) => resolved.agent_tool_specs(model, Arc::new(NoApprover))?,
        None => resolved.tools(Arc::new(NoApprover))?.specs(),
    };
    let mut parts: Vec<Part> = system
        .parts
        .iter()
        .map(|p| Part {
            name: p.name.clone(),
            chars: p.chars,
            cut_chars: p.cut_chars,
        })
        .collect();
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
    let fixed_chars = system_chars + tool_chars;
    let (prefix_tokens, prefix_tokens_counted) =
        prefix_tokens(&resolved, model.as_ref(), &system.text, &specs, fixed_chars);
    let report = Report {
        model: model.map(|model| model.to_string()),
        parts,
        fixed_chars,
        prefix_tokens,
        prefix_tokens_counted,
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
        let how = match report.prefix_tokens_counted {
            "tokenizer" => "tokens, the model's tokenizer",
            _ => "tokens, estimated at 4 characters a token",
        };
        println!("{:>7}  stable prefix ({how})", report.prefix_tokens);
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
