//! A scripted model server for tests and benchmarks: it speaks OpenAI Chat Completions
//! and Anthropic Messages over real HTTP on 127.0.0.1, streamed (SSE) or not, replays
//! a [`Script`] one step per request and records every request it was sent.
//!
//! It is not a mock inside the agent loop: point the real `hearth` binary (or any real
//! client) at [`ScriptedServer::base_url`] (Anthropic) or
//! [`ScriptedServer::openai_base_url`] (OpenAI) and assert on
//! [`ScriptedServer::requests`] afterwards.
//!
//! Architecture invariant: this crate never prints and never panics on what it is sent;
//! everything odd a client does is answered with a provider-shaped error. The one
//! exception is deliberate: a server dropped while holding tool-call history
//! violations it recorded (see [`ScriptedServer::violations`]) panics, failing the
//! test that owned it.
//!
//! [`TelegramServer`] is a scripted Telegram Bot API server (see `telegram.rs`) for the
//! channel tests: no Telegram server can run here.
//!
//! [`MailServers`] runs a real Dovecot (IMAP, LMTP) and an aiosmtpd SMTP relay on
//! loopback for the email channel's tests (see `mail_servers.rs`).
//!
//! [`agentdojo`] holds the two scripted models of the prompt-injection suite (an honest
//! one and an obedient victim over AgentDojo's tasks), served through a [`Responder`].
//!
//! [`snapshot::assert_matches`] is the one snapshot helper of the workspace's tests
//! (`HEARTH_UPDATE_SNAPSHOTS=1` rewrites the files), and [`model_absent`] the one way a
//! test says its model file is missing (a failure when `CI` is set).
//!
//! # Serving
//!
//! - Paths: `POST /v1/chat/completions` and `POST /chat/completions` answer in OpenAI's
//!   format, `POST /v1/messages` in Anthropic's. Any other route gets a 404 (not recorded).
//! - Each request is recorded (path, lowercase headers, JSON body, wire) and consumes
//!   the next step. The body's `"stream": true` selects an SSE answer.
//! - A body that is not JSON is recorded (as a JSON string) and answered 400 without
//!   consuming a step. After the last step every request gets a 400 whose message is
//!   `scripted server: script exhausted after N steps`.
//! - `"model"` is echoed back (default `scripted-model`); response ids are
//!   `chatcmpl-scripted-N` / `msg_scripted_N` for the N-th step.
//! - Usage: a step's `usage` is put on the wire as given (see [`ScriptUsage`]);
//!   without it the server reports about one token per four bytes of request body
//!   (input) and of text plus arguments (output), at least 1 each.
//! - Tool-call `arguments` are raw text and may be invalid JSON on purpose. OpenAI
//!   carries them as a string either way; streamed Anthropic answers send them as
//!   `input_json_delta` fragments as they are; non-streamed Anthropic answers parse
//!   them for `input` and fall back to `{}` when they are not valid JSON.
//!
//! # Script JSON
//!
//! Steps are tagged by `"type"`; unknown fields are rejected. Required fields:
//! `text` for `text` and `drop_mid_stream`; `calls` for `tool_calls`; `status` and
//! `message` for `http_error`. All others are optional (usage, delays, retry-after,
//! the text before tool calls, a hang's text). This example is
//! `fixtures/example-script.json`:
//!
//! ```json
#![doc = include_str!("../fixtures/example-script.json")]
//! ```
//!
//! - `delay_ms`: wait before sending anything (a model slow to start).
//! - `chunk_delay_ms`: streaming only, wait before each event after the first (a model
//!   that stays mid-answer; e.g. 10 words at 200 ms is two seconds of streaming).
//! - `drop_mid_stream`: streams `text` as the start of an answer, then aborts the
//!   connection with no `[DONE]` / `message_stop` and no terminating chunk. A
//!   non-streaming request gets a 200 with headers and then the same abort.
//! - `hang`: never answers (until shutdown, which answers 503). With `text` and a
//!   streaming request, the start of the answer is streamed and then the stream stalls.
//!
//! - `text_flood`, `unterminated_line`, `keep_alive_only`: misbehaving servers (a
//!   runaway answer of `bytes` letters, one endless SSE line, SSE comments every
//!   `interval_ms` and never any data); their bodies are generated as they are sent.
//!
//! - `tool_calls_cut_off`: tool calls whose answer ends at the output token limit
//!   (`finish_reason: "length"` / `stop_reason: "max_tokens"`), arguments as given.
//! - `stream_error`: a stream that begins and then reports `message` as the server's
//!   [`Personality`] does. Start a server with [`ScriptedServer::start_as`] to imitate
//!   LM Studio, DeepSeek, OpenRouter, llama.cpp or Ollama (each documented there).
//!
//! - `provider_stop`: a complete answer the provider stopped (`stop`: `refusal`,
//!   `context_window_exceeded` or `content_filter`, see [`StopKind`]).
//! - Under [`Personality::Ollama`] the server also answers Ollama's native
//!   `GET /api/version`, `POST /api/show` and `GET /api/ps` (see `ollama_native`).
//!
//! In Rust, build steps with the constructors: `Step::text("hi").with_delay_ms(500)`,
//! `Step::tool_call("call_1", "read_file", r#"{"path":"a"}"#)`,
//! `Step::http_error(429, "slow down").with_retry_after(1)`.

pub mod agentdojo;
mod answer;
mod anthropic;
mod flood;
mod handler;
mod history_check;
mod mail_servers;
mod model_absent;
mod ollama_native;
mod openai;
mod personality;
mod provider_stop;
mod script;
mod server;
pub mod snapshot;
mod stream;
pub mod synapse;
mod telegram;

pub use mail_servers::{
    mail_servers_absent, MailServers, MAIL_AUTHSERV_ID, MAIL_DOMAIN, MAIL_PASSWORD,
};
pub use model_absent::model_absent;
pub use ollama_native::{
    OLLAMA_MODEL_CONTEXT_LENGTH, OLLAMA_MODEL_TEMPERATURE, OLLAMA_MODEL_TOP_P, OLLAMA_VERSION,
};
pub use personality::{Personality, LM_STUDIO_NULL_CONTENT_ERROR, OPENROUTER_UPSTREAM_PROVIDER};
pub use provider_stop::StopKind;
pub use script::{Script, ScriptError, ScriptUsage, ScriptedCall, Step};
pub use server::{
    RecordedRequest, RequestObserver, Responder, ScriptedServer, ServerOptions, Wire,
};
pub use telegram::{TelegramRequest, TelegramServer};
