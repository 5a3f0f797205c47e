//! OffsetDelete (key 47), versions from `group::versions::OFFSET_DELETE`.
//!
//! Deletes committed offsets of partitions the group no longer consumes.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).
//! Authorization, as Kafka: DELETE on the group (else
//! GROUP_AUTHORIZATION_FAILED), READ on each topic (else
//! TOPIC_AUTHORIZATION_FAILED for its partitions).

use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::OFFSET_DELETE;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_DELETE.0, OFFSET_DELETE.1);

/// Answers OffsetDelete through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    mut request: OffsetDeleteRequest,
    ctx: &RequestContext,
) -> OffsetDeleteResponse {
    let version = ctx.version;
    let access = groups.access(ctx);
    if !access.group(AclOperation::Delete, &request.group_id.0) {
        let code = ResponseError::GroupAuthorizationFailed.code();
        return error_reply::offset_delete(&request, code);
    }
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return error_reply::offset_delete(&request, code);
    }
    // Topics the principal may not READ keep their offsets and get
    // TOPIC_AUTHORIZATION_FAILED; the coordinator deletes the rest.
    let (allowed, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut request.topics)
        .into_iter()
        .partition(|t| access.topic(AclOperation::Read, &t.name));
    if denied.is_empty() {
        return groups
            .coordinator
            .offset_delete(request.with_topics(allowed), version)
            .await;
    }
    let code = ResponseError::TopicAuthorizationFailed.code();
    let refused = error_reply::offset_delete(&request.clone().with_topics(denied), code).topics;
    let mut response = if allowed.is_empty() {
        OffsetDeleteResponse::default()
    } else {
        groups
            .coordinator
            .offset_delete(request.with_topics(allowed), version)
            .await
    };
    response.topics.extend(refused);
    response
}
