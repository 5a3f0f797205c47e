//! ApiVersions (key 18), versions 0–4.
//!
//! Lists exactly the APIs in the handler registry, with their advertised
//! version ranges. A request at a version
//! above 4 is answered, as Kafka does, with UNSUPPORTED_VERSION and the
//! list encoded in the v0 format every client can read, so the client can
//! retry with a version we know. Supported features (v3+) are not reported.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{encode_body, registry, versions, HandlerError, Reply};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 4);

/// Answers ApiVersions.
pub async fn handle(_request: ApiVersionsRequest, _version: i16) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(advertised())
}

/// The reply to an ApiVersions request at a version we do not serve: v0 body
/// with UNSUPPORTED_VERSION and our list.
pub fn unsupported_version_reply() -> Result<Reply, HandlerError> {
    let response = ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(advertised());
    encode_body(&response, 0)
}

fn advertised() -> Vec<ApiVersion> {
    let mut keys: Vec<ApiVersion> = registry()
        .iter()
        .map(|h| {
            ApiVersion::default()
                .with_api_key(h.key as i16)
                .with_min_version(h.advertised.min)
                .with_max_version(h.advertised.max)
        })
        .collect();
    keys.sort_by_key(|k| k.api_key);
    keys
}
