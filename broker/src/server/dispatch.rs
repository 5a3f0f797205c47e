//! Routing one request frame to its handler and framing the answer.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;

use super::endpoint::Endpoint;
use super::frame::{decode_header, response_frame, Piece, RequestPrefix, ResponseFrame};
#[cfg(feature = "testing")]
use super::intercept::{Interception, RequestInfo};
use crate::handlers::{api_versions, lookup, HandlerError, Reply, RequestContext};
#[cfg(feature = "testing")]
use crate::handlers::{error_reply, ApiHandler};
use crate::security::listener::ListenerInfo;
use crate::security::Principal;
use crate::state::BrokerState;

/// Largest request other than Produce. Only Produce carries bulk data;
/// capping the rest keeps the decoder's worst-case allocations (bounded by
/// frame length times element size, see `decode_guard`) small.
pub const MAX_NON_PRODUCE_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Who sent a request, and what its connection can carry.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The principal the connection authenticated as.
    pub principal: &'a Principal,
    /// The listener the connection came in on.
    pub listener: Option<&'a Arc<ListenerInfo>>,
    /// Whether the connection writes to a plain TCP socket, so a Fetch
    /// may answer with segment file ranges (sent with `sendfile`).
    pub file_records: bool,
}

/// What to do after a request.
#[derive(Debug)]
pub enum Outcome {
    /// Write this response frame.
    Respond(ResponseFrame),
    /// Send nothing (Produce with acks=0).
    Silent,
    /// Close the connection, logging the reason.
    Close(String),
    /// Close the connection because an injected fault said so (logged quietly).
    #[cfg(feature = "testing")]
    Injected(String),
}

/// Handles one request frame.
///
/// Requests that cannot be answered in the client's own format — unknown
/// API keys, versions outside our range, undecodable headers or bodies —
/// close the connection, as Kafka does. The one exception is ApiVersions:
/// a too-new version gets UNSUPPORTED_VERSION and our version list in the
/// v0 format, so newer clients can downgrade.
///
/// With the `testing` feature, the endpoint's interceptor, if any, sees
/// every request whose header decodes and may delay it, fail it, drop its
/// response or close the connection (see `super::intercept`).
pub async fn dispatch(
    state: Arc<BrokerState>,
    endpoint: &Endpoint,
    frame: Bytes,
    caller: Caller<'_>,
) -> Outcome {
    let Caller {
        peer,
        principal,
        listener,
        file_records,
    } = caller;
    let Some(prefix) = RequestPrefix::parse(&frame) else {
        return Outcome::Close("frame too short for a request header".to_string());
    };
    let Ok(api) = ApiKey::try_from(prefix.api_key) else {
        return Outcome::Close(format!("unknown API key {}", prefix.api_key));
    };
    let Some(handler) = lookup(api) else {
        return Outcome::Close(format!(
            "API {api:?} (key {}) is not supported by this broker",
            prefix.api_key
        ));
    };
    if api != ApiKey::Produce && frame.len() > MAX_NON_PRODUCE_REQUEST_BYTES {
        return Outcome::Close(format!(
            "{api:?} request of {} bytes exceeds the {MAX_NON_PRODUCE_REQUEST_BYTES}-byte \
             limit for non-Produce requests",
            frame.len()
        ));
    }
    let version = prefix.api_version;
    if version < handler.versions.min || version > handler.versions.max {
        if api == ApiKey::ApiVersions {
            state.metrics().count_response_error(
                ApiKey::ApiVersions,
                kafka_protocol::ResponseError::UnsupportedVersion.code(),
            );
            return respond(
                prefix.correlation_id,
                0,
                api_versions::unsupported_version_reply(state.groups().consumer_protocol_enabled()),
            );
        }
        if version >= handler.advertised.min && version <= handler.advertised.max {
            return Outcome::Close(format!(
                "{api:?} v{version} is advertised for compatibility but not served \
                 (old message format); the client must use v{}..=v{}",
                handler.versions.min, handler.versions.max
            ));
        }
        return Outcome::Close(format!(
            "{api:?} v{version} is not supported (supported: v{}..=v{})",
            handler.versions.min, handler.versions.max
        ));
    }
    // The header's client id and tagged fields are checked against the
    // bytes present before kafka-protocol decodes them, as bodies are.
    if let Err(e) = durian_core::wire_guard::check_request_header(prefix.api_key, version, &frame) {
        return Outcome::Close(format!("{api:?} v{version}: malformed request header: {e}"));
    }
    let (header, body) = match decode_header(api, prefix, &frame) {
        Ok(parts) => parts,
        Err(e) => return Outcome::Close(format!("{api:?} v{version}: {e}")),
    };
    state.metrics().count_request(api);
    let ctx = RequestContext {
        version,
        client_id: header.client_id.as_ref().map(|c| c.to_string()),
        peer,
        node_id: endpoint.node_id,
        principal: principal.clone(),
        listener: listener.cloned(),
        file_records,
    };
    tracing::trace!(
        ?api,
        version,
        correlation_id = header.correlation_id,
        client = ?header.client_id,
        principal = %ctx.principal,
        "request"
    );
    #[cfg(feature = "testing")]
    let outcome = {
        let info = RequestInfo {
            node_id: endpoint.node_id,
            api_key: api,
            api_version: version,
            correlation_id: header.correlation_id,
            client_id: ctx.client_id.clone(),
        };
        serve_intercepted(state, endpoint, handler, ctx, &info, body).await
    };
    #[cfg(not(feature = "testing"))]
    let outcome = respond(
        header.correlation_id,
        api.response_header_version(version),
        (handler.run)(state, ctx, body).await,
    );
    outcome.with_context(api, version)
}

/// Runs a decoded request as the endpoint's interceptor decides: after an
/// optional delay, served, answered with an error without being applied,
/// applied with its answer dropped, or not applied at all.
#[cfg(feature = "testing")]
async fn serve_intercepted(
    state: Arc<BrokerState>,
    endpoint: &Endpoint,
    handler: &ApiHandler,
    ctx: RequestContext,
    info: &RequestInfo,
    body: Bytes,
) -> Outcome {
    let decision = endpoint.decide(info);
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    let header_version = info.api_key.response_header_version(info.api_version);
    let correlation_id = info.correlation_id;
    let outcome = match decision.action {
        Interception::Serve => {
            let reply = (handler.run)(state, ctx, body).await;
            respond(correlation_id, header_version, reply)
        }
        Interception::Fail(code) => fail(&state, &ctx, info, &body, code),
        Interception::ApplyThenFail(code) => {
            let _ = (handler.run)(state.clone(), ctx.clone(), body.clone()).await;
            fail(&state, &ctx, info, &body, code)
        }
        Interception::DropResponse => {
            let _ = (handler.run)(state, ctx, body).await;
            Outcome::Injected("request applied, response dropped by a fault rule".to_string())
        }
        Interception::Close => Outcome::Injected("connection closed by a fault rule".to_string()),
    };
    if matches!(outcome, Outcome::Respond(_) | Outcome::Silent) {
        endpoint.answered(info);
    }
    outcome
}

/// The error answer a fault rule asked for, or a closed connection when
/// the API has no error-response builder.
#[cfg(feature = "testing")]
fn fail(
    state: &BrokerState,
    ctx: &RequestContext,
    info: &RequestInfo,
    body: &Bytes,
    code: i16,
) -> Outcome {
    let header_version = info.api_key.response_header_version(info.api_version);
    match error_reply::build(state, ctx, info.api_key, body, code) {
        Some(reply) => respond(info.correlation_id, header_version, reply),
        None => Outcome::Injected(format!(
            "fault rule asked for error {code}, which this API cannot carry; \
             connection closed instead"
        )),
    }
}

fn respond(
    correlation_id: i32,
    header_version: i16,
    reply: Result<Reply, HandlerError>,
) -> Outcome {
    let body = match reply {
        Ok(Reply::Body(body)) => vec![Piece::Bytes(body)],
        Ok(Reply::Parts(parts)) => parts,
        Ok(Reply::Nothing) => return Outcome::Silent,
        Err(reason) => return Outcome::Close(reason.to_string()),
    };
    match response_frame(correlation_id, header_version, body) {
        Ok(frame) => Outcome::Respond(frame),
        Err(too_large) => {
            tracing::error!(error = %too_large, "cannot send response");
            Outcome::Close(too_large.to_string())
        }
    }
}

impl Outcome {
    fn with_context(self, api: ApiKey, version: i16) -> Outcome {
        match self {
            Outcome::Close(reason) => Outcome::Close(format!("{api:?} v{version}: {reason}")),
            #[cfg(feature = "testing")]
            Outcome::Injected(reason) => Outcome::Injected(format!("{api:?} v{version}: {reason}")),
            other => other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lying_request_header_is_refused_by_the_wire_guard() {
        let broker = crate::Broker::builder()
            .temporary()
            .listen("127.0.0.1:0")
            .start()
            .await
            .unwrap();
        let endpoint = Endpoint::new(0);
        // ApiVersions v3 (header v2): a client id of 200 bytes, 2 present.
        let frame = Bytes::from_static(&[0, 18, 0, 3, 0, 0, 0, 1, 0, 200, b'a', b'b']);
        let principal = Principal::anonymous();
        let caller = Caller {
            peer: "127.0.0.1:1".parse().unwrap(),
            principal: &principal,
            listener: None,
            file_records: false,
        };
        let outcome = dispatch(broker.state.clone(), &endpoint, frame, caller).await;
        let Outcome::Close(reason) = outcome else {
            panic!("a lying header must close the connection: {outcome:?}");
        };
        assert!(
            reason.contains("client_id") && reason.contains("200"),
            "{reason}"
        );
        broker.shutdown().await.unwrap();
    }
}
