//! The context-window warning before a turn's first request, printed (the runtime
//! decides whether there is one).

use hearth_agent::Agent;
use hearth_models::ModelRef;
use hearth_runtime::config::Config;

/// One line on stderr when the model's Ollama window is too small for the request.
pub async fn warn_if_window_too_small(
    config: &Config,
    model: &ModelRef,
    agent: &Agent,
    session_id: &str,
    prompt: &str,
) {
    let warning =
        hearth_runtime::providers::window_warning(config, model, agent, session_id, prompt).await;
    if let Some(warning) = warning {
        crate::wiring::print_warning(&warning);
    }
}
