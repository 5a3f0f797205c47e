//! ConsumerGroupHeartbeat (key 68), versions from `group::versions::CONSUMER_GROUP_HEARTBEAT`.
//!
//! Joins, heartbeats and leaves a group of the consumer group protocol (KIP-848).
//! The group coordinator does the work (broker/src/group/consumer); this file hands it the
//! broker's topics, against which subscriptions resolve, and answers NOT_COORDINATOR when
//! the receiving node does not coordinate the group (in a multi-node cluster), and
//! UNSUPPORTED_VERSION when `group.coordinator.rebalance.protocols` leaves `consumer` out.
//! Authorization first, as Kafka: READ on the group, else GROUP_AUTHORIZATION_FAILED.

use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, GroupContext, RequestContext};
use crate::group::versions::CONSUMER_GROUP_HEARTBEAT;
use crate::group::ClientInfo;

/// Versions served.
pub const VERSIONS: VersionRange = versions(CONSUMER_GROUP_HEARTBEAT.0, CONSUMER_GROUP_HEARTBEAT.1);

/// Answers ConsumerGroupHeartbeat through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: ConsumerGroupHeartbeatRequest,
    ctx: &RequestContext,
) -> ConsumerGroupHeartbeatResponse {
    let error = |code: ResponseError| {
        ConsumerGroupHeartbeatResponse::default().with_error_code(code.code())
    };
    if !groups.coordinator.consumer_protocol_enabled() {
        return error(ResponseError::UnsupportedVersion);
    }
    if !groups
        .access(ctx)
        .group(AclOperation::Read, &request.group_id.0)
    {
        return error(ResponseError::GroupAuthorizationFailed);
    }
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        return error(ResponseError::NotCoordinator);
    }
    let client = ClientInfo {
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    let topics = groups.topics();
    groups
        .coordinator
        .consumer_group_heartbeat(request, ctx.version, client, &topics)
        .await
}
