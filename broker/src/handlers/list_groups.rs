//! ListGroups (key 16), versions from `group::versions::LIST_GROUPS`.
//!
//! Lists the groups the receiving node coordinates.
//! The group coordinator does the work; this file keeps only the groups
//! placed on the receiving node (all of them on a single broker).
//! Authorization, as Kafka: DESCRIBE on the cluster lists every group,
//! otherwise only the groups the principal may DESCRIBE.

use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::VersionRange;

use durian_core::acl::AclOperation;

use super::{versions, GroupContext, RequestContext};
use crate::group::versions::LIST_GROUPS;

/// Versions served.
pub const VERSIONS: VersionRange = versions(LIST_GROUPS.0, LIST_GROUPS.1);

/// Answers ListGroups through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: ListGroupsRequest,
    ctx: &RequestContext,
) -> ListGroupsResponse {
    // As in Kafka, each broker lists the groups it coordinates; admin
    // clients ask every broker.
    let mut response = groups.coordinator.list_groups(request, ctx.version).await;
    // DESCRIBE on the cluster shows every group; otherwise only the
    // groups the principal may DESCRIBE (Kafka's rule).
    let access = groups.access(ctx);
    let everything = access.cluster(AclOperation::Describe);
    response.groups.retain(|g| {
        groups.coordinates(&g.group_id.0, ctx.node_id)
            && (everything || access.group(AclOperation::Describe, &g.group_id.0))
    });
    response
}
