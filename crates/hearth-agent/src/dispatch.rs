//! Runs one step's tool calls: validates names and JSON arguments, runs independent calls
//! concurrently, and yields exactly one result per call, in call order, even on cancel.
//! A tool's [`hearth_tools::ToolError`] becomes its error result here, and only here
//! (as `"{tool}: {error}"`).
//!
//! Independent means reading: consecutive read-only calls (`read_file`, `grep`, …) run
//! together; a call that may change something (`write_file`, `exec`, an MCP tool) waits
//! for the calls before it and runs alone, so `[write_file a, read_file a]` reads what
//! was written. Consecutive `spawn_agent` calls also run together (each child is a
//! turn of its own, limited by `[subagents] max_concurrent`).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{FuturesOrdered, StreamExt};
use hearth_protocol::{ToolCall, ToolResult};
use hearth_tools::{ToolContext, ToolRegistry};
use tokio::sync::mpsc::UnboundedSender;

/// What a cancelled call is answered with.
pub const CANCELLED_RESULT: &str =
    "cancelled: the user interrupted the turn before this call finished; it may or may not have taken effect";

/// How long a tool may take to wind down after a cancel before it is abandoned.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Runs one batch of [`concurrent_batches`] and sends each result on `finished` in call
/// order, as soon as it and every call before it are done, so the caller can write
/// results ahead one by one while the batch's other calls keep running. A call whose
/// id is in `refused` (by the injection policy) does not run: that text is its result.
pub(crate) async fn run_batch<'c>(
    registry: &ToolRegistry,
    ctx: &ToolContext,
    batch: &'c [ToolCall],
    refused: &HashMap<String, String>,
    finished: UnboundedSender<(&'c ToolCall, ToolResult)>,
) {
    let mut pending: FuturesOrdered<_> = batch
        .iter()
        .map(|call| async move {
            let result = match refused.get(&call.id) {
                Some(refusal) => ToolResult::error(call, refusal.clone()),
                None => run_one(registry, ctx, call).await,
            };
            (call, result)
        })
        .collect();
    while let Some(done) = pending.next().await {
        // A caller that stopped listening has stopped the turn; the calls still end.
        let _ = finished.send(done);
    }
}

/// How a call may share its time with its neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Company {
    /// Read-only calls run together.
    Readers,
    /// Sub-agents run together.
    SubAgents,
    /// Anything that may change something runs alone.
    Alone,
}

/// `calls` cut, in order, into runs that may go at the same time: consecutive read-only
/// calls together, consecutive `spawn_agent` calls together, every other call alone.
/// Unknown tools only produce an error result, so they count as read-only.
pub(crate) fn concurrent_batches<'c>(
    registry: &ToolRegistry,
    calls: &'c [ToolCall],
) -> Vec<&'c [ToolCall]> {
    let company = |call: &ToolCall| match registry.get(&call.name) {
        None => Company::Readers,
        Some(_) if call.name == crate::spawn::SPAWN_AGENT => Company::SubAgents,
        Some(tool) if tool.is_read_only() => Company::Readers,
        Some(_) => Company::Alone,
    };
    let mut batches = Vec::new();
    let mut start = 0;
    for index in 1..=calls.len() {
        let kind = company(&calls[index - 1]);
        let ends = index == calls.len() || kind == Company::Alone || company(&calls[index]) != kind;
        if ends {
            batches.push(&calls[start..index]);
            start = index;
        }
    }
    batches
}

async fn run_one(registry: &ToolRegistry, ctx: &ToolContext, call: &ToolCall) -> ToolResult {
    // A call still waiting for an earlier one when the turn is cancelled never starts.
    if ctx.cancel.is_cancelled() {
        return ToolResult::error(call, CANCELLED_RESULT);
    }
    let Some(tool) = registry.get(&call.name) else {
        return ToolResult::error(
            call,
            format!(
                "unknown tool '{}'; the available tools are: {}",
                call.name,
                registry.names().join(", ")
            ),
        );
    };
    let arguments = if call.arguments.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        match serde_json::from_str::<serde_json::Value>(&call.arguments) {
            Ok(value @ serde_json::Value::Object(_)) => value,
            Ok(_) => {
                return ToolResult::error(
                    call,
                    format!("arguments for '{}' must be a JSON object; resend the call with an object matching the tool's schema", call.name),
                )
            }
            Err(err) => {
                return ToolResult::error(
                    call,
                    format!("arguments for '{}' are not valid JSON ({err}); resend the call with a JSON object matching the tool's schema", call.name),
                )
            }
        }
    };
    let running = tool.call(arguments, ctx);
    tokio::pin!(running);
    let result = tokio::select! {
        output = &mut running => output,
        () = ctx.cancel.cancelled() => {
            // Tools see the same token (exec kills its process group); give them a moment
            // to say what happened before giving up on them.
            match tokio::time::timeout(CANCEL_GRACE, &mut running).await {
                Ok(result) => result,
                Err(_) => return ToolResult::error(call, CANCELLED_RESULT),
            }
        }
    };
    // The one place a tool's error becomes the text the model reads.
    let output = result.unwrap_or_else(|err| err.into_output(&call.name));
    ToolResult {
        call_id: call.id.clone(),
        name: call.name.clone(),
        content: output.content,
        is_error: output.is_error,
    }
}
