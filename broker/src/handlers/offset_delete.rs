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

use super::group_context::serve_readable_topics;
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
    let topics = std::mem::take(&mut request.topics);
    let skeleton = request.clone();
    let code = ResponseError::TopicAuthorizationFailed.code();
    serve_readable_topics(
        &access,
        topics,
        |t| &t.name,
        |denied| error_reply::offset_delete(&skeleton.with_topics(denied), code).topics,
        |allowed| {
            groups
                .coordinator
                .offset_delete(request.with_topics(allowed), version)
        },
        |reply: &mut OffsetDeleteResponse| &mut reply.topics,
    )
    .await
}
