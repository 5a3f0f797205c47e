//! The request interceptor of an in-process [`crate::testing::Cluster`]
//! node: it sees every request whose header decodes and decides its fate
//! (fault injection, request hooks). Compiled only with the `testing`
//! feature; a plain broker serves every request as it comes.
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

use std::time::Duration;

use kafka_protocol::messages::ApiKey;

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
