//! OffsetDelete (key 47), versions from `group::versions::OFFSET_DELETE`.
//!
//! Deletes committed offsets of partitions the group no longer consumes.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).

use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::OFFSET_DELETE;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_DELETE.0, OFFSET_DELETE.1);

/// Answers OffsetDelete through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: OffsetDeleteRequest,
    ctx: &RequestContext,
) -> OffsetDeleteResponse {
    let version = ctx.version;
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return error_reply::offset_delete(&request, code);
    }
    groups.coordinator.offset_delete(request, version).await
}
