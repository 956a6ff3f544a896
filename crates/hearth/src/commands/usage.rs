//! `hearth usage`: the cost ledger (every model call's tokens and USD cost, as stored
//! with its answer), summed by UTC day, model or session, for people or as JSON.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use hearth_store::{CallRecord, Store};
use serde::Serialize;

use crate::home::Home;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// What to sum the calls by.
    #[arg(long, value_enum, default_value = "day")]
    pub by: UsageGrouping,
    /// Only calls on or after this UTC date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Print JSON: the groups and the total.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGrouping {
    /// By UTC day.
    Day,
    /// By provider:model.
    Model,
    /// By session id.
    Session,
}

/// The sums of some calls.
#[derive(Debug, Default, Serialize)]
struct UsageSum {
    calls: u64,
    input_tokens: u64,
    cached_input_tokens: u64,
    cache_write_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
}

impl UsageSum {
    fn add(&mut self, call: &CallRecord) {
        self.calls += 1;
        self.input_tokens += call.usage.input_tokens;
        self.cached_input_tokens += call.usage.cached_tokens;
        self.cache_write_tokens += call.usage.cache_creation_tokens;
        self.output_tokens += call.usage.output_tokens;
        self.cost_usd += call.cost_usd;
    }
}

#[derive(Debug, Serialize)]
struct UsageGroup {
    key: String,
    #[serde(flatten)]
    sum: UsageSum,
}

pub fn usage(args: UsageArgs) -> Result<ExitCode> {
    if let Some(since) = &args.since {
        if !is_date(since) {
            bail!("--since {since}: give a UTC date as YYYY-MM-DD, e.g. --since 2026-12-01");
        }
    }
    let home = Home::locate()?;
    let store = Store::open(&home.state_db())?;
    let calls = store.calls(args.since.as_deref())?;
    let mut groups: BTreeMap<String, UsageSum> = BTreeMap::new();
    let mut total = UsageSum::default();
    for call in &calls {
        let key = match args.by {
            UsageGrouping::Day => call.created_at.get(..10).unwrap_or_default().to_string(),
            UsageGrouping::Model => call.model.clone(),
            UsageGrouping::Session => call.session_id.clone(),
        };
        groups.entry(key).or_default().add(call);
        total.add(call);
    }
    let groups: Vec<UsageGroup> = groups
        .into_iter()
        .map(|(key, sum)| UsageGroup { key, sum })
        .collect();
    if args.json {
        let value = serde_json::json!({
            "by": args.by,
            "since": args.since,
            "groups": groups,
            "total": total,
        });
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&value)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if groups.is_empty() {
        eprintln!("no model calls recorded yet");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<36} {:>6} {:>12} {:>12} {:>12} {:>10}",
        "", "calls", "input", "cached in", "output", "USD"
    );
    for group in &groups {
        print_row(
            &escape_for_terminal(&group.key, Layout::OneLine),
            &group.sum,
        );
    }
    print_row("total", &total);
    Ok(ExitCode::SUCCESS)
}

fn print_row(key: &str, sum: &UsageSum) {
    println!(
        "{key:<36} {:>6} {:>12} {:>12} {:>12} {:>10.4}",
        sum.calls, sum.input_tokens, sum.cached_input_tokens, sum.output_tokens, sum.cost_usd
    );
}

/// Whether `text` is a date written YYYY-MM-DD.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}
