//! Runs one step's tool calls: validates names and JSON arguments, runs independent calls
//! concurrently, and yields exactly one result per call, in call order, even on cancel.

use std::time::Duration;

use futures_util::stream::{FuturesOrdered, StreamExt};
use hearth_protocol::{ToolCall, ToolResult};
use hearth_tools::{ToolContext, ToolRegistry};

/// What a cancelled call is answered with.
pub const CANCELLED_RESULT: &str =
    "cancelled: the user interrupted the turn before this call finished; it may or may not have taken effect";

/// How long a tool may take to wind down after a cancel before it is abandoned.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Runs `calls` concurrently and hands each result to `on_result` in call order, as soon
/// as it and every call before it are done (so results can be written ahead one by one).
pub async fn run_calls(
    registry: &ToolRegistry,
    ctx: &ToolContext,
    calls: &[ToolCall],
    mut on_result: impl FnMut(&ToolCall, ToolResult),
) {
    let mut pending: FuturesOrdered<_> = calls
        .iter()
        .map(|call| async move { (call, run_one(registry, ctx, call).await) })
        .collect();
    while let Some((call, result)) = pending.next().await {
        on_result(call, result);
    }
}

async fn run_one(registry: &ToolRegistry, ctx: &ToolContext, call: &ToolCall) -> ToolResult {
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
    let output = tokio::select! {
        output = &mut running => output,
        () = ctx.cancel.cancelled() => {
            // Tools see the same token (exec kills its process group); give them a moment
            // to say what happened before giving up on them.
            match tokio::time::timeout(CANCEL_GRACE, &mut running).await {
                Ok(output) => output,
                Err(_) => return ToolResult::error(call, CANCELLED_RESULT),
            }
        }
    };
    ToolResult {
        call_id: call.id.clone(),
        name: call.name.clone(),
        content: output.content,
        is_error: output.is_error,
    }
}
