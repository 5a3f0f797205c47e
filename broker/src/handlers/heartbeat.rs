//! Heartbeat (key 12), versions from `group::versions::HEARTBEAT`.
//!
//! Keeps a member's session alive and signals rebalances.
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::HEARTBEAT;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(HEARTBEAT.0, HEARTBEAT.1);

/// Answers Heartbeat through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: HeartbeatRequest,
    version: i16,
) -> HeartbeatResponse {
    state.groups.heartbeat(request, version).await
}
