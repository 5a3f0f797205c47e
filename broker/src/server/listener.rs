//! Accepts connections, enforcing `max.connections`, and spawns one task
//! per connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::connection::{serve, ReadLimits};
use super::endpoint::Endpoint;
use super::shutdown::Shutdown;
use crate::state::BrokerState;

/// Accepts until shutdown; returns the still-running connection tasks so
/// the caller can give them a grace period. The listening socket is closed
/// on return, so new connections are refused from then on.
pub async fn run(
    listener: TcpListener,
    state: Arc<BrokerState>,
    endpoint: Arc<Endpoint>,
    mut shutdown: Shutdown,
) -> JoinSet<()> {
    let limit = Arc::new(Semaphore::new(state.config().max_connections));
    // The pool must fit the largest allowed frame, or such a frame could never be read.
    let pool_bytes = state
        .config()
        .queued_max_request_bytes
        .max(state.config().socket_request_max_bytes)
        .min(Semaphore::MAX_PERMITS);
    let limits = ReadLimits {
        max_bytes: state.config().socket_request_max_bytes,
        idle: state.config().connections_max_idle,
        pool: Arc::new(Semaphore::new(pool_bytes)),
    };
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait() => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = state.config().max_connections, "connection limit reached; closing new connection");
            drop(socket);
            continue;
        };
        let state = state.clone();
        let shutdown = shutdown.clone();
        let limits = limits.clone();
        let killed = endpoint.killed();
        let endpoint = endpoint.clone();
        connections.spawn(async move {
            // Dropping `serve` drops the socket, which is how
            // `Endpoint::kill_connections` closes it.
            tokio::select! {
                _ = serve(state, endpoint, socket, peer, limits, shutdown) => {}
                _ = killed => tracing::debug!(%peer, "connection killed"),
            }
            drop(permit);
        });
    }
    connections
}
