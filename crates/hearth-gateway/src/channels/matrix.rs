//! `[channels.matrix]` in the gateway: the password or access token resolved from the
//! secret store here, at the boundary, and the channel's router built over the hub.

use std::sync::Arc;
use std::time::Duration;

use hearth_channels::{
    ChannelService, MatrixChannel, MatrixCredentials, MatrixSettings, ServiceSettings,
};
use hearth_runtime::config::{MatrixConfig, MatrixLogin};
use hearth_store::Store;

use super::HubTurnRunner;
use crate::{AppState, GatewayError};

/// The Matrix channel's service, not yet running.
pub(super) fn matrix_service(
    state: &AppState,
    matrix: &MatrixConfig,
    store: Arc<Store>,
) -> Result<Arc<ChannelService>, GatewayError> {
    let runtime = &state.runtime;
    let resolve = |reference: &str, key: &str| {
        let name = hearth_secrets::secret_reference(reference).unwrap_or(reference);
        runtime
            .secrets()
            .get(name)
            .map_err(|err| GatewayError::Internal(format!("[channels.matrix] {key}: {err}")))
    };
    let credentials = match &matrix.login {
        MatrixLogin::Password(reference) => {
            MatrixCredentials::Password(resolve(reference, "password")?)
        }
        MatrixLogin::AccessToken(reference) => {
            MatrixCredentials::AccessToken(resolve(reference, "access_token")?)
        }
    };
    let mut settings =
        MatrixSettings::new(matrix.homeserver.clone(), matrix.user.clone(), credentials);
    settings.sync_timeout = Duration::from_secs(matrix.poll_timeout_secs);
    let channel =
        MatrixChannel::new(settings).map_err(|err| GatewayError::Internal(err.to_string()))?;
    let mut service_settings = ServiceSettings::new(runtime.workspace.join("inbox"));
    service_settings.allowed_users = matrix.allowed_users.clone();
    service_settings.max_file_bytes = matrix.max_file_bytes;
    Ok(ChannelService::new(
        Arc::new(channel),
        Arc::new(HubTurnRunner::new(state)),
        store,
        service_settings,
        state.sessions.closing(),
    ))
}
