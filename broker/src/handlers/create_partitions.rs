//! CreatePartitions (key 37), versions 0–3.
//!
//! Raises a topic's partition count; `validate_only` checks without
//! changing anything. Explicit assignments must name only this node. Not
//! supported: `timeout_ms` (the change is synchronous).

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{text, versions};
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 3);

/// Answers CreatePartitions.
pub async fn handle(
    state: &BrokerState,
    request: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let node = state.node.node_id;
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let foreign_node = topic
            .assignments
            .iter()
            .flatten()
            .any(|a| a.broker_ids.iter().any(|b| b.0 != node));
        let outcome = if foreign_node {
            Err((
                ResponseError::InvalidReplicaAssignment.code(),
                format!("assignments may only name node {node}"),
            ))
        } else {
            state
                .add_partitions(&topic.name, topic.count, request.validate_only)
                .await
                .map_err(|e| (e.code, e.message))
        };
        let result = CreatePartitionsTopicResult::default().with_name(topic.name);
        results.push(match outcome {
            Ok(()) => result.with_error_message(None),
            Err((code, message)) => result
                .with_error_code(code)
                .with_error_message(Some(text(message))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}
