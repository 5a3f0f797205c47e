//! DeleteGroups (key 42), versions from `group::versions::DELETE_GROUPS`.
//!
//! Deletes empty groups and their offsets.
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::DELETE_GROUPS;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(DELETE_GROUPS.0, DELETE_GROUPS.1);

/// Answers DeleteGroups through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: DeleteGroupsRequest,
    version: i16,
) -> DeleteGroupsResponse {
    state.groups.delete_groups(request, version).await
}
