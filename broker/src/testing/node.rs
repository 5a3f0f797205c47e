//! One node of a [`super::Cluster`]: a listener on a fixed 127.0.0.1 port
//! that can be stopped (listener closed, every connection dropped at
//! once) and started again on the same port.
//!
//! ```text
//!  start: bind 127.0.0.1:port ──► listener::run(state, endpoint, node signal)
//!  stop:  trigger node signal ──► listener returns its connections ──► abort them all
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

use crate::broker::BrokerError;
use crate::server::endpoint::Endpoint;
use crate::server::listener;
use crate::server::shutdown::{self, ShutdownTrigger};
use crate::state::BrokerState;

/// A running listener and the switch that stops it.
struct Running {
    trigger: ShutdownTrigger,
    server: JoinHandle<JoinSet<()>>,
}

/// A node's address, endpoint and (when running) listener.
pub(crate) struct Node {
    pub(crate) id: i32,
    pub(crate) address: SocketAddr,
    pub(crate) endpoint: Arc<Endpoint>,
    running: Mutex<Option<Running>>,
    /// Held through a whole stop or start, so concurrent controls of one
    /// node cannot leave the listener and the topology disagreeing.
    control: Mutex<()>,
}

impl Node {
    /// A stopped node that will listen on `address`.
    pub(crate) fn new(id: i32, address: SocketAddr, endpoint: Arc<Endpoint>) -> Node {
        Node {
            id,
            address,
            endpoint,
            running: Mutex::new(None),
            control: Mutex::new(()),
        }
    }

    /// Serves `state` on `listener` (already bound to this node's address);
    /// a no-op returning `false` if the node already runs.
    pub(crate) async fn serve(&self, listener: TcpListener, state: Arc<BrokerState>) -> bool {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return false;
        }
        let (trigger, signal) = shutdown::channel();
        let server = tokio::spawn(listener::run(
            listener,
            state,
            self.endpoint.clone(),
            signal,
            Arc::new(listener::ListenerSecurity::default()),
        ));
        *running = Some(Running { trigger, server });
        true
    }

    /// Binds this node's address again (SO_REUSEADDR is set by tokio, so a
    /// port with connections in TIME_WAIT can be reused at once).
    pub(crate) async fn bind(&self) -> Result<TcpListener, BrokerError> {
        crate::broker::bind(&self.address.to_string()).await
    }

    /// Serialises stops and starts of this node.
    pub(crate) async fn control(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.control.lock().await
    }

    /// Whether the listener runs.
    pub(crate) async fn is_running(&self) -> bool {
        self.running.lock().await.is_some()
    }

    /// Stops at once: the listener closes (new connections are refused)
    /// and every open connection is dropped mid-request, like a crash.
    /// Returns `false` if the node was not running.
    pub(crate) async fn stop(&self) -> bool {
        match self.close_listener().await {
            Some(mut connections) => {
                connections.shutdown().await;
                true
            }
            None => false,
        }
    }

    /// Closes the listener and hands back the open connections (for a
    /// graceful drain); `None` if the node was not running.
    pub(crate) async fn close_listener(&self) -> Option<JoinSet<()>> {
        let running = self.running.lock().await.take()?;
        running.trigger.trigger();
        running.server.await.ok()
    }
}
