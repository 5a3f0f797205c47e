//! OffsetFetch (key 9), versions from `group::versions::OFFSET_FETCH`.
//!
//! Returns committed offsets for one group (v1–v7) or several (v8+).
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::OFFSET_FETCH;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_FETCH.0, OFFSET_FETCH.1);

/// Answers OffsetFetch through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    state.groups.offset_fetch(request, version).await
}
