//! OffsetDelete (key 47), versions from `group::versions::OFFSET_DELETE`.
//!
//! Deletes committed offsets of partitions the group no longer consumes.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).

use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{error_reply, versions, RequestContext};
use crate::group::versions::OFFSET_DELETE;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_DELETE.0, OFFSET_DELETE.1);

/// Answers OffsetDelete through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: OffsetDeleteRequest,
    ctx: &RequestContext,
) -> OffsetDeleteResponse {
    let version = ctx.version;
    if !state.topology.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return error_reply::offset_delete(&request, code);
    }
    state.groups.offset_delete(request, version).await
}
