//! CreateTopics (key 19), versions 2–7.
//!
//! Creates topics with a partition count (-1 = broker default) and config
//! overrides; `validate_only` checks without creating. Replication factor
//! must be -1 or at most the number of nodes; replicas are simulated (one
//! shared log) and placed by the topology with the cluster-wide factor
//! (1 on a single broker), whatever the request asks. Manual replica
//! assignments are accepted when they name nodes of the cluster, but the
//! topology still decides placement. v5+ responses list the topic's
//! effective configs; v7 returns the topic id. Not supported: `timeout_ms`
//! (creation is synchronous).
//! Authorization: CREATE on the cluster or the topic, else
//! TOPIC_AUTHORIZATION_FAILED; without DESCRIBE_CONFIGS on a created topic
//! its configs are left out with TOPIC_AUTHORIZATION_FAILED as
//! `topic_config_error_code` (v5+), as Kafka answers.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, versions, RequestContext, TopicAdminContext};
use crate::state::TopicError;
use crate::topic_config::describe_topic_configs;

/// Versions served.
pub const VERSIONS: VersionRange = versions(2, 7);

/// Answers CreateTopics.
pub async fn handle(
    admin: &TopicAdminContext<'_>,
    request: CreateTopicsRequest,
    ctx: &RequestContext,
) -> CreateTopicsResponse {
    let version = ctx.version;
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = request
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.0.to_string()))
        .map(|t| t.name.0.to_string())
        .collect();
    let access = admin.access(ctx);
    let cluster_create = access.cluster(AclOperation::Create);
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let outcome = if !(cluster_create || access.topic(AclOperation::Create, &name)) {
            Err(TopicError {
                code: ResponseError::TopicAuthorizationFailed.code(),
                message: format!("CREATE on the cluster or on topic {name} is required"),
            })
        } else if duplicates.contains(&name) {
            Err(TopicError {
                code: ResponseError::InvalidRequest.code(),
                message: format!("topic {name} appears more than once in the request"),
            })
        } else {
            create_one(admin, &topic, request.validate_only).await
        };
        let result = CreatableTopicResult::default().with_name(topic.name);
        results.push(match outcome {
            Ok(mut created) => {
                if request.validate_only {
                    // Nothing was created, so there is no id to report.
                    created.id = uuid::Uuid::nil();
                }
                let described = access.topic(AclOperation::DescribeConfigs, &name);
                let result = success(admin, result, created, version);
                if described || version < 5 {
                    result
                } else {
                    // Kafka hides the configs of a topic whose configs the
                    // principal may not describe.
                    result.with_configs(None).with_topic_config_error_code(
                        ResponseError::TopicAuthorizationFailed.code(),
                    )
                }
            }
            Err(e) => result
                .with_error_code(e.code)
                .with_error_message(Some(text(e.message)))
                .with_configs(None),
        });
    }
    CreateTopicsResponse::default().with_topics(results)
}

async fn create_one(
    admin: &TopicAdminContext<'_>,
    topic: &CreatableTopic,
    validate_only: bool,
) -> Result<crate::catalog::TopicMeta, TopicError> {
    let nodes = admin.node_ids();
    let factor = i32::from(topic.replication_factor);
    if factor != -1 && !(1..=nodes.len() as i32).contains(&factor) {
        return Err(TopicError {
            code: ResponseError::InvalidReplicationFactor.code(),
            message: format!(
                "replication factor {factor} is larger than the {} available broker(s)",
                nodes.len()
            ),
        });
    }
    let mut partitions = topic.num_partitions;
    if !topic.assignments.is_empty() {
        let known_nodes = topic
            .assignments
            .iter()
            .all(|a| !a.broker_ids.is_empty() && a.broker_ids.iter().all(|b| nodes.contains(&b.0)));
        if !known_nodes || partitions != -1 {
            return Err(TopicError {
                code: ResponseError::InvalidReplicaAssignment.code(),
                message: format!(
                    "replica assignments may only name nodes {nodes:?}, with num_partitions -1"
                ),
            });
        }
        partitions = i32::try_from(topic.assignments.len()).unwrap_or(i32::MAX);
    }
    let configs: BTreeMap<String, String> = topic
        .configs
        .iter()
        .filter_map(|c| {
            c.value
                .as_ref()
                .map(|v| (c.name.to_string(), v.to_string()))
        })
        .collect();
    admin
        .topics
        .create_topic(&topic.name, partitions, configs, validate_only)
        .await
}

fn success(
    admin: &TopicAdminContext<'_>,
    result: CreatableTopicResult,
    topic: crate::catalog::TopicMeta,
    version: i16,
) -> CreatableTopicResult {
    let result = result.with_error_message(None);
    if version < 5 {
        return result.with_configs(Some(Vec::new()));
    }
    let configs = describe_topic_configs(&admin.config.log_config, &topic.configs)
        .into_iter()
        .map(|entry| {
            CreatableTopicConfigs::default()
                .with_name(text(entry.name))
                .with_value(Some(text(entry.value)))
                .with_read_only(entry.read_only)
                .with_config_source(entry.source)
        })
        .collect();
    let result = result
        .with_num_partitions(topic.partitions)
        .with_replication_factor(admin.replication_factor() as i16)
        .with_configs(Some(configs));
    if version >= 7 {
        result.with_topic_id(topic.id)
    } else {
        result
    }
}
