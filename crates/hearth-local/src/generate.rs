//! One generation: tokenize a rendered prompt, decode it, then sample greedily token by
//! token (optionally under a GBNF grammar), streaming UTF-8 text, honouring stop
//! sequences, end-of-generation tokens, a token budget, a decoding loop and cancellation.

use std::num::NonZeroU32;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::session::LlamaStateSeqFlags;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::vocab::LlamaVocab;

use crate::engine::{self, LoadedModel};
use crate::error::LocalError;
use crate::prefix_state::{self, PrefixCache};
use crate::repetition;
use crate::stops::StopScanner;

/// Prompt tokens decoded per llama.cpp batch.
const BATCH: usize = 512;
/// llama.cpp's default repetition penalty and window.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_WINDOW: usize = 64;

/// What to generate.
pub struct GenerateParams<'a> {
    pub model_id: &'a str,
    pub max_tokens: usize,
    pub grammar: Option<&'a str>,
    pub stops: &'a [String],
    pub threads: i32,
    /// Tokens a tool call may take (output opening with `<`, which the grammars keep
    /// for calls): a small model that loses its way inside an argument string would
    /// otherwise fill the whole context before the call can fail.
    pub max_call_tokens: Option<usize>,
    /// Start from the model's kept context, decoding only the prompt tokens after the
    /// longest prefix its KV cache already holds.
    pub reuse_kv_cache: bool,
    /// Restore the KV state after the prompt's stable prefix from this cache instead of
    /// decoding it, or save it there after decoding it.
    pub prefix_state: Option<PrefixPlan<'a>>,
}

/// The stable prefix of a prompt (its first `len` tokens) and where its state is kept.
#[derive(Debug, Clone, Copy)]
pub struct PrefixPlan<'a> {
    pub cache: &'a PrefixCache,
    pub len: usize,
}

/// Context sizes are rounded up to a multiple of this, so a prompt that grows by a
/// step's tool result usually still fits the kept context.
const CONTEXT_STEP: usize = 1024;

/// Room for the answer a new context starts with; an answer that needs more grows the
/// context (see [`resize_context`]). Sizing the context for the whole `max_tokens` (8,192
/// by default) made SmolLM2-135M's KV cache 180 MiB for a two-word answer.
const ANSWER_ROOM: usize = 512;

/// A context kept between generations, and the tokens its KV cache holds (in order,
/// from position 0, sequence 0).
pub(crate) struct KvSlot {
    ctx: LlamaContext<'static>,
    tokens: Vec<LlamaToken>,
    threads: i32,
}

// SAFETY: a llama_context is a heap object with no thread affinity; the slot is only
// ever used by the one thread that holds the model's `kv` mutex.
unsafe impl Send for KvSlot {}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn (an end-of-generation token).
    EndOfTurn,
    /// A stop sequence appeared; it is not part of the text.
    Stop,
    MaxTokens,
    /// The output ended in a loop (see [`repetition`]): greedy decoding would only have
    /// repeated it up to the budget.
    Repetition,
    Cancelled,
}

/// What came out, with counts and timings.
#[derive(Debug, Clone)]
pub struct Generated {
    pub text: String,
    pub finish: Finish,
    pub prompt_tokens: usize,
    /// Prompt tokens the kept KV cache already held (not decoded again).
    pub cached_prompt_tokens: usize,
    pub output_tokens: usize,
    pub prompt_ms: f64,
    pub generation_ms: f64,
}

/// Tokens of `text` as the model would see them: special tokens (`<|im_start|>`)
/// parsed, and a BOS added only when the vocab wants one and the text lacks it.
pub fn tokenize(loaded: &LoadedModel, text: &str) -> Vec<LlamaToken> {
    let vocab = loaded.model.vocab();
    let bos_text = vocab.token_to_piece(vocab.bos(), true, None);
    let has_bos = !bos_text.is_empty() && text.as_bytes().starts_with(&bos_text);
    vocab.tokenize(text.as_bytes(), !has_bos, true)
}

/// Generates after `prompt`, calling `on_text` with each stretch of text that is safe to
/// show (valid UTF-8, not part of a possible stop sequence). `cancelled` is polled
/// between tokens.
pub fn generate(
    loaded: &'static LoadedModel,
    prompt: &[LlamaToken],
    params: &GenerateParams<'_>,
    cancelled: &dyn Fn() -> bool,
    on_text: &mut dyn FnMut(&str),
) -> Result<Generated, LocalError> {
    let fail = |what: &'static str| {
        let model = params.model_id.to_string();
        move |cause: String| LocalError::Inference { model, what, cause }
    };
    let needed = prompt.len() + params.max_tokens.min(ANSWER_ROOM);
    // Another generation on this model holds the kept context: this one goes without.
    let mut kept = if params.reuse_kv_cache {
        loaded.kv.try_lock().ok()
    } else {
        None
    };
    // `new_context` adds 16 tokens and llama.cpp pads to 256: ending the sum on a step
    // keeps those 16 from costing 240 more KV cells (5.6 MiB for SmolLM2-135M).
    let size = (needed + 16).div_ceil(CONTEXT_STEP) * CONTEXT_STEP - 16;
    let slot = kept
        .as_mut()
        .and_then(|slot| slot.take())
        .filter(|slot| slot.threads == params.threads);
    let (mut ctx, mut held) = match slot {
        Some(slot) if slot.ctx.n_ctx() as usize >= needed + 16 => (slot.ctx, slot.tokens),
        // The prompt outgrew the kept context: a bigger one takes over its KV cells, so
        // what it held is not decoded again.
        Some(slot) => match resize_context(loaded, &slot.ctx, size + 16, params)? {
            Some(bigger) => (bigger, slot.tokens),
            None => (new_context(loaded, size, params)?, Vec::new()),
        },
        None => (new_context(loaded, size, params)?, Vec::new()),
    };
    // At least the last prompt token is decoded again: its logits start the answer.
    let mut common = held
        .iter()
        .zip(prompt)
        .take_while(|(a, b)| a == b)
        .count()
        .min(prompt.len().saturating_sub(1));
    if common < held.len() {
        let removed = ctx.clear_kv_cache_seq(Some(0), Some(common as u32), None);
        if !matches!(removed, Ok(true)) {
            ctx.clear_kv_cache();
            common = 0;
        }
    }
    held.truncate(common);
    // Prompt tokens not decoded here: kept in the context, or restored from a file.
    let mut cached = common;
    let started = Instant::now();
    if let Some(plan) = params.prefix_state {
        if plan.len > common && plan.len < prompt.len() {
            let restored =
                restore_or_save_prefix(loaded, &mut ctx, &prompt[..plan.len], common, plan)
                    .map_err(fail("decoding the prompt"))?;
            if restored {
                cached = plan.len;
            }
            common = plan.len;
            held.clear();
            held.extend_from_slice(&prompt[..common]);
        }
    }
    let mut grammar = match params.grammar {
        Some(text) => Some(
            LlamaSampler::grammar(&loaded.model, text, "root")
                .map_err(|e| fail("building the tool-call grammar")(e.to_string()))?,
        ),
        None => None,
    };
    let mut logits_index =
        decode_prompt_from(&mut ctx, prompt, common).map_err(fail("decoding the prompt"))?;
    held.extend_from_slice(&prompt[common..]);
    let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;

    let vocab = loaded.model.vocab();
    let mut scanner = StopScanner::new(params.stops);
    let mut utf8 = Utf8Stream::default();
    let mut batch = LlamaBatch::new(1, 1);
    let mut position = prompt.len() as i32;
    let mut output_tokens = 0;
    let mut recent: Vec<LlamaToken> = Vec::new();
    let mut finish = Finish::MaxTokens;
    let mut opens_with_call = None;
    let started = Instant::now();
    while output_tokens < params.max_tokens {
        if opens_with_call == Some(true)
            && params
                .max_call_tokens
                .is_some_and(|cap| output_tokens >= cap)
        {
            break;
        }
        if cancelled() {
            finish = Finish::Cancelled;
            break;
        }
        let window = recent.len().saturating_sub(REPEAT_WINDOW);
        let token = pick(
            &ctx,
            logits_index,
            grammar.as_mut(),
            &recent[window..],
            &vocab,
        );
        // A control token (`<|im_start|>`) mid-answer is a new turn: the answer is over.
        if vocab.is_eog(token) || vocab.is_control(token) {
            finish = Finish::EndOfTurn;
            break;
        }
        if let Some(grammar) = grammar.as_mut() {
            grammar.accept(token);
        }
        output_tokens += 1;
        let piece = vocab.token_to_piece(token, false, None);
        if opens_with_call.is_none() {
            opens_with_call = piece
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .map(|b| *b == b'<');
        }
        // A string's closing quote recurs in every argument: penalising it keeps a
        // small model from ever closing a string. Other punctuation is penalised, so a
        // model cannot loop on `}}}}` inside a string either.
        if !piece.contains(&b'"') {
            recent.push(token);
        }
        if let Some(text) = utf8.push(&piece) {
            if scanner.push(&text, on_text) {
                finish = Finish::Stop;
                break;
            }
        }
        if position as usize + 1 >= ctx.n_ctx() as usize {
            let doubled = (held.len() * 2).min(loaded.n_ctx_train as usize);
            match resize_context(loaded, &ctx, doubled, params)? {
                Some(bigger) => ctx = bigger,
                None => break,
            }
        }
        batch.clear();
        batch
            .add(token, position, &[0], true)
            .map_err(|e| fail("batching a token")(e.to_string()))?;
        position += 1;
        ctx.decode(&mut batch)
            .map_err(|e| fail("decoding a token")(e.to_string()))?;
        held.push(token);
        logits_index = 0;
        if let Some(period) = repetition::loop_period(&held[prompt.len()..]) {
            tracing::debug!(model = %params.model_id, period, output_tokens, "output stopped: it repeats itself");
            finish = Finish::Repetition;
            break;
        }
    }
    if finish != Finish::Stop {
        let tail = utf8.finish();
        if !tail.is_empty() && scanner.push(&tail, on_text) {
            finish = Finish::Stop;
        }
        if finish != Finish::Stop {
            scanner.flush(on_text);
        }
    }
    if let Some(kept) = kept.as_mut() {
        **kept = Some(KvSlot {
            ctx,
            tokens: held,
            threads: params.threads,
        });
    }
    Ok(Generated {
        text: scanner.into_text(),
        finish,
        prompt_tokens: prompt.len(),
        cached_prompt_tokens: cached,
        output_tokens,
        prompt_ms,
        generation_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// A context of `size` tokens (at most the trained length) holding what `ctx` holds:
/// its KV cells copied as they are, so an answer goes on exactly as it would have in a
/// bigger context and a longer prompt decodes only its new tokens. `None` when `ctx` is
/// already that big (an answer ends there) or the copy fails.
fn resize_context(
    loaded: &'static LoadedModel,
    ctx: &LlamaContext<'static>,
    size: usize,
    params: &GenerateParams<'_>,
) -> Result<Option<LlamaContext<'static>>, LocalError> {
    let size = size.min(loaded.n_ctx_train as usize);
    if size <= ctx.n_ctx() as usize {
        return Ok(None);
    }
    let flags = LlamaStateSeqFlags::empty();
    let bytes = ctx.state_seq_get_size_ext(0, flags);
    let mut state = vec![0u8; bytes];
    // SAFETY: `state` has the size llama.cpp just reported for this sequence.
    let written = unsafe { ctx.state_seq_get_data_ext(state.as_mut_ptr(), 0, flags) };
    if written != bytes || bytes == 0 {
        return Ok(None);
    }
    let mut bigger = new_context(loaded, size.saturating_sub(16), params)?;
    // SAFETY: the state was read from a context of the same model and build just now.
    if !unsafe { bigger.state_seq_set_data_ext(&state, 0, flags) } {
        return Ok(None);
    }
    tracing::debug!(model = %params.model_id, tokens = size, "context grown for a long answer");
    Ok(Some(bigger))
}

/// Brings `ctx` (holding `prefix[..common]`) to hold the whole `prefix`: restored from
/// the saved state when there is a valid one (returns `true`), else decoded and then
/// saved (`false`).
fn restore_or_save_prefix(
    loaded: &LoadedModel,
    ctx: &mut LlamaContext<'_>,
    prefix: &[LlamaToken],
    common: usize,
    plan: PrefixPlan<'_>,
) -> Result<bool, String> {
    let Some(identity) = prefix_state::model_identity(&loaded.path) else {
        decode_prompt_from(ctx, prefix, common)?;
        return Ok(false);
    };
    if common == 0 && prefix_state::restore(plan.cache, &identity, ctx, prefix) {
        return Ok(true);
    }
    decode_prompt_from(ctx, prefix, common)?;
    prefix_state::save(plan.cache, &identity, ctx, prefix);
    Ok(false)
}

/// A context just big enough for `needed` tokens (at most the trained length).
pub fn new_context<'m>(
    loaded: &'m LoadedModel,
    needed: usize,
    params: &GenerateParams<'_>,
) -> Result<LlamaContext<'m>, LocalError> {
    let n_ctx = (needed as u32 + 16).min(loaded.n_ctx_train.max(1));
    let ctx_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(BATCH as u32)
        .with_n_ubatch(BATCH as u32)
        .with_n_threads(params.threads)
        .with_n_threads_batch(params.threads);
    let backend = engine::backend()?;
    loaded
        .model
        .new_context(backend, ctx_params)
        .map_err(|e| LocalError::inference(params.model_id, "creating a context", e))
}

/// Decodes `prompt` in batches; returns the batch index holding the last token's logits.
pub fn decode_prompt(ctx: &mut LlamaContext<'_>, prompt: &[LlamaToken]) -> Result<i32, String> {
    decode_prompt_from(ctx, prompt, 0)
}

/// Decodes `prompt[start..]` at its positions, the context holding `prompt[..start]`.
fn decode_prompt_from(
    ctx: &mut LlamaContext<'_>,
    prompt: &[LlamaToken],
    start: usize,
) -> Result<i32, String> {
    if start >= prompt.len() {
        return Err("the prompt is empty".into());
    }
    let mut batch = LlamaBatch::new(BATCH, 1);
    let mut last_index = 0;
    for (chunk_index, chunk) in prompt[start..].chunks(BATCH).enumerate() {
        batch.clear();
        let base = start + chunk_index * BATCH;
        for (i, token) in chunk.iter().enumerate() {
            let is_last = base + i + 1 == prompt.len();
            batch
                .add(*token, (base + i) as i32, &[0], is_last)
                .map_err(|e| e.to_string())?;
            if is_last {
                last_index = i as i32;
            }
        }
        ctx.decode(&mut batch).map_err(|e| e.to_string())?;
    }
    Ok(last_index)
}

/// Greedy choice, with llama.cpp's default repetition penalty (1.1 over the last 64
/// tokens but JSON punctuation: a positive logit is divided by it, a negative one
/// multiplied) so a small model does not loop on a line forever. Under a grammar, the best token is checked first and
/// the whole vocabulary is filtered only when the grammar rejects it (as llama.cpp's own
/// sampler does), which keeps constrained decoding nearly as fast as free decoding.
pub fn pick(
    ctx: &LlamaContext<'_>,
    index: i32,
    grammar: Option<&mut LlamaSampler>,
    recent: &[LlamaToken],
    vocab: &LlamaVocab<'_>,
) -> LlamaToken {
    let raw = ctx.get_logits_ith(index);
    let penalised;
    let logits = if recent.is_empty() {
        raw
    } else {
        let mut copy = raw.to_vec();
        let mut seen = std::collections::HashSet::new();
        for token in recent {
            let Some(logit) = copy.get_mut(token.0 as usize) else {
                continue;
            };
            if seen.insert(token.0) {
                *logit = if *logit > 0.0 {
                    *logit / REPEAT_PENALTY
                } else {
                    *logit * REPEAT_PENALTY
                };
            }
        }
        penalised = copy;
        &penalised[..]
    };
    let best = argmax(logits);
    let Some(grammar) = grammar else {
        return LlamaToken(best as i32);
    };
    let mut single = LlamaTokenDataArray::new(
        vec![LlamaTokenData::new(
            LlamaToken(best as i32),
            logits[best],
            0.0,
        )],
        false,
    );
    // A grammar sees a control token (`<|im_start|>`) as its literal text, which a JSON
    // string accepts; it would end the output mid-call, so under a grammar only
    // end-of-generation tokens among the special ones may be chosen.
    let usable = |id: LlamaToken| vocab.is_eog(id) || !vocab.is_control(id);
    let best_token = LlamaToken(best as i32);
    grammar.apply(&mut single);
    if usable(best_token) && single.data.first().is_some_and(|d| d.logit().is_finite()) {
        return best_token;
    }
    // The model wants to end (an end-of-turn or control token, or a closing tag) where
    // the grammar does not allow it yet, which under these grammars means inside an
    // argument string: end the string, so the call can be finished.
    let wants_end = vocab.is_eog(best_token)
        || vocab.is_control(best_token)
        || vocab
            .token_to_piece(best_token, false, None)
            .starts_with(b"<");
    let mut all = LlamaTokenDataArray::from_iter(
        logits
            .iter()
            .enumerate()
            .map(|(id, logit)| LlamaTokenData::new(LlamaToken(id as i32), *logit, 0.0))
            .filter(|d| usable(d.id())),
        false,
    );
    grammar.apply(&mut all);
    let best_of = |keep: &dyn Fn(&LlamaTokenData) -> bool| {
        all.data
            .iter()
            .filter(|d| d.logit().is_finite() && keep(d))
            .max_by(|a, b| a.logit().total_cmp(&b.logit()))
            .map(|d| d.id())
    };
    let closing = || {
        best_of(&|d| {
            vocab
                .token_to_piece(d.id(), false, None)
                .first()
                .is_some_and(|b| *b == b'"')
        })
    };
    let chosen = if wants_end { closing() } else { None };
    chosen.or_else(|| best_of(&|_| true)).unwrap_or(best_token)
}

fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Joins token bytes into valid UTF-8, holding back an incomplete trailing character.
#[derive(Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => {
                let text = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                return Some(text);
            }
        };
        if valid == 0 {
            return None;
        }
        let rest = self.pending.split_off(valid);
        String::from_utf8(std::mem::replace(&mut self.pending, rest)).ok()
    }

    fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::Utf8Stream;

    #[test]
    fn utf8_stream_holds_back_split_characters() {
        let mut stream = Utf8Stream::default();
        let snowman = "☃".as_bytes();
        assert_eq!(stream.push(&snowman[..1]), None);
        assert_eq!(stream.push(&snowman[1..]).as_deref(), Some("☃"));
        assert_eq!(stream.push(b"ok").as_deref(), Some("ok"));
        assert_eq!(stream.push(&[0xff, b'a']).as_deref(), Some("\u{fffd}a"));
        assert_eq!(stream.push(&snowman[..2]), None);
        assert_eq!(stream.finish(), "\u{fffd}");
    }
}
