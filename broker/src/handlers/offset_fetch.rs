//! OffsetFetch (key 9), versions from `group::versions::OFFSET_FETCH`.
//!
//! Returns committed offsets for one group (v1–v7) or several (v8+).
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR for groups the receiving node does not
//! coordinate (in a multi-node cluster).

use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::OFFSET_FETCH;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_FETCH.0, OFFSET_FETCH.1);

/// Answers OffsetFetch through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: OffsetFetchRequest,
    ctx: &RequestContext,
) -> OffsetFetchResponse {
    let version = ctx.version;
    let code = ResponseError::NotCoordinator.code();
    let here = |group: &str| groups.coordinates(group, ctx.node_id);
    if version < 8 {
        if !here(&request.group_id.0) {
            return error_reply::offset_fetch(&request, version, code);
        }
        return groups.coordinator.offset_fetch(request, version).await;
    }
    // v8+ batches groups: serve the ones coordinated here, refuse the rest,
    // and answer in the order asked.
    let (mine, foreign): (Vec<_>, Vec<_>) = request
        .groups
        .iter()
        .cloned()
        .partition(|g| here(&g.group_id.0));
    let mut served = groups
        .coordinator
        .offset_fetch(request.clone().with_groups(mine), version)
        .await;
    let mut answered = std::mem::take(&mut served.groups);
    answered.extend(
        foreign
            .iter()
            .map(|g| error_reply::offset_fetch_group(g, code)),
    );
    let groups = request
        .groups
        .iter()
        .filter_map(|g| {
            let at = answered.iter().position(|a| a.group_id == g.group_id)?;
            Some(answered.swap_remove(at))
        })
        .collect();
    served.with_groups(groups)
}
