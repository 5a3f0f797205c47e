//! DescribeGroups (key 15), versions from `group::versions::DESCRIBE_GROUPS`.
//!
//! Describes groups and their members.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR for groups the receiving node does not
//! coordinate (in a multi-node cluster).
//! Authorization: DESCRIBE on each group, else GROUP_AUTHORIZATION_FAILED;
//! `authorized_operations` (v3+) is filled when asked for.

use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::{AclOperation, ResourceType};

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::DESCRIBE_GROUPS;

/// Versions served.
pub const VERSIONS: VersionRange = versions(DESCRIBE_GROUPS.0, DESCRIBE_GROUPS.1);

/// Where one named group's answer comes from.
enum Route {
    /// This node coordinates it: the coordinator describes it.
    Here,
    /// DESCRIBE is not allowed: GROUP_AUTHORIZATION_FAILED.
    Denied,
    /// Another node coordinates it: NOT_COORDINATOR.
    Elsewhere,
}

/// Answers DescribeGroups through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: DescribeGroupsRequest,
    ctx: &RequestContext,
) -> DescribeGroupsResponse {
    let code = ResponseError::NotCoordinator.code();
    let denied = ResponseError::GroupAuthorizationFailed.code();
    let access = groups.access(ctx);
    let operations = request.include_authorized_operations && ctx.version >= 3;
    // Each group is judged once (authorization, then coordination); the
    // list is moved, never cloned: one request may name 1,000 groups.
    let names = request.groups;
    let routes: Vec<Route> = names
        .iter()
        .map(|g| match access.group(AclOperation::Describe, g) {
            false => Route::Denied,
            true if groups.coordinates(g, ctx.node_id) => Route::Here,
            true => Route::Elsewhere,
        })
        .collect();
    let mine: Vec<_> = names
        .iter()
        .zip(&routes)
        .filter(|(_, route)| matches!(route, Route::Here))
        .map(|(g, _)| g.clone())
        .collect();
    let served = DescribeGroupsRequest::default()
        .with_include_authorized_operations(request.include_authorized_operations)
        .with_groups(mine);
    let mut described = groups
        .coordinator
        .describe_groups(served, ctx.version)
        .await
        .groups
        .into_iter();
    // The coordinator answers in request order, so the served answers
    // interleave back in place.
    let groups = names
        .iter()
        .zip(routes)
        .map(|(g, route)| match route {
            Route::Here => match described.next() {
                Some(found) if operations => {
                    let bits = access.operations(ResourceType::Group, g);
                    found.with_authorized_operations(bits)
                }
                Some(found) => found,
                None => error_reply::described(g, code),
            },
            Route::Denied => error_reply::described(g, denied),
            Route::Elsewhere => error_reply::described(g, code),
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
