//! Compaction: when the next request would pass `compact_at` of the model's window,
//! the older part of the history is summarised by a model (the session's, or
//! `compaction_model`) into one message that stands for it in later requests. The
//! stable prefix (system prompt and tool schemas) is untouched; the full transcript
//! stays in the store and the summary is stored as a checkpoint; the compacted
//! messages are handed to long-term memory so they stay findable.
//!
//! A summary call that fails is retried; if it still fails the turn stops with an
//! error naming compaction instead of sending a request the window cannot hold.

use std::fmt;
use std::sync::Arc;

use hearth_models::{ModelError, ModelRef, Provider};
use hearth_protocol::{Message, ModelRequest, Usage};
use hearth_store::{Checkpoint, NewCheckpoint, StoreError};
use tokio_util::sync::CancellationToken;

use crate::history::{cut_point, History};
use crate::turn::{Agent, AgentError};

/// The summariser's instructions (its system prompt), snapshot-tested.
pub const COMPACT_PROMPT: &str = include_str!("../prompts/compact.md");

/// The most characters of one message the summariser is shown (head and tail kept).
const MESSAGE_CHARS: usize = 4_000;

/// The most output tokens a summary may take.
const SUMMARY_MAX_TOKENS: u32 = 2_048;

/// When and how to compact (`[context]` in config.toml).
#[derive(Clone)]
pub struct CompactionSettings {
    /// Compact when the next request's estimated input passes this share of the window
    /// (`compact_at`, default 0.8); 0 or less turns automatic compaction off.
    pub compact_at: f64,
    /// User turns kept verbatim after a compaction (`keep_recent_turns`, default 2).
    pub keep_recent_turns: usize,
    /// The model that writes summaries (`compaction_model`); `None` is the session's.
    pub model: Option<CompactionModel>,
    /// Summary calls made before compaction gives up (1 + retries; default 3).
    pub attempts: u32,
}

impl Default for CompactionSettings {
    fn default() -> Self {
        CompactionSettings {
            compact_at: 0.8,
            keep_recent_turns: 2,
            model: None,
            attempts: 3,
        }
    }
}

impl fmt::Debug for CompactionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactionSettings")
            .field("compact_at", &self.compact_at)
            .field("keep_recent_turns", &self.keep_recent_turns)
            .field("model", &self.model.as_ref().map(|m| m.model.to_string()))
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// A model other than the session's that writes summaries.
#[derive(Clone)]
pub struct CompactionModel {
    pub provider: Arc<dyn Provider>,
    pub model: ModelRef,
}

/// Why a compaction failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    #[error(
        "Stopped before a model call: the history needed compacting (about {tokens} tokens \
         of a {window}-token window, [context] compact_at = {compact_at}) and the summary \
         call to {model} failed {attempts} times: {source}. The oversize request was not \
         sent. Check that {model} is reachable, set [context] compaction_model to another \
         model, or start a new session."
    )]
    SummaryFailed {
        model: String,
        tokens: u64,
        window: u64,
        compact_at: f64,
        attempts: u32,
        #[source]
        source: ModelError,
    },
    #[error("compaction: {0}")]
    Store(#[from] StoreError),
}

/// Why a compaction ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Trigger {
    /// The next request's estimate passed the threshold.
    Threshold,
    /// `/compact` or the API asked.
    Forced,
}

/// Token estimates for requests, corrected by what the provider reported last.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenEstimate {
    /// Reported input tokens per estimated token of the last call (1 before any).
    pub correction: f64,
}

impl Default for TokenEstimate {
    fn default() -> Self {
        TokenEstimate { correction: 1.0 }
    }
}

impl TokenEstimate {
    /// Characters of the request's system prompt, tools and messages, 4 to a token.
    pub fn raw(request: &ModelRequest) -> u64 {
        let chars = request.system.len()
            + serde_json::to_string(&request.tools).map_or(0, |json| json.len())
            + serde_json::to_string(&request.messages).map_or(0, |json| json.len());
        hearth_models::profile::estimate_tokens(chars)
    }

    pub fn tokens(&self, request: &ModelRequest) -> u64 {
        (Self::raw(request) as f64 * self.correction).ceil() as u64
    }

    pub fn of_messages(&self, messages: &[(i64, Message)]) -> u64 {
        let chars: usize = messages
            .iter()
            .map(|(_, message)| {
                serde_json::to_string(&message.for_model()).map_or(0, |json| json.len())
            })
            .sum();
        (hearth_models::profile::estimate_tokens(chars) as f64 * self.correction).ceil() as u64
    }

    /// Learns from a call: `reported` input tokens for a request estimated at `raw`.
    pub fn correct(&mut self, raw: u64, reported: u64) {
        if raw > 0 && reported > 0 {
            self.correction = (reported as f64 / raw as f64).clamp(0.25, 4.0);
        }
    }
}

impl Agent {
    /// Compacts `session_id` now (`/compact`, the API): summarises everything before
    /// the latest `keep_recent_turns` turns (or before the latest step). `Ok(None)` when
    /// there is nothing old enough to compact.
    pub async fn compact(
        &self,
        session_id: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Checkpoint>, AgentError> {
        self.store.repair(session_id).await?;
        let mut history = History::from(self.store.resume_context(session_id).await?);
        self.compact_history(
            session_id,
            &mut history,
            Trigger::Forced,
            TokenEstimate::default(),
            cancel,
        )
        .await
    }

    /// The input tokens past which the next request is compacted first, if any.
    pub(crate) fn compaction_threshold(&self) -> Option<u64> {
        let share = self.settings.compaction.compact_at;
        (share > 0.0).then_some((self.settings.profile.context_window as f64 * share) as u64)
    }

    /// Summarises the older part of `history`, stores the checkpoint, hands the
    /// compacted messages to memory and replaces them in `history` by the summary.
    /// A failed summary is [`CompactionError::SummaryFailed`], which front ends show as
    /// their `AgentEvent::Error` (as every error a turn returns).
    pub(crate) async fn compact_history(
        &self,
        session_id: &str,
        history: &mut History,
        trigger: Trigger,
        estimate: TokenEstimate,
        cancel: &CancellationToken,
    ) -> Result<Option<Checkpoint>, AgentError> {
        let tokens_before = estimate.tokens(&self.request(history));
        let threshold = self
            .compaction_threshold()
            .unwrap_or(self.settings.profile.context_window);
        let cut = cut_point(
            &history.messages,
            self.settings.compaction.keep_recent_turns,
            threshold / 2,
            |kept| estimate.of_messages(kept),
        );
        let Some(cut) = cut else {
            return Ok(None);
        };
        let (model, provider) = match &self.settings.compaction.model {
            Some(other) => (other.model.clone(), Arc::clone(&other.provider)),
            None => (self.model.clone(), Arc::clone(&self.provider)),
        };
        let request = summary_request(
            &model,
            history.summary.as_deref(),
            &history.messages[..cut],
            self.settings.profile.context_window,
        );
        let summary = match self.summarise(&provider, &request, cancel).await {
            Ok((summary, usage)) => {
                // The summary call is paid for like any other: it goes to the ledger
                // (at the session model's prices).
                let cost = self.settings.profile.cost_usd(&usage);
                self.store
                    .record_call(session_id, &model.to_string(), &usage, cost)
                    .await
                    .map_err(CompactionError::from)?;
                summary
            }
            Err(ModelError::Cancelled) => return Err(ModelError::Cancelled.into()),
            Err(source) => {
                return Err(CompactionError::SummaryFailed {
                    model: model.to_string(),
                    tokens: tokens_before,
                    window: self.settings.profile.context_window,
                    compact_at: self.settings.compaction.compact_at,
                    attempts: self.settings.compaction.attempts.max(1),
                    source,
                }
                .into());
            }
        };
        let up_to_seq = history.messages[cut - 1].0;
        let compacted: Vec<Message> = history.messages[..cut]
            .iter()
            .map(|(_, message)| message.clone())
            .collect();
        let mut after = history.clone();
        after.compact(cut, summary.clone());
        let tokens_after = estimate.tokens(&self.request(&after));
        let checkpoint = self
            .store
            .add_checkpoint(
                session_id,
                NewCheckpoint {
                    up_to_seq,
                    summary: summary.clone(),
                    model: model.to_string(),
                    tokens_before,
                    tokens_after,
                },
            )
            .await
            .map_err(CompactionError::from)?;
        *history = after;
        tracing::info!(
            session_id,
            ?trigger,
            up_to_seq,
            tokens_before,
            tokens_after,
            "compacted the history"
        );
        self.ingest_compacted(session_id, compacted, summary).await;
        Ok(Some(checkpoint))
    }

    /// One summary, retried up to the configured attempts (the provider's own retries
    /// of 429/5xx happen inside each attempt). An empty summary counts as a failure.
    async fn summarise(
        &self,
        provider: &Arc<dyn Provider>,
        request: &ModelRequest,
        cancel: &CancellationToken,
    ) -> Result<(String, Usage), ModelError> {
        let attempts = self.settings.compaction.attempts.max(1);
        let mut last_error = None;
        for attempt in 1..=attempts {
            match provider.complete(request, &mut |_| {}, cancel).await {
                Ok(response) if !response.text.trim().is_empty() => {
                    return Ok((self.redactor.redact(response.text.trim()), response.usage));
                }
                Ok(_) => {
                    last_error = Some(ModelError::ServerReported {
                        target: request.model.clone(),
                        message: "the summary came back empty".to_string(),
                        retryable: true,
                    })
                }
                Err(ModelError::Cancelled) => return Err(ModelError::Cancelled),
                Err(error) => last_error = Some(error),
            }
            tracing::warn!(attempt, attempts, "compaction summary call failed");
        }
        Err(last_error.unwrap_or(ModelError::Cancelled))
    }

    /// Hands the compacted messages and their summary to long-term memory on a
    /// blocking thread (memory never fails the turn).
    async fn ingest_compacted(&self, session_id: &str, compacted: Vec<Message>, summary: String) {
        let Some(memory) = self.memory.as_ref().map(Arc::clone) else {
            return;
        };
        let session_id = session_id.to_string();
        let ingest = move || memory.capture_compacted(&session_id, &compacted, &summary);
        if let Err(error) = tokio::task::spawn_blocking(ingest).await {
            tracing::warn!(%error, "memory ingest of compacted messages failed");
        }
    }
}

/// The summariser's request: [`COMPACT_PROMPT`] as the system prompt and the old part
/// (after the previous summary, if any) as one user message of plain text; no tools.
/// The transcript is cut to fit about half of `window` (the newest messages kept).
pub(crate) fn summary_request(
    model: &ModelRef,
    previous_summary: Option<&str>,
    old: &[(i64, Message)],
    window: u64,
) -> ModelRequest {
    let budget_chars = usize::try_from(window.saturating_mul(2)).unwrap_or(usize::MAX);
    let mut parts: Vec<String> = Vec::new();
    let mut used = 0;
    for (_, message) in old.iter().rev() {
        let part = render_message(message);
        used += part.len();
        if used > budget_chars && !parts.is_empty() {
            parts.push("[older messages left out]".to_string());
            break;
        }
        parts.push(part);
    }
    if let Some(summary) = previous_summary {
        parts.push(format!(
            "## Summary of what came before\n{}",
            summary.trim()
        ));
    }
    parts.reverse();
    ModelRequest {
        model: model.model.clone(),
        system: COMPACT_PROMPT.to_string(),
        messages: vec![Message::user(format!(
            "Summarise this conversation:\n\n{}",
            parts.join("\n\n")
        ))],
        tools: Vec::new(),
        max_tokens: SUMMARY_MAX_TOKENS,
        stream: false,
    }
}

/// One message as the summariser reads it.
fn render_message(message: &Message) -> String {
    match message {
        Message::User { text, .. } => format!("## User\n{}", shorten(text)),
        Message::Assistant {
            text, tool_calls, ..
        } => {
            let mut out = format!("## Assistant\n{}", shorten(text));
            for call in tool_calls {
                out.push_str(&format!(
                    "\n[called {} with {}]",
                    call.name,
                    shorten(&call.arguments)
                ));
            }
            out
        }
        Message::Tool(result) => format!(
            "## Tool result ({}{})\n{}",
            result.name,
            if result.is_error { ", error" } else { "" },
            shorten(&result.content)
        ),
    }
}

/// `text` cut to [`MESSAGE_CHARS`]: its head and tail, with a mark between.
fn shorten(text: &str) -> String {
    let count = text.chars().count();
    if count <= MESSAGE_CHARS {
        return text.to_string();
    }
    let half = MESSAGE_CHARS / 2;
    let head: String = text.chars().take(half).collect();
    let tail: String = text.chars().skip(count - half).collect();
    format!(
        "{head}\n[… {} characters left out …]\n{tail}",
        count - 2 * half
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The summariser's prompt and the summary message are part of the product: a
    /// change shows up as a snapshot diff (`HEARTH_UPDATE_SNAPSHOTS=1` accepts it).
    #[test]
    fn compaction_prompts_snapshot() {
        let model = ModelRef::parse("openai:tiny").unwrap();
        let old = vec![
            (1, Message::user("My cat is called Miso.")),
            (2, Message::assistant("Noted: Miso.", vec![])),
        ];
        let request = summary_request(&model, Some("Earlier: the user likes tea."), &old, 2000);
        let Message::User { text, .. } = &request.messages[0] else {
            panic!("the summary request is one user message");
        };
        let summary = crate::history::summary_message("- The user's cat is Miso.");
        let Message::User { text: summary, .. } = summary else {
            panic!("the summary is a user message");
        };
        let rendered = format!(
            "=== system ===\n{}\n=== user ===\n{text}\n=== summary message ===\n{summary}\n",
            request.system
        );
        hearth_testkit::snapshot::assert_matches(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/compaction_prompts.txt"),
            &rendered,
        );
        assert!(request.tools.is_empty());
    }

    #[test]
    fn long_messages_keep_their_head_and_tail() {
        let text = format!("{}{}", "a".repeat(5000), "z".repeat(5000));
        let short = shorten(&text);
        assert!(short.starts_with("aaa") && short.ends_with("zzz"));
        assert!(short.contains("6000 characters left out"));
    }
}
