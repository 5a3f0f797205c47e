//! What one listening node adds to the shared broker state: its node id,
//! an optional request interceptor (fault injection, request hooks) and a
//! switch that closes every open connection at once.
//!
//! A single broker has one endpoint without an interceptor; an in-process
//! [`crate::testing::Cluster`] has one per node, all serving the same
//! [`crate::state::BrokerState`].
//!
//! ```text
//!  frame ──► dispatch: header ──► interceptor.intercept(RequestInfo)
//!                                   ├─ Serve ────────► handler ──► response
//!                                   ├─ Fail(code) ───► error response of that API
//!                                   ├─ ApplyThenFail ► handler, then the error response
//!                                   ├─ DropResponse ─► handler ──► close, no response
//!                                   └─ Close ────────► close, request not applied
//!                                  (an optional delay comes first in every case)
//! ```

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use tokio::sync::watch;

/// One request as an interceptor sees it, before it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The node that received the request.
    pub node_id: i32,
    /// The API.
    pub api_key: ApiKey,
    /// The API version.
    pub api_version: i16,
    /// The header's correlation id.
    pub correlation_id: i32,
    /// The header's client id.
    pub client_id: Option<String>,
}

/// What to do with an intercepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interception {
    /// Serve it normally.
    Serve,
    /// Do not apply it; answer with this error code in every per-item
    /// error field of the API's response. APIs without such a response
    /// builder close the connection instead (see `handlers::error_reply`).
    Fail(i16),
    /// Apply it, then answer with this error code as `Fail` does (how a
    /// leader reports NOT_ENOUGH_REPLICAS_AFTER_APPEND or an acks=all
    /// REQUEST_TIMED_OUT: the data is in the log, the client is told
    /// otherwise).
    ApplyThenFail(i16),
    /// Apply it, then close the connection instead of answering.
    DropResponse,
    /// Close the connection without applying it.
    Close,
}

/// A decision with an optional delay applied before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Wait this long before acting (the connection's later requests wait too).
    pub delay: Option<Duration>,
    /// What to do then.
    pub action: Interception,
}

impl Decision {
    /// Serve at once.
    pub const SERVE: Decision = Decision {
        delay: None,
        action: Interception::Serve,
    };
}

/// Sees every request of a node before it runs and decides its fate.
pub trait RequestInterceptor: Send + Sync {
    /// Called once per request, after the header is decoded.
    fn intercept(&self, request: &RequestInfo) -> Decision;

    /// Called when the node has the answer ready (just before it is
    /// written; also for acks=0 Produce, which has none). Not called for
    /// requests whose connection is closed instead.
    fn answered(&self, request: &RequestInfo) {
        let _ = request;
    }
}

/// A listening node's identity and controls.
pub struct Endpoint {
    /// The node id handlers answer as.
    pub node_id: i32,
    /// Fault injection and hooks, if any.
    pub interceptor: Option<Arc<dyn RequestInterceptor>>,
    kill: watch::Sender<u64>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("node_id", &self.node_id)
            .field("intercepted", &self.interceptor.is_some())
            .finish()
    }
}

impl Endpoint {
    /// An endpoint for `node_id` with an optional interceptor.
    pub fn new(node_id: i32, interceptor: Option<Arc<dyn RequestInterceptor>>) -> Endpoint {
        Endpoint {
            node_id,
            interceptor,
            kill: watch::channel(0).0,
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
