//! OffsetCommit (key 8), versions from `group::versions::OFFSET_COMMIT`.
//!
//! Stores committed offsets durably.
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::OFFSET_COMMIT;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_COMMIT.0, OFFSET_COMMIT.1);

/// Answers OffsetCommit through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    state.groups.offset_commit(request, version).await
}
