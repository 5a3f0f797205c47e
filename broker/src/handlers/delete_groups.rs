//! DeleteGroups (key 42), versions from `group::versions::DELETE_GROUPS`.
//!
//! Deletes empty groups and their offsets.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR for groups the receiving node does not
//! coordinate (in a multi-node cluster).
//! Authorization: DELETE on each group, else GROUP_AUTHORIZATION_FAILED.

use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::DELETE_GROUPS;

/// Versions served.
pub const VERSIONS: VersionRange = versions(DELETE_GROUPS.0, DELETE_GROUPS.1);

/// Answers DeleteGroups through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: DeleteGroupsRequest,
    ctx: &RequestContext,
) -> DeleteGroupsResponse {
    let code = ResponseError::NotCoordinator.code();
    let access = groups.access(ctx);
    let (allowed, denied): (Vec<_>, Vec<_>) = request
        .groups_names
        .iter()
        .cloned()
        .partition(|g| access.group(AclOperation::Delete, g));
    let (mine, foreign): (Vec<_>, Vec<_>) = allowed
        .into_iter()
        .partition(|g| groups.coordinates(g, ctx.node_id));
    let mut response = groups
        .coordinator
        .delete_groups(request.clone().with_groups_names(mine), ctx.version)
        .await;
    let refused = error_reply::delete_groups(&foreign, code);
    response.results.extend(refused.results);
    let code = ResponseError::GroupAuthorizationFailed.code();
    response
        .results
        .extend(error_reply::delete_groups(&denied, code).results);
    response
}
