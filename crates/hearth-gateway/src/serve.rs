//! Serving: the accept loop with graceful shutdown (stop accepting, let running turns
//! finish within the grace, then cancel them), the per-request timeout, and which
//! listen addresses are loopback.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{router, AppState, GatewayError};

/// How long connections get to close after the turns are done on shutdown.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves `state` on `listener` until `shutdown` completes, then shuts down: no new
/// connections or turns, event sockets closed, running turns finished or cancelled
/// within the grace, idle connections closed. A connection that sends no complete
/// request head within the header timeout (slow, or idle between requests) is closed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = state.sessions.clone();
    let grace = state.settings.shutdown_grace;
    let header_timeout = state.settings.header_read_timeout;
    let app = router(state);
    let connections = TaskTracker::new();
    let closing = hub.closing();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // SSE events are small writes: without this, Nagle holds each one
                    // for the client's delayed ACK (~40 ms a turn).
                    let _ = stream.set_nodelay(true);
                    let app = app.clone();
                    let closing = closing.clone();
                    connections.spawn(serve_connection(stream, app, header_timeout, closing));
                }
                Err(err) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("the gateway could not accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    connections.close();
    hub.shut_down(grace).await;
    let _ = tokio::time::timeout(CLOSE_GRACE, connections.wait()).await;
    Ok(())
}

/// One connection, HTTP/1.1 with upgrades (the WebSocket), closed gracefully (after
/// the response in flight) once the gateway is closing.
async fn serve_connection(
    stream: TcpStream,
    app: axum::Router,
    header_timeout: Duration,
    closing: CancellationToken,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!("a gateway connection ended: {err}");
            }
            return;
        }
        () = closing.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    if let Err(err) = connection.await {
        tracing::debug!("a gateway connection ended: {err}");
    }
}

/// Whether binding `addr` exposes the gateway only to this machine.
pub fn is_loopback_listen(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Answers 408 when a request takes longer than the timeout to produce its response
/// head (reading a slow body included); streamed bodies are not limited by it.
pub(crate) async fn request_timeout(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.settings.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => GatewayError::Timeout {
            seconds: limit.as_secs(),
        }
        .into_response(),
    }
}
