//! FindCoordinator (key 10), versions 0–6.
//!
//! The coordinator of a group or transactional id comes from the topology
//! (on a single broker: this node for every key; in a cluster: a running
//! node chosen by the key's hash, or pinned). v0–v3 carry one key; v4+
//! carry a batch in `coordinator_keys` and get one entry per key. Key
//! types other than group (0) and transaction (1) get INVALID_REQUEST; no
//! running node means COORDINATOR_NOT_AVAILABLE.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{text, versions, ClusterInfoContext, RequestContext};
use crate::topology::BrokerAddress;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 6);

/// Answers FindCoordinator.
pub async fn handle(
    cluster: &ClusterInfoContext<'_>,
    request: FindCoordinatorRequest,
    ctx: &RequestContext,
) -> FindCoordinatorResponse {
    let version = ctx.version;
    let valid_type = matches!(request.key_type, 0 | 1);
    let locate = |key: &str| -> Result<BrokerAddress, i16> {
        if !valid_type {
            return Err(ResponseError::InvalidRequest.code());
        }
        cluster
            .coordinator(key)
            .and_then(|node| cluster.broker(node))
            .ok_or(ResponseError::CoordinatorNotAvailable.code())
    };
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let entry = Coordinator::default().with_error_message(None);
                let entry = match locate(&key) {
                    Ok(b) => entry
                        .with_node_id(BrokerId(b.node_id))
                        .with_host(text(b.host))
                        .with_port(b.port),
                    Err(code) => entry
                        .with_error_code(code)
                        .with_node_id(BrokerId(-1))
                        .with_port(-1),
                };
                entry.with_key(key)
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let response = FindCoordinatorResponse::default();
    let response = if version >= 1 {
        response.with_error_message(None)
    } else {
        response
    };
    match locate(&request.key) {
        Ok(b) => response
            .with_node_id(BrokerId(b.node_id))
            .with_host(text(b.host))
            .with_port(b.port),
        Err(code) => response
            .with_error_code(code)
            .with_node_id(BrokerId(-1))
            .with_port(-1),
    }
}
