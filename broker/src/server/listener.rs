//! Accepts connections, enforcing `max.connections` and
//! `max.connections.per.ip`, and spawns one task per connection. On TLS
//! listeners the task first completes the TLS handshake (within the
//! handshake timeout); a client that sends anything but a TLS ClientHello
//! (plaintext Kafka, garbage) is logged and dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use tokio_rustls::TlsAcceptor;

use super::connection::{serve, ConnectionLimits, ConnectionSecurity};
use super::endpoint::Endpoint;
use super::shutdown::Shutdown;
use crate::security::listener::ListenerInfo;
use crate::security::sasl::{SaslServer, SaslSession, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::security::tls::peer_principal;
use crate::security::Principal;
use crate::state::BrokerState;

/// How one listener secures its connections.
#[derive(Default)]
pub struct ListenerSecurity {
    /// The listener's name, protocol and advertised address (`None` for a
    /// test cluster node's single listener).
    pub info: Option<Arc<ListenerInfo>>,
    /// TLS, on SSL and SASL_SSL listeners.
    pub tls: Option<TlsAcceptor>,
    /// SASL, on SASL_PLAINTEXT and SASL_SSL listeners.
    pub sasl: Option<Arc<SaslServer>>,
}

impl std::fmt::Debug for ListenerSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerSecurity")
            .field("info", &self.info)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.is_some())
            .finish()
    }
}

impl ListenerSecurity {
    /// How long a client has for the TLS handshake.
    fn handshake_timeout(&self) -> Duration {
        self.sasl
            .as_ref()
            .map_or(DEFAULT_HANDSHAKE_TIMEOUT, |s| s.config.handshake_timeout)
    }
}

/// Accepts until shutdown; returns the still-running connection tasks so
/// the caller can give them a grace period. The listening socket is closed
/// on return, so new connections are refused from then on.
pub async fn run(
    listener: TcpListener,
    state: Arc<BrokerState>,
    endpoint: Arc<Endpoint>,
    mut shutdown: Shutdown,
    security: Arc<ListenerSecurity>,
) -> JoinSet<()> {
    let limit = Arc::new(Semaphore::new(state.config().max_connections));
    let limits = ConnectionLimits::from_config(state.config(), state.resources().clone());
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
        let Some(slot) = state.resources().admit(peer.ip()) else {
            tracing::warn!(%peer, max = state.config().max_connections_per_ip,
                "max.connections.per.ip reached for this address; closing new connection");
            drop(socket);
            continue;
        };
        let state = state.clone();
        let shutdown = shutdown.clone();
        let limits = limits.clone();
        let killed = endpoint.killed();
        let endpoint = endpoint.clone();
        let security = security.clone();
        connections.spawn(async move {
            // Dropping `serve` drops the socket, which is how
            // `Endpoint::kill_connections` closes it.
            tokio::select! {
                _ = accept(state, endpoint, socket, peer, limits, shutdown, security) => {}
                _ = killed => tracing::debug!(%peer, "connection killed"),
            }
            drop(permit);
            drop(slot);
        });
    }
    connections
}

/// Secures one accepted socket as its listener asks, then serves it.
async fn accept(
    state: Arc<BrokerState>,
    endpoint: Arc<Endpoint>,
    socket: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    limits: ConnectionLimits,
    shutdown: Shutdown,
    security: Arc<ListenerSecurity>,
) {
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let session = |principal: Principal| ConnectionSecurity {
        principal,
        sasl: security.sasl.clone().map(SaslSession::new),
        listener: security.info.clone(),
    };
    let Some(tls) = &security.tls else {
        let connection = session(Principal::anonymous());
        // Owned halves keep the socket reachable for `sendfile`.
        let halves = socket.into_split();
        serve(state, endpoint, halves, peer, limits, shutdown, connection).await;
        return;
    };
    let listener = security.info.as_ref().map_or("", |l| l.name.as_str());
    let handshake = tokio::time::timeout(security.handshake_timeout(), tls.accept(socket)).await;
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::warn!(%peer, listener, error = %e,
                "TLS handshake failed (a plaintext or non-TLS client on a TLS listener?); closing connection");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, listener, "TLS handshake not completed in time; closing connection");
            return;
        }
    };
    let principal = match peer_principal(stream.get_ref().1) {
        Ok(principal) => principal,
        Err(e) => {
            tracing::warn!(%peer, listener, error = %e, "client certificate unusable; closing connection");
            return;
        }
    };
    if !principal.is_anonymous() {
        tracing::debug!(%peer, %principal, "TLS client authenticated");
    }
    serve(
        state,
        endpoint,
        tokio::io::split(stream),
        peer,
        limits,
        shutdown,
        session(principal),
    )
    .await;
}
