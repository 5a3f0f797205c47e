//! ListGroups (key 16), versions from `group::versions::LIST_GROUPS`.
//!
//! Lists the groups this coordinator knows.
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::LIST_GROUPS;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(LIST_GROUPS.0, LIST_GROUPS.1);

/// Answers ListGroups through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: ListGroupsRequest,
    version: i16,
) -> ListGroupsResponse {
    state.groups.list_groups(request, version).await
}
