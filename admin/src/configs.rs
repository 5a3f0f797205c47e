//! Describing and incrementally altering topic and broker configs.
//!
//! Topic resources may go to any broker; a broker's own settings must be
//! asked of that broker, so resources are split by destination, sent as one
//! request per destination (concurrently) and merged:
//!
//! ```text
//! [topic a, topic b, broker 1, broker 2] ──▶ any: [a, b]   broker 1: [1]   broker 2: [2]
//! ```

use std::collections::BTreeMap;

use durian_core::{Error, Result, Target};
use futures::future::join_all;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::routing::{check, fail_all, per_item, send_versioned, split, unique};
use crate::types::{
    missing, AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource, ItemResults, ResourceKind,
};
use crate::Admin;

/// Where a resource's request goes: `None` for any broker, else the broker.
pub(crate) fn config_destination(resource: &ConfigResource) -> Result<Option<i32>> {
    match resource.kind {
        ResourceKind::Topic => Ok(None),
        ResourceKind::Broker => resource.name.parse::<i32>().map(Some).map_err(|_| {
            Error::Protocol(format!(
                "{resource}: a broker resource is named by its node id, e.g. `1`"
            ))
        }),
    }
}

fn target_of(destination: Option<i32>) -> Target {
    destination.map_or(Target::Any, Target::Broker)
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

/// A DescribeConfigs request for every setting of `resources`.
pub(crate) fn describe_configs_request(resources: &[ConfigResource]) -> DescribeConfigsRequest {
    let resources = resources
        .iter()
        .map(|r| {
            DescribeConfigsResource::default()
                .with_resource_type(r.kind.code())
                .with_resource_name(text(&r.name))
                .with_configuration_keys(None)
        })
        .collect();
    DescribeConfigsRequest::default().with_resources(resources)
}

/// One result per asked-for resource from a DescribeConfigs response.
pub(crate) fn parse_describe_configs(
    response: &DescribeConfigsResponse,
    resources: &[ConfigResource],
) -> Vec<(ConfigResource, Result<Vec<ConfigEntry>>)> {
    resources
        .iter()
        .map(|resource| {
            let found = response.results.iter().find(|r| {
                r.resource_type == resource.kind.code() && r.resource_name.as_str() == resource.name
            });
            let result = match found {
                None => Err(missing(resource)),
                Some(r) => check(r.error_code, r.error_message.as_ref()).map(|()| {
                    let mut entries: Vec<ConfigEntry> = r
                        .configs
                        .iter()
                        .map(|c| ConfigEntry {
                            name: c.name.to_string(),
                            value: c.value.as_ref().map(|v| v.to_string()),
                            source: ConfigSource::from_code(c.config_source),
                            read_only: c.read_only,
                            sensitive: c.is_sensitive,
                        })
                        .collect();
                    entries.sort_by(|a, b| a.name.cmp(&b.name));
                    entries
                }),
            };
            (resource.clone(), result)
        })
        .collect()
}

/// An IncrementalAlterConfigs request applying `changes`.
pub(crate) fn alter_configs_request(
    changes: &[(ConfigResource, &[AlterConfigOp])],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    let resources = changes
        .iter()
        .map(|(resource, ops)| {
            let configs = ops
                .iter()
                .map(|op| {
                    let (name, operation, value) = op.parts();
                    AlterableConfig::default()
                        .with_name(text(name))
                        .with_config_operation(operation)
                        .with_value(value.map(text))
                })
                .collect();
            AlterConfigsResource::default()
                .with_resource_type(resource.kind.code())
                .with_resource_name(text(&resource.name))
                .with_configs(configs)
        })
        .collect();
    IncrementalAlterConfigsRequest::default()
        .with_resources(resources)
        .with_validate_only(validate_only)
}

/// One result per asked-for resource from an IncrementalAlterConfigs response.
pub(crate) fn parse_alter_configs(
    response: &IncrementalAlterConfigsResponse,
    resources: &[ConfigResource],
) -> Vec<(ConfigResource, Result<()>)> {
    resources
        .iter()
        .map(|resource| {
            let found = response.responses.iter().find(|r| {
                r.resource_type == resource.kind.code() && r.resource_name.as_str() == resource.name
            });
            let result = match found {
                None => Err(missing(resource)),
                Some(r) => check(r.error_code, r.error_message.as_ref()),
            };
            (resource.clone(), result)
        })
        .collect()
}

impl Admin {
    /// Describes every setting of each resource, with its value and source;
    /// one result per resource.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_configs"))]
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
    ) -> ItemResults<ConfigResource, Vec<ConfigEntry>> {
        let resources = unique(resources);
        per_item(
            &self.client,
            &self.retry_settings(),
            resources,
            |pending| async move {
                self.fan_out(pending, |target, group| async move {
                    let sent = send_versioned(&self.client, &target, |_| {
                        Ok(describe_configs_request(&group))
                    })
                    .await;
                    match sent {
                        Ok((_, response)) => parse_describe_configs(&response, &group),
                        Err(error) => fail_all(&group, &error),
                    }
                })
                .await
            },
        )
        .await
    }

    /// Applies SET / DELETE / APPEND / SUBTRACT changes to each resource;
    /// settings not named keep their values. One result per resource.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "incremental_alter_configs"))]
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
    ) -> ItemResults<ConfigResource, ()> {
        let changes: BTreeMap<ConfigResource, Vec<AlterConfigOp>> = changes.into_iter().collect();
        let resources: Vec<ConfigResource> = changes.keys().cloned().collect();
        let changes = &changes;
        per_item(
            &self.client,
            &self.retry_settings(),
            resources,
            |pending| async move {
                self.fan_out(pending, |target, group| async move {
                    let sent = send_versioned(&self.client, &target, |_| {
                        let with_ops: Vec<(ConfigResource, &[AlterConfigOp])> = group
                            .iter()
                            .map(|r| (r.clone(), changes.get(r).map_or(&[][..], Vec::as_slice)))
                            .collect();
                        Ok(alter_configs_request(&with_ops, false))
                    })
                    .await;
                    match sent {
                        Ok((_, response)) => parse_alter_configs(&response, &group),
                        Err(error) => fail_all(&group, &error),
                    }
                })
                .await
            },
        )
        .await
    }

    /// Splits resources by destination and runs `send` once per
    /// destination, concurrently; unroutable resources fail alone.
    async fn fan_out<V, F, Fut>(
        &self,
        resources: Vec<ConfigResource>,
        send: F,
    ) -> Vec<(ConfigResource, Result<V>)>
    where
        F: Fn(Target, Vec<ConfigResource>) -> Fut,
        Fut: std::future::Future<Output = Vec<(ConfigResource, Result<V>)>>,
    {
        let split = split(resources, config_destination);
        let mut results: Vec<(ConfigResource, Result<V>)> = split
            .unroutable
            .into_iter()
            .map(|(resource, error)| (resource, Err(error)))
            .collect();
        let requests = split
            .routed
            .into_iter()
            .map(|(destination, group)| send(target_of(destination), group));
        results.extend(join_all(requests).await.into_iter().flatten());
        results
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::KafkaCode;
    use kafka_protocol::messages::describe_configs_response::{
        DescribeConfigsResourceResult, DescribeConfigsResult,
    };
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;

    #[test]
    fn broker_resources_go_to_their_broker_and_topics_anywhere() {
        let resources = vec![
            ConfigResource::topic("a"),
            ConfigResource::broker(2),
            ConfigResource::topic("b"),
            ConfigResource {
                kind: ResourceKind::Broker,
                name: "two".into(),
            },
        ];
        let split = split(resources, config_destination);
        assert_eq!(split.routed[&None].len(), 2);
        assert_eq!(split.routed[&Some(2)], [ConfigResource::broker(2)]);
        assert_eq!(split.unroutable.len(), 1);
        assert_eq!(target_of(Some(2)), Target::Broker(2));
        assert_eq!(target_of(None), Target::Any);
    }

    #[test]
    fn describe_parses_values_sources_and_errors() {
        let request = describe_configs_request(&[ConfigResource::topic("t")]);
        assert_eq!(request.resources[0].resource_type, 2);
        assert!(request.resources[0].configuration_keys.is_none());
        let response = DescribeConfigsResponse::default().with_results(vec![
            DescribeConfigsResult::default()
                .with_resource_type(2)
                .with_resource_name(text("t"))
                .with_configs(vec![
                    DescribeConfigsResourceResult::default()
                        .with_name(text("retention.ms"))
                        .with_value(Some(text("1000")))
                        .with_config_source(1),
                    DescribeConfigsResourceResult::default()
                        .with_name(text("cleanup.policy"))
                        .with_value(Some(text("delete")))
                        .with_config_source(5),
                ]),
            DescribeConfigsResult::default()
                .with_resource_type(2)
                .with_resource_name(text("gone"))
                .with_error_code(3),
        ]);
        let asked = [ConfigResource::topic("t"), ConfigResource::topic("gone")];
        let results = parse_describe_configs(&response, &asked);
        let entries = results[0].1.as_ref().unwrap();
        assert_eq!(entries[0].name, "cleanup.policy");
        assert_eq!(entries[1].value.as_deref(), Some("1000"));
        assert_eq!(entries[1].source, ConfigSource::TopicOverride);
        assert_eq!(
            results[1].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
    }

    #[test]
    fn alter_request_encodes_operations_and_response_maps_errors() {
        let ops = [
            AlterConfigOp::Set("retention.ms".into(), "5".into()),
            AlterConfigOp::Delete("segment.bytes".into()),
        ];
        let request = alter_configs_request(&[(ConfigResource::topic("t"), &ops[..])], true);
        let configs = &request.resources[0].configs;
        assert_eq!(
            (configs[0].config_operation, configs[1].config_operation),
            (0, 1)
        );
        assert_eq!(configs[0].value.as_ref().unwrap().as_str(), "5");
        assert!(configs[1].value.is_none());
        assert!(request.validate_only);
        let response = IncrementalAlterConfigsResponse::default().with_responses(vec![
            AlterConfigsResourceResponse::default()
                .with_resource_type(4)
                .with_resource_name(text("1"))
                .with_error_code(42),
        ]);
        let results = parse_alter_configs(&response, &[ConfigResource::broker(1)]);
        assert_eq!(
            results[0].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::INVALID_REQUEST)
        );
    }
}
