//! FindCoordinator (key 10), versions 0–6.
//!
//! The coordinator of a group or transactional id comes from the topology
//! (on a single broker: this node for every key; in a cluster: a running
//! node chosen by the key's hash, or pinned). v0–v3 carry one key; v4+
//! carry a batch in `coordinator_keys` and get one entry per key. Key
//! types other than group (0) and transaction (1) get INVALID_REQUEST; no
//! running node means COORDINATOR_NOT_AVAILABLE. Transactional ids are
//! placed like groups: the node the topology names runs the transaction
//! APIs for that id (broker/src/txn), the others answer NOT_COORDINATOR.
//!
//! Authorization, as Kafka: DESCRIBE on the group (else
//! GROUP_AUTHORIZATION_FAILED) or on the transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

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
    let key_type = request.key_type;
    let access = cluster.access(ctx);
    let locate = |key: &str| -> Result<BrokerAddress, Refusal> {
        match key_type {
            GROUP if !access.group(AclOperation::Describe, key) => {
                return Err(Refusal::code(ResponseError::GroupAuthorizationFailed))
            }
            GROUP => {}
            TRANSACTION if !access.transactional_id(AclOperation::Describe, key) => {
                return Err(Refusal::code(
                    ResponseError::TransactionalIdAuthorizationFailed,
                ))
            }
            TRANSACTION => {}
            _ => return Err(Refusal::code(ResponseError::InvalidRequest)),
        }
        cluster
            .coordinator(key)
            .and_then(|node| cluster.broker(node))
            .map(|b| ctx.advertised(b))
            .ok_or(Refusal::code(ResponseError::CoordinatorNotAvailable))
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
                    Err(refusal) => entry
                        .with_error_code(refusal.code)
                        .with_error_message(refusal.message.map(text))
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
        Err(refusal) => {
            // v0 has no error message field; kafka-protocol drops it there.
            let response = if version >= 1 {
                response.with_error_message(refusal.message.map(text))
            } else {
                response
            };
            response
                .with_error_code(refusal.code)
                .with_node_id(BrokerId(-1))
                .with_port(-1)
        }
    }
}

/// Key type of a consumer group.
const GROUP: i8 = 0;
/// Key type of a transactional id.
const TRANSACTION: i8 = 1;

/// Why a key has no coordinator: an error code and, where there is more to
/// say than the code's name, a message for the client.
struct Refusal {
    code: i16,
    message: Option<&'static str>,
}

impl Refusal {
    fn code(error: ResponseError) -> Refusal {
        Refusal {
            code: error.code(),
            message: None,
        }
    }
}
