//! SaslHandshake (key 17), versions 0–1, on listeners without SASL.
//!
//! On SASL_PLAINTEXT and SASL_SSL listeners the connection answers it
//! itself (`server::authenticate`), since it changes the connection's
//! state. Reaching this handler means the listener does not use SASL:
//! ILLEGAL_SASL_STATE with an empty mechanism list, as Kafka answers.

use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::versions;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 1);

/// Refuses SaslHandshake on a listener without SASL.
pub async fn handle(_request: SaslHandshakeRequest, _version: i16) -> SaslHandshakeResponse {
    SaslHandshakeResponse::default().with_error_code(ResponseError::IllegalSaslState.code())
}
