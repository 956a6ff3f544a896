//! The prompt for one request: messages rendered by the model's own chat template
//! (llama.cpp's template application), trimmed from the oldest message when the
//! conversation does not fit the model's context.

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate};
use llama_cpp_2::token::LlamaToken;

use crate::engine::LoadedModel;
use crate::error::LocalError;
use crate::generate;
use crate::template::ChatMessage;

/// A rendered, tokenized prompt and how much room it leaves for the answer.
pub struct Prompt {
    pub tokens: Vec<LlamaToken>,
    /// Messages dropped from the start of the history to make it fit.
    pub dropped: usize,
    /// Tokens the answer may use.
    pub max_new_tokens: usize,
}

/// Renders `messages` with the model's template, ending with the assistant's opening.
pub fn render(loaded: &LoadedModel, messages: &[ChatMessage]) -> Result<String, LocalError> {
    let chat: Vec<LlamaChatMessage> = messages
        .iter()
        .map(|m| LlamaChatMessage::new(m.role.to_string(), m.content.replace('\0', "")))
        .collect::<Result<_, _>>()
        .map_err(|e| LocalError::Backend {
            cause: format!("a message could not be passed to llama.cpp: {e}"),
        })?;
    match loaded
        .model
        .apply_chat_template(&loaded.template, &chat, true)
    {
        Ok(text) => Ok(text),
        Err(first) => {
            // A GGUF template llama.cpp does not recognise: ChatML is what most small
            // instruction models speak.
            let chatml = LlamaChatTemplate::new("chatml").map_err(|e| LocalError::Backend {
                cause: e.to_string(),
            })?;
            tracing::warn!(error = %first, path = %loaded.path.display(), "chat template not supported by llama.cpp; using ChatML");
            loaded
                .model
                .apply_chat_template(&chatml, &chat, true)
                .map_err(|e| LocalError::Backend {
                    cause: format!("applying the chat template: {e}"),
                })
        }
    }
}

/// The prompt for `messages` (system first), dropping the oldest history messages until
/// it leaves `min(max_tokens, 256)` tokens for the answer within the trained context.
pub fn fit(
    loaded: &LoadedModel,
    model_id: &str,
    messages: &[ChatMessage],
    max_tokens: usize,
) -> Result<Prompt, LocalError> {
    let context = loaded.n_ctx_train as usize;
    let reserve = max_tokens.clamp(1, 256);
    let keep_first = usize::from(messages.first().is_some_and(|m| m.role == "system"));
    let mut dropped = 0;
    loop {
        let mut kept: Vec<ChatMessage> = messages[..keep_first].to_vec();
        kept.extend_from_slice(&messages[keep_first + dropped..]);
        let text = render(loaded, &kept)?;
        let tokens = generate::tokenize(loaded, &text);
        if tokens.len() + reserve <= context {
            return Ok(Prompt {
                max_new_tokens: max_tokens.min(context - tokens.len()),
                tokens,
                dropped,
            });
        }
        if messages.len() - keep_first - dropped <= 1 {
            return Err(LocalError::PromptTooLong {
                model: model_id.to_string(),
                prompt_tokens: tokens.len(),
                context,
                reserve,
            });
        }
        dropped += 1;
    }
}
