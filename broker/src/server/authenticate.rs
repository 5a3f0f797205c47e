//! The SASL gate of a connection on a SASL listener: SaslHandshake and
//! SaslAuthenticate are answered here (they change the connection, not the
//! broker); other requests pass only once the session has authenticated
//! and while it has not expired. See `crate::security::sasl`.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::Encodable;
use tokio::time::Instant;

use super::decode_guard::decode_guarded;
use super::frame::{decode_header, response_frame, Piece, RequestPrefix, ResponseFrame};
use crate::metrics::BrokerMetrics;
use crate::security::sasl::{Next, SaslSession};

/// What the connection does with a frame.
#[derive(Debug)]
pub enum Gate {
    /// Serve it as usual.
    Dispatch,
    /// Write this frame and go on.
    Respond(ResponseFrame),
    /// Write this frame, then close the connection for the reason given.
    RespondThenClose(ResponseFrame, String),
    /// Close the connection now.
    Close(String),
}

/// Versions of SaslHandshake served.
pub const HANDSHAKE_VERSIONS: (i16, i16) = (0, 1);
/// Versions of SaslAuthenticate served.
pub const AUTHENTICATE_VERSIONS: (i16, i16) = (0, 2);

/// Decides what happens to `frame` on a SASL connection; the error codes
/// of the answers given here count on the metrics page like any other.
pub fn gate(
    session: &mut SaslSession,
    frame: &Bytes,
    now: Instant,
    metrics: &BrokerMetrics,
) -> Gate {
    if session.expects_raw_token() {
        return match session.raw_token(frame) {
            Ok(token) => {
                let mut out = BytesMut::with_capacity(4 + token.len());
                out.put_u32(token.len() as u32);
                out.put_slice(&token);
                Gate::Respond(ResponseFrame::whole(out.freeze()))
            }
            Err(why) => Gate::Close(why),
        };
    }
    let Some(prefix) = RequestPrefix::parse(frame) else {
        return Gate::Close("frame too short for a request header".to_string());
    };
    let api = ApiKey::try_from(prefix.api_key).ok();
    match api {
        Some(ApiKey::SaslHandshake) => answer(frame, prefix, ApiKey::SaslHandshake, |body, v| {
            let request: SaslHandshakeRequest =
                decode_guarded(body, v).map_err(|e| e.to_string())?;
            let (response, next) = session.handshake(request, v);
            metrics.count_response_errors(ApiKey::SaslHandshake, &response);
            Ok((encode(&response, v)?, next))
        }),
        Some(ApiKey::SaslAuthenticate) => {
            answer(frame, prefix, ApiKey::SaslAuthenticate, |body, v| {
                let request: SaslAuthenticateRequest =
                    decode_guarded(body, v).map_err(|e| e.to_string())?;
                let (response, next) = session.authenticate(request, v);
                metrics.count_response_errors(ApiKey::SaslAuthenticate, &response);
                Ok((encode(&response, v)?, next))
            })
        }
        _ if session.principal().is_none() => {
            if api == Some(ApiKey::ApiVersions) {
                Gate::Dispatch
            } else {
                Gate::Close(format!(
                    "{} (key {}) before SASL authentication completed",
                    api.map_or_else(|| "unknown API".to_string(), |a| format!("{a:?}")),
                    prefix.api_key
                ))
            }
        }
        _ if session.expired(now) => Gate::Close(
            "SASL session expired without re-authentication (connections.max.reauth.ms)"
                .to_string(),
        ),
        _ => Gate::Dispatch,
    }
}

fn encode<T: Encodable>(response: &T, version: i16) -> Result<BytesMut, String> {
    let mut body = BytesMut::new();
    response
        .encode(&mut body, version)
        .map_err(|e| format!("cannot encode the response: {e}"))?;
    Ok(body)
}

/// Checks the version, decodes the header, runs `handle` on the body and
/// frames its answer.
fn answer(
    frame: &Bytes,
    prefix: RequestPrefix,
    api: ApiKey,
    handle: impl FnOnce(&Bytes, i16) -> Result<(BytesMut, Next), String>,
) -> Gate {
    let (min, max) = match api {
        ApiKey::SaslHandshake => HANDSHAKE_VERSIONS,
        _ => AUTHENTICATE_VERSIONS,
    };
    let version = prefix.api_version;
    if version < min || version > max {
        return Gate::Close(format!(
            "{api:?} v{version} is not supported (supported: v{min}..=v{max})"
        ));
    }
    if let Err(e) = durian_core::wire_guard::check_request_header(prefix.api_key, version, frame) {
        return Gate::Close(format!("{api:?} v{version}: malformed request header: {e}"));
    }
    let (header, body) = match decode_header(api, prefix, frame) {
        Ok(parts) => parts,
        Err(e) => return Gate::Close(format!("{api:?} v{version}: {e}")),
    };
    let (response, next) = match handle(&body, version) {
        Ok(answer) => answer,
        Err(e) => return Gate::Close(format!("{api:?} v{version}: {e}")),
    };
    let framed = match response_frame(
        header.correlation_id,
        api.response_header_version(version),
        vec![Piece::Bytes(response.freeze())],
    ) {
        Ok(framed) => framed,
        Err(e) => return Gate::Close(e.to_string()),
    };
    match next {
        Next::Continue => Gate::Respond(framed),
        Next::Close(why) => Gate::RespondThenClose(framed, why),
    }
}
