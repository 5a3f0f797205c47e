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

/// Answers DescribeGroups through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: DescribeGroupsRequest,
    ctx: &RequestContext,
) -> DescribeGroupsResponse {
    let code = ResponseError::NotCoordinator.code();
    let denied = ResponseError::GroupAuthorizationFailed.code();
    let access = groups.access(ctx);
    let allowed = |group: &str| access.group(AclOperation::Describe, group);
    let here = |group: &str| allowed(group) && groups.coordinates(group, ctx.node_id);
    let operations = request.include_authorized_operations && ctx.version >= 3;
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
            true => match described.next() {
                Some(found) if operations => {
                    let bits = access.operations(ResourceType::Group, g);
                    found.with_authorized_operations(bits)
                }
                Some(found) => found,
                None => error_reply::described(g, code),
            },
            false if !allowed(g) => error_reply::described(g, denied),
            false => error_reply::described(g, code),
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
