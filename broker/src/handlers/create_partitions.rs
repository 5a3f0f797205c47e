//! CreatePartitions (key 37), versions 0–3.
//!
//! Raises a topic's partition count; `validate_only` checks without
//! changing anything. Explicit assignments must name nodes of the cluster
//! (the topology still decides placement). Not
//! supported: `timeout_ms` (the change is synchronous).
//! Authorization: ALTER on each topic, else TOPIC_AUTHORIZATION_FAILED.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, versions, RequestContext, TopicAdminContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 3);

/// Answers CreatePartitions.
pub async fn handle(
    admin: &TopicAdminContext<'_>,
    request: CreatePartitionsRequest,
    ctx: &RequestContext,
) -> CreatePartitionsResponse {
    let nodes = admin.node_ids();
    let access = admin.access(ctx);
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let foreign_node = topic
            .assignments
            .iter()
            .flatten()
            .any(|a| a.broker_ids.iter().any(|b| !nodes.contains(&b.0)));
        let outcome = if !access.topic(AclOperation::Alter, &topic.name) {
            Err((
                ResponseError::TopicAuthorizationFailed.code(),
                format!("ALTER on topic {} is required", topic.name.0),
            ))
        } else if foreign_node {
            Err((
                ResponseError::InvalidReplicaAssignment.code(),
                format!("assignments may only name nodes {nodes:?}"),
            ))
        } else {
            admin
                .topics
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
