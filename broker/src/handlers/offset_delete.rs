//! OffsetDelete (key 47), versions from `group::versions::OFFSET_DELETE`.
//!
//! Deletes committed offsets of partitions the group no longer consumes.
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::OFFSET_DELETE;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_DELETE.0, OFFSET_DELETE.1);

/// Answers OffsetDelete through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: OffsetDeleteRequest,
    version: i16,
) -> OffsetDeleteResponse {
    state.groups.offset_delete(request, version).await
}
