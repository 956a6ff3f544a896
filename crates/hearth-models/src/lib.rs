//! Model providers addressed as provider:model: OpenAI Chat Completions and Anthropic Messages, streaming, retries, usage.
