//! Metadata (key 3), versions 0–12.
//!
//! Reports this node as the only broker, controller and partition leader
//! (replicas and ISR are this node). Unknown topics are auto-created when
//! the broker allows it and the request does (`allow_auto_topic_creation`,
//! v4+; always allowed before v4, as in Kafka). Topics may be named or,
//! from v10, given by id. Authorized-operations fields are not filled
//! (no ACLs): they keep the "not requested" value.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::{text, topic_name, versions};
use crate::catalog::{validate_topic_name, TopicMeta};
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 12);

/// Answers Metadata.
pub async fn handle(
    state: &BrokerState,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    // v0 has no null: an empty list means "all topics".
    let wanted = match request.topics {
        Some(list) if !(version == 0 && list.is_empty()) => Some(list),
        _ => None,
    };
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let topics = match wanted {
        None => state
            .catalog
            .list()
            .iter()
            .map(|t| describe(state, t))
            .collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for entry in list {
                out.push(
                    lookup(
                        state,
                        entry.name.map(|n| n.0.to_string()),
                        entry.topic_id,
                        allow_create,
                    )
                    .await,
                );
            }
            out
        }
    };
    let node = &state.node;
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(node.node_id))
        .with_host(text(node.host.clone()))
        .with_port(node.port);
    MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_cluster_id(Some(text(node.cluster_id.clone())))
        .with_controller_id(BrokerId(node.node_id))
        .with_topics(topics)
}

async fn lookup(
    state: &BrokerState,
    name: Option<String>,
    id: Uuid,
    allow_create: bool,
) -> MetadataResponseTopic {
    let name = match name {
        Some(name) => name,
        None => {
            return match state.catalog.get_by_id(id) {
                Some(topic) => describe(state, &topic),
                None => MetadataResponseTopic::default()
                    .with_topic_id(id)
                    .with_error_code(ResponseError::UnknownTopicId.code()),
            }
        }
    };
    if validate_topic_name(&name).is_err() {
        return MetadataResponseTopic::default()
            .with_name(Some(topic_name(&name)))
            .with_error_code(ResponseError::InvalidTopicException.code());
    }
    match state.topic_or_auto_create(&name, allow_create).await {
        Ok(topic) => describe(state, &topic),
        Err(e) => MetadataResponseTopic::default()
            .with_name(Some(topic_name(&name)))
            .with_error_code(e.code),
    }
}

fn describe(state: &BrokerState, topic: &TopicMeta) -> MetadataResponseTopic {
    let node = BrokerId(state.node.node_id);
    let partitions = (0..topic.partitions)
        .map(|index| {
            MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_leader_id(node)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(topic.id)
        .with_partitions(partitions)
}
