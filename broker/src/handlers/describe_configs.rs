//! DescribeConfigs (key 32), versions 1–4.
//!
//! Describes topic resources (every topic config the broker understands,
//! with its effective value and whether it is a topic override or the
//! default) and broker resources (the broker's own settings, read-only).
//! `configuration_keys` filters the list (null or empty: everything). Not supported: synonyms (the
//! list is always empty), documentation strings, broker-logger resources
//! (answered with INVALID_REQUEST).

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use kafka_protocol::ResponseError;

use super::{text, versions, RequestContext, TopicAdminContext};
use crate::topic_config::{
    describe_topic_configs, ConfigEntry, ConfigType, SOURCE_DEFAULT, SOURCE_STATIC_BROKER,
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
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let entries = match resource.resource_type {
                RESOURCE_TOPIC => match admin.topic(&resource.resource_name) {
                    Some(topic) => Ok(describe_topic_configs(
                        &admin.config.log_config,
                        &topic.configs,
                    )),
                    None => Err((
                        ResponseError::UnknownTopicOrPartition,
                        format!("topic {} does not exist", &*resource.resource_name),
                    )),
                },
                RESOURCE_BROKER => {
                    let name: &str = &resource.resource_name;
                    if name.is_empty() || name == ctx.node_id.to_string() {
                        Ok(broker_entries(admin))
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

fn render(
    entries: Vec<ConfigEntry>,
    keys: Option<&[StrBytes]>,
    version: i16,
) -> Vec<DescribeConfigsResourceResult> {
    entries
        .into_iter()
        // An empty key list means "all", like null (kafka-python sends []).
        .filter(|e| keys.is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| **k == e.name)))
        .map(|e| {
            let result = DescribeConfigsResourceResult::default()
                .with_name(text(e.name))
                .with_value(Some(text(e.value)))
                .with_read_only(e.read_only)
                .with_config_source(e.source)
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
