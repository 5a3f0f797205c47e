//! FindCoordinator (key 10), versions 0–6.
//!
//! This node coordinates every group and transactional id. v0–v3 carry one
//! key; v4+ carry a batch in `coordinator_keys` and get one entry per key.
//! Key types other than group (0) and transaction (1) get INVALID_REQUEST.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{text, versions};
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 6);

/// Answers FindCoordinator.
pub async fn handle(
    state: &BrokerState,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let node = &state.node;
    let error = if matches!(request.key_type, 0 | 1) {
        0
    } else {
        ResponseError::InvalidRequest.code()
    };
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let entry = Coordinator::default()
                    .with_key(key)
                    .with_error_code(error)
                    .with_error_message(None);
                if error == 0 {
                    entry
                        .with_node_id(BrokerId(node.node_id))
                        .with_host(text(node.host.clone()))
                        .with_port(node.port)
                } else {
                    entry.with_node_id(BrokerId(-1)).with_port(-1)
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let response = FindCoordinatorResponse::default().with_error_code(error);
    let response = if version >= 1 {
        response.with_error_message(None)
    } else {
        response
    };
    if error == 0 {
        response
            .with_node_id(BrokerId(node.node_id))
            .with_host(text(node.host.clone()))
            .with_port(node.port)
    } else {
        response.with_node_id(BrokerId(-1)).with_port(-1)
    }
}
