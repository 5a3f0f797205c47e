//! DescribeGroups (key 15), versions from `group::versions::DESCRIBE_GROUPS`.
//!
//! Describes groups and their members.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR for groups the receiving node does not
//! coordinate (in a multi-node cluster).

use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::DESCRIBE_GROUPS;

/// Versions served.
pub const VERSIONS: VersionRange = versions(DESCRIBE_GROUPS.0, DESCRIBE_GROUPS.1);

/// Answers DescribeGroups through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: DescribeGroupsRequest,
    ctx: &RequestContext,
) -> DescribeGroupsResponse {
    let code = ResponseError::NotCoordinator.code();
    let here = |group: &str| groups.coordinates(group, ctx.node_id);
    let mine: Vec<_> = request.groups.iter().filter(|g| here(g)).cloned().collect();
    let mut described = groups
        .coordinator
        .describe_groups(request.clone().with_groups(mine), ctx.version)
        .await
        .groups
        .into_iter();
    // The coordinator answers in request order, so the served answers
    // interleave back in place.
    let groups = request
        .groups
        .iter()
        .map(|g| match here(g) {
            true => described
                .next()
                .unwrap_or_else(|| error_reply::described(g, code)),
            false => error_reply::described(g, code),
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
