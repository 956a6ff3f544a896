//! The context-window warning before a turn's first request, printed (the runtime
//! decides whether there is one).

use hearth_agent::Agent;
use hearth_models::ollama::OllamaInfo;
use hearth_models::ModelRef;

/// One line on stderr when the model's Ollama window (`server`, when the model runs
/// on Ollama) is too small for the request.
pub async fn warn_if_window_too_small(
    server: Option<&OllamaInfo>,
    model: &ModelRef,
    agent: &Agent,
    session_id: &str,
    prompt: &str,
) {
    let Some(server) = server else {
        return;
    };
    let warning =
        hearth_runtime::providers::window_warning(server, model, agent, session_id, prompt).await;
    if let Some(warning) = warning {
        crate::wiring::print_warning(&warning);
    }
}
