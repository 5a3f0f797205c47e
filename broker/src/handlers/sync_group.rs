//! SyncGroup (key 14), versions from `group::versions::SYNC_GROUP`.
//!
//! Distributes the leader's assignment to the members.
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::SYNC_GROUP;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(SYNC_GROUP.0, SYNC_GROUP.1);

/// Answers SyncGroup through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    state.groups.sync_group(request, version).await
}
