//! `[channels.email]` in the gateway: the password resolved from the secret store here,
//! at the boundary, and the channel's router built over the hub.

use std::sync::Arc;
use std::time::Duration;

use hearth_channels::{ChannelService, EmailChannel, EmailSettings, EmailTls, ServiceSettings};
use hearth_runtime::config::{EmailConfig, EmailTlsMode};
use hearth_store::Store;

use super::HubTurnRunner;
use crate::{AppState, GatewayError};

/// The email channel's service, not yet running.
pub(super) fn email_service(
    state: &AppState,
    email: &EmailConfig,
    store: Arc<Store>,
) -> Result<Arc<ChannelService>, GatewayError> {
    let runtime = &state.runtime;
    let name = hearth_secrets::secret_reference(&email.password).unwrap_or(&email.password);
    let password = runtime
        .secrets()
        .get(name)
        .map_err(|err| GatewayError::Internal(format!("[channels.email] password: {err}")))?;
    let mut settings = EmailSettings::new(
        email.imap.clone(),
        email.smtp.clone(),
        email.username.clone(),
        password,
        email.address.clone(),
    );
    settings.tls = match email.tls {
        EmailTlsMode::Tls => EmailTls::Tls,
        EmailTlsMode::StartTls => EmailTls::StartTls,
        EmailTlsMode::None => EmailTls::None,
    };
    settings.require_authenticated = email.require_authenticated;
    settings.authserv_id = email.authserv_id.clone();
    settings.wait = Duration::from_secs(email.poll_timeout_secs);
    let channel =
        EmailChannel::new(settings).map_err(|err| GatewayError::Internal(err.to_string()))?;
    let mut service_settings = ServiceSettings::new(runtime.workspace.join("inbox"));
    service_settings.allowed_users = email.allowed_senders.clone();
    service_settings.max_file_bytes = email.max_file_bytes;
    Ok(ChannelService::new(
        Arc::new(channel),
        Arc::new(HubTurnRunner::new(state)),
        store,
        service_settings,
        state.sessions.closing(),
    ))
}
