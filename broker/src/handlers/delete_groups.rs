//! DeleteGroups (key 42), versions from `group::versions::DELETE_GROUPS`.
//!
//! Deletes empty groups and their offsets.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR for groups the receiving node does not
//! coordinate (in a multi-node cluster).

use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{error_reply, versions, RequestContext};
use crate::group::versions::DELETE_GROUPS;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(DELETE_GROUPS.0, DELETE_GROUPS.1);

/// Answers DeleteGroups through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: DeleteGroupsRequest,
    ctx: &RequestContext,
) -> DeleteGroupsResponse {
    let code = ResponseError::NotCoordinator.code();
    let (mine, foreign): (Vec<_>, Vec<_>) = request
        .groups_names
        .iter()
        .cloned()
        .partition(|g| state.topology.coordinates(g, ctx.node_id));
    let mut response = state
        .groups
        .delete_groups(request.clone().with_groups_names(mine), ctx.version)
        .await;
    let refused = error_reply::delete_groups(&foreign, code);
    response.results.extend(refused.results);
    response
}
