//! DescribeConfigs (key 32), versions 1–4.
//!
//! Describes topic resources (every topic config the broker understands,
//! with its effective value and whether it is a topic override or the
//! default) and broker resources (the broker's own settings, read-only).
//! `configuration_keys` filters the list (null or empty: everything).
//! With `include_synonyms`, a topic config lists where its value comes
//! from, most specific first, as Kafka does: the topic's override
//! (DYNAMIC_TOPIC_CONFIG) and the broker default it falls back to, under
//! the broker's name for it (e.g. `log.retention.ms`). Not supported:
//! documentation strings, broker-logger resources (answered with
//! INVALID_REQUEST).
//!
//! Authorization: DESCRIBE_CONFIGS on the topic (else
//! TOPIC_AUTHORIZATION_FAILED) or, for broker resources, on the cluster
//! (else CLUSTER_AUTHORIZATION_FAILED).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::topic_admin_context::config_refusal;
use super::{text, versions, RequestContext, TopicAdminContext};
use crate::topic_config::{
    describe_topic_configs, ConfigEntry, ConfigType, SOURCE_DEFAULT, SOURCE_STATIC_BROKER,
    SOURCE_TOPIC,
};

/// Versions served.
pub const VERSIONS: VersionRange = versions(1, 4);

/// DescribeConfigs resource type of a topic.
pub const RESOURCE_TOPIC: i8 = 2;
/// DescribeConfigs resource type of a broker.
pub const RESOURCE_BROKER: i8 = 4;

/// Answers DescribeConfigs.
pub async fn handle(
    admin: &TopicAdminContext<'_>,
    request: DescribeConfigsRequest,
    ctx: &RequestContext,
) -> DescribeConfigsResponse {
    let version = ctx.version;
    let with_synonyms = request.include_synonyms;
    let access = admin.access(ctx);
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let refusal = config_refusal(
                &access,
                AclOperation::DescribeConfigs,
                resource.resource_type,
                &resource.resource_name,
            );
            let entries = match refusal {
                Some(refused) => Err(refused),
                None => match resource.resource_type {
                    RESOURCE_TOPIC => match admin.topic(&resource.resource_name) {
                        Some(topic) => {
                            let log_config = &admin.config.log_config;
                            let entries = describe_topic_configs(log_config, &topic.configs);
                            let defaults = describe_topic_configs(log_config, &BTreeMap::new());
                            Ok(entries
                                .into_iter()
                                .zip(defaults)
                                .map(|(entry, default)| {
                                    let synonyms = if with_synonyms {
                                        topic_synonyms(&entry, default)
                                    } else {
                                        Vec::new()
                                    };
                                    (entry, synonyms)
                                })
                                .collect())
                        }
                        None => Err((
                            ResponseError::UnknownTopicOrPartition,
                            format!("topic {} does not exist", &*resource.resource_name),
                        )),
                    },
                    RESOURCE_BROKER => {
                        let name: &str = &resource.resource_name;
                        if name.is_empty() || name == ctx.node_id.to_string() {
                            Ok(broker_entries(admin)
                                .into_iter()
                                .map(|entry| (entry, Vec::new()))
                                .collect())
                        } else {
                            Err((
                                ResponseError::InvalidRequest,
                                format!("this is broker {}, not {name}", ctx.node_id),
                            ))
                        }
                    }
                    other => Err((
                        ResponseError::InvalidRequest,
                        format!("resource type {other} is not supported"),
                    )),
                },
            };
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            match entries {
                Ok(entries) => result.with_error_message(None).with_configs(render(
                    entries,
                    resource.configuration_keys.as_deref(),
                    version,
                )),
                Err((error, message)) => result
                    .with_error_code(error.code())
                    .with_error_message(Some(text(message))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// A config entry and its synonyms (empty unless asked for).
type Described = (ConfigEntry, Vec<DescribeConfigsSynonym>);

/// Where a topic config's value comes from, most specific first: the
/// topic's override, then the broker default under the broker's name.
fn topic_synonyms(entry: &ConfigEntry, default: ConfigEntry) -> Vec<DescribeConfigsSynonym> {
    let mut synonyms = Vec::with_capacity(2);
    if entry.source == SOURCE_TOPIC {
        synonyms.push(
            DescribeConfigsSynonym::default()
                .with_name(text(entry.name.clone()))
                .with_value(Some(text(entry.value.clone())))
                .with_source(SOURCE_TOPIC),
        );
    }
    if let Some(broker_name) = broker_synonym(&entry.name) {
        synonyms.push(
            DescribeConfigsSynonym::default()
                .with_name(text(broker_name))
                .with_value(Some(text(default.value)))
                .with_source(default.source),
        );
    }
    synonyms
}

/// The broker setting a topic config falls back to, by Kafka's names.
fn broker_synonym(topic_config: &str) -> Option<&'static str> {
    Some(match topic_config {
        "cleanup.policy" => "log.cleanup.policy",
        "compression.type" => "compression.type",
        "flush.messages" => "log.flush.interval.messages",
        "flush.ms" => "log.flush.interval.ms",
        "index.interval.bytes" => "log.index.interval.bytes",
        "max.message.bytes" => "message.max.bytes",
        "message.timestamp.type" => "log.message.timestamp.type",
        "min.insync.replicas" => "min.insync.replicas",
        "retention.bytes" => "log.retention.bytes",
        "retention.ms" => "log.retention.ms",
        "segment.bytes" => "log.segment.bytes",
        "segment.index.bytes" => "log.index.size.max.bytes",
        "segment.ms" => "log.roll.ms",
        _ => return None,
    })
}

fn render(
    entries: Vec<Described>,
    keys: Option<&[StrBytes]>,
    version: i16,
) -> Vec<DescribeConfigsResourceResult> {
    entries
        .into_iter()
        // An empty key list means "all", like null (kafka-python sends []).
        .filter(|(e, _)| {
            keys.is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| **k == e.name))
        })
        .map(|(e, synonyms)| {
            let result = DescribeConfigsResourceResult::default()
                .with_name(text(e.name))
                .with_value(Some(text(e.value)))
                .with_read_only(e.read_only)
                .with_config_source(e.source)
                .with_synonyms(synonyms)
                .with_documentation(None);
            if version >= 3 {
                result.with_config_type(e.config_type as i8)
            } else {
                result
            }
        })
        .collect()
}

/// The broker's own settings, as Kafka names them.
fn broker_entries(admin: &TopicAdminContext<'_>) -> Vec<ConfigEntry> {
    let c = &admin.config;
    let entry =
        |name: &str, value: String, config_type: ConfigType, is_default: bool| ConfigEntry {
            name: name.to_string(),
            value,
            source: if is_default {
                SOURCE_DEFAULT
            } else {
                SOURCE_STATIC_BROKER
            },
            config_type,
            read_only: true,
        };
    let defaults = crate::config::BrokerConfig::new(c.data_dir.clone());
    vec![
        entry("node.id", c.node_id.to_string(), ConfigType::Int, false),
        entry("broker.id", c.node_id.to_string(), ConfigType::Int, false),
        entry(
            "num.partitions",
            c.default_partitions.to_string(),
            ConfigType::Int,
            c.default_partitions == defaults.default_partitions,
        ),
        entry(
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
            ConfigType::Boolean,
            c.auto_create_topics == defaults.auto_create_topics,
        ),
        entry(
            "message.max.bytes",
            c.log_config.max_message_bytes.to_string(),
            ConfigType::Int,
            c.log_config.max_message_bytes == defaults.log_config.max_message_bytes,
        ),
        entry(
            "log.retention.ms",
            c.log_config.retention_ms.unwrap_or(-1).to_string(),
            ConfigType::Long,
            c.log_config.retention_ms == defaults.log_config.retention_ms,
        ),
        entry(
            "log.segment.bytes",
            c.log_config.segment_bytes.to_string(),
            ConfigType::Int,
            c.log_config.segment_bytes == defaults.log_config.segment_bytes,
        ),
        entry(
            "socket.request.max.bytes",
            c.socket_request_max_bytes.to_string(),
            ConfigType::Int,
            c.socket_request_max_bytes == defaults.socket_request_max_bytes,
        ),
        entry(
            "max.connections",
            c.max_connections.to_string(),
            ConfigType::Int,
            c.max_connections == defaults.max_connections,
        ),
        entry(
            "connections.max.idle.ms",
            c.connections_max_idle.as_millis().to_string(),
            ConfigType::Long,
            c.connections_max_idle == defaults.connections_max_idle,
        ),
        entry(
            "log.dirs",
            c.data_dir.display().to_string(),
            ConfigType::String,
            false,
        ),
    ]
}
