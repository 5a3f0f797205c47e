//! SaslAuthenticate (key 36), versions 0–2, on listeners without SASL.
//!
//! As with SaslHandshake, SASL listeners answer it in the connection
//! (`server::authenticate`); here the listener does not use SASL, so the
//! answer is ILLEGAL_SASL_STATE.

use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{text, versions};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 2);

/// Refuses SaslAuthenticate on a listener without SASL.
pub async fn handle(_request: SaslAuthenticateRequest, _version: i16) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse::default()
        .with_error_code(ResponseError::IllegalSaslState.code())
        .with_error_message(Some(text("this listener does not use SASL")))
}
