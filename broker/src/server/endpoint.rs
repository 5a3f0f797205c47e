//! What one listening node adds to the shared broker state: its node id
//! and, with the `testing` feature, an optional request interceptor (fault
//! injection, request hooks, see [`super::intercept`]) and a switch that
//! closes every open connection at once.
//!
//! A single broker has one endpoint and nothing else; an in-process
//! [`crate::testing::Cluster`] has one per node, all serving the same
//! [`crate::state::BrokerState`].

#[cfg(feature = "testing")]
use std::sync::Arc;

#[cfg(feature = "testing")]
use tokio::sync::watch;

#[cfg(feature = "testing")]
use super::intercept::{Decision, RequestInfo, RequestInterceptor};

/// A listening node's identity and controls.
pub struct Endpoint {
    /// The node id handlers answer as.
    pub node_id: i32,
    /// Fault injection and hooks, if any.
    #[cfg(feature = "testing")]
    interceptor: Option<Arc<dyn RequestInterceptor>>,
    /// Bumped to close every connection of this endpoint.
    #[cfg(feature = "testing")]
    kill: watch::Sender<u64>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Endpoint");
        out.field("node_id", &self.node_id);
        #[cfg(feature = "testing")]
        out.field("intercepted", &self.interceptor.is_some());
        out.finish()
    }
}

impl Endpoint {
    /// An endpoint for `node_id` that serves every request as it comes.
    pub fn new(node_id: i32) -> Endpoint {
        Endpoint {
            node_id,
            #[cfg(feature = "testing")]
            interceptor: None,
            #[cfg(feature = "testing")]
            kill: watch::channel(0).0,
        }
    }

    /// Resolves when the connections of this endpoint are to be closed
    /// at once: never for a plain broker.
    #[cfg(not(feature = "testing"))]
    pub fn killed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        std::future::pending()
    }
}

#[cfg(feature = "testing")]
impl Endpoint {
    /// An endpoint for `node_id` whose requests `interceptor` sees first.
    pub fn intercepted(node_id: i32, interceptor: Arc<dyn RequestInterceptor>) -> Endpoint {
        Endpoint {
            interceptor: Some(interceptor),
            ..Endpoint::new(node_id)
        }
    }

    /// What to do with `request` (serve it when there is no interceptor).
    pub fn decide(&self, request: &RequestInfo) -> Decision {
        match &self.interceptor {
            Some(interceptor) => interceptor.intercept(request),
            None => Decision::SERVE,
        }
    }

    /// Tells the interceptor that `request` has been answered.
    pub fn answered(&self, request: &RequestInfo) {
        if let Some(interceptor) = &self.interceptor {
            interceptor.answered(request);
        }
    }

    /// Closes every connection open on this endpoint now; new ones are
    /// still accepted.
    pub fn kill_connections(&self) {
        self.kill.send_modify(|generation| *generation += 1);
    }

    /// Resolves when [`Endpoint::kill_connections`] is called after this
    /// point (connections call it once, when they start).
    pub fn killed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.kill.subscribe();
        receiver.mark_unchanged();
        async move {
            // An error means the endpoint is gone, which also ends the connection.
            let _ = receiver.changed().await;
        }
    }
}
