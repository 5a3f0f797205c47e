//! ApiVersions (key 18), versions 0–4.
//!
//! Lists exactly the APIs in the handler registry, with their advertised
//! version ranges. A request at a version
//! above 4 is answered, as Kafka does, with UNSUPPORTED_VERSION and the
//! list encoded in the v0 format every client can read, so the client can
//! retry with a version we know. Supported features (v3+) are not reported.
//! ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848) are listed only
//! while `group.coordinator.rebalance.protocols` includes `consumer`: the Java
//! consumer with `group.protocol=consumer` checks for them.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{encode_body, registry, versions, HandlerError, Reply};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 4);

/// Answers ApiVersions; `consumer_protocol` says whether the KIP-848 group
/// APIs are served.
pub async fn handle(
    _request: ApiVersionsRequest,
    _version: i16,
    consumer_protocol: bool,
) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(advertised(consumer_protocol))
}

/// The reply to an ApiVersions request at a version we do not serve: v0 body
/// with UNSUPPORTED_VERSION and our list.
pub fn unsupported_version_reply(consumer_protocol: bool) -> Result<Reply, HandlerError> {
    let response = ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(advertised(consumer_protocol));
    encode_body(&response, 0)
}

/// Whether an API belongs to the consumer group protocol (KIP-848).
pub fn is_consumer_protocol_api(key: ApiKey) -> bool {
    matches!(
        key,
        ApiKey::ConsumerGroupHeartbeat | ApiKey::ConsumerGroupDescribe
    )
}

fn advertised(consumer_protocol: bool) -> Vec<ApiVersion> {
    let mut keys: Vec<ApiVersion> = registry()
        .iter()
        .filter(|h| consumer_protocol || !is_consumer_protocol_api(h.key))
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
