//! A scripted model server speaking OpenAI Chat Completions and Anthropic Messages over real HTTP, recording every request.
