//! Metadata (key 3), versions 0–12.
//!
//! Reports the running brokers, the controller and each partition's
//! leader, leader epoch, replicas, ISR and offline replicas from the
//! topology (on a single broker: this node everywhere, epoch 0). A
//! partition whose replicas are all down has leader -1 and
//! LEADER_NOT_AVAILABLE. Unknown topics are auto-created when
//! the broker allows it and the request does (`allow_auto_topic_creation`,
//! v4+; always allowed before v4, as in Kafka). Topics may be named or,
//! from v10, given by id.
//!
//! Authorization, as Kafka: a request for every topic lists only those
//! the principal may DESCRIBE; a named (or id-given) topic it may not
//! DESCRIBE gets TOPIC_AUTHORIZATION_FAILED. Auto-creating a missing
//! topic also needs CREATE on the cluster or the topic, else
//! TOPIC_AUTHORIZATION_FAILED. The authorized-operations bitfields are
//! filled when asked for (topics v8+, cluster v8–10).

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::{AclOperation, ResourceType};
use uuid::Uuid;

use super::{text, topic_name, versions, ClusterInfoContext, RequestContext};
use crate::catalog::{validate_topic_name, TopicMeta};
use crate::security::Access;
use crate::state::AutoCreateBudget;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 12);

/// Answers Metadata.
pub async fn handle(
    cluster: &ClusterInfoContext<'_>,
    request: MetadataRequest,
    ctx: &RequestContext,
) -> MetadataResponse {
    let version = ctx.version;
    // v0 has no null: an empty list means "all topics".
    let wanted = match request.topics {
        Some(list) if !(version == 0 && list.is_empty()) => Some(list),
        _ => None,
    };
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let access = cluster.access(ctx);
    let operations = request.include_topic_authorized_operations && version >= 8;
    let topics = match wanted {
        None => cluster
            .topics()
            .iter()
            .filter(|t| access.topic(AclOperation::Describe, &t.name))
            .map(|t| describe(cluster, t))
            .collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            let mut budget = cluster.auto_create_budget();
            for entry in list {
                out.push(
                    lookup(
                        cluster,
                        &access,
                        entry.name.map(|n| n.0.to_string()),
                        entry.topic_id,
                        allow_create,
                        &mut budget,
                    )
                    .await,
                );
            }
            out
        }
    };
    let topics = if operations {
        topics
            .into_iter()
            .map(|t| match &t.name {
                Some(name) if t.error_code == 0 => {
                    let bits = access.operations(ResourceType::Topic, name);
                    t.with_topic_authorized_operations(bits)
                }
                _ => t,
            })
            .collect()
    } else {
        topics
    };
    let brokers = cluster
        .live_brokers()
        .into_iter()
        .map(|b| ctx.advertised(b))
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.node_id))
                .with_host(text(b.host))
                .with_port(b.port)
        })
        .collect();
    let response = MetadataResponse::default();
    let response = if request.include_cluster_authorized_operations && (8..=10).contains(&version) {
        response.with_cluster_authorized_operations(access.cluster_operations())
    } else {
        response
    };
    response
        .with_brokers(brokers)
        .with_cluster_id(Some(text(cluster.cluster_id())))
        .with_controller_id(BrokerId(cluster.controller()))
        .with_topics(topics)
}

async fn lookup(
    cluster: &ClusterInfoContext<'_>,
    access: &Access<'_>,
    name: Option<String>,
    id: Uuid,
    allow_create: bool,
    budget: &mut AutoCreateBudget,
) -> MetadataResponseTopic {
    let denied = |name: Option<&str>| {
        MetadataResponseTopic::default()
            .with_name(name.map(topic_name))
            .with_topic_id(id)
            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
    };
    let name = match name {
        Some(name) => name,
        None => {
            return match cluster.topic_by_id(id) {
                Some(topic) if !access.topic(AclOperation::Describe, &topic.name) => denied(None),
                Some(topic) => describe(cluster, &topic),
                None => MetadataResponseTopic::default()
                    .with_topic_id(id)
                    .with_error_code(ResponseError::UnknownTopicId.code()),
            }
        }
    };
    if !access.topic(AclOperation::Describe, &name) {
        return denied(Some(&name));
    }
    if validate_topic_name(&name).is_err() {
        return MetadataResponseTopic::default()
            .with_name(Some(topic_name(&name)))
            .with_error_code(ResponseError::InvalidTopicException.code());
    }
    let may_create = allow_create
        && (cluster.topic(&name).is_some()
            || access.cluster(AclOperation::Create)
            || access.topic(AclOperation::Create, &name));
    if allow_create && !may_create && cluster.auto_creates() {
        return denied(Some(&name));
    }
    match cluster
        .topic_or_auto_create(&name, may_create, budget)
        .await
    {
        Ok(topic) => describe(cluster, &topic),
        Err(e) => MetadataResponseTopic::default()
            .with_name(Some(topic_name(&name)))
            .with_error_code(e.code),
    }
}

fn describe(cluster: &ClusterInfoContext<'_>, topic: &TopicMeta) -> MetadataResponseTopic {
    let ids = |nodes: Vec<i32>| nodes.into_iter().map(BrokerId).collect::<Vec<_>>();
    let partitions = (0..topic.partitions)
        .map(|index| {
            let placement = cluster.placement(&topic.name, index);
            let error = if placement.leader < 0 {
                ResponseError::LeaderNotAvailable.code()
            } else {
                0
            };
            MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_error_code(error)
                .with_leader_id(BrokerId(placement.leader))
                .with_leader_epoch(placement.leader_epoch)
                .with_replica_nodes(ids(placement.replicas))
                .with_isr_nodes(ids(placement.isr))
                .with_offline_replicas(ids(placement.offline))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(topic.id)
        .with_partitions(partitions)
}
