//! Creating, deleting, listing and describing topics.
//!
//! Creation and deletion go to the controller (retried on `NOT_CONTROLLER`
//! after a metadata refresh); listing and describing read a Metadata
//! response from any broker.

use std::collections::BTreeMap;

use durian_core::{Result, Target};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::routing::{check, fail_all, per_item, send_versioned, unique};
use crate::types::{
    missing, ConfigEntry, ConfigSource, CreatedTopic, ItemResults, NewTopic, PartitionDescription,
    TopicDescription, TopicListing,
};
use crate::Admin;

/// The first DeleteTopics version that names topics in `topics` (name or id).
const DELETE_TOPICS_BY_STATE: i16 = 6;

pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// A CreateTopics request for `topics`.
pub(crate) fn create_topics_request(
    topics: &[&NewTopic],
    timeout_ms: i32,
    validate_only: bool,
) -> CreateTopicsRequest {
    let topics = topics
        .iter()
        .map(|topic| {
            let configs = topic
                .configs
                .iter()
                .map(|(name, value)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(name.clone()))
                        .with_value(Some(StrBytes::from_string(value.clone())))
                })
                .collect();
            CreatableTopic::default()
                .with_name(topic_name(&topic.name))
                .with_num_partitions(topic.partitions.unwrap_or(-1))
                .with_replication_factor(topic.replication_factor.unwrap_or(-1))
                .with_configs(configs)
        })
        .collect();
    CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(timeout_ms)
        .with_validate_only(validate_only)
}

/// One result per asked-for topic from a CreateTopics response.
pub(crate) fn parse_create_topics(
    response: &CreateTopicsResponse,
    names: &[String],
) -> Vec<(String, Result<CreatedTopic>)> {
    names
        .iter()
        .map(|name| {
            let found = response.topics.iter().find(|t| t.name.0.as_str() == name);
            let result = match found {
                None => Err(missing(format_args!("topic `{name}`"))),
                Some(topic) => {
                    check(topic.error_code, topic.error_message.as_ref()).map(|()| CreatedTopic {
                        topic_id: topic.topic_id,
                        partitions: topic.num_partitions,
                        replication_factor: topic.replication_factor,
                        configs: topic
                            .configs
                            .iter()
                            .flatten()
                            .map(|c| ConfigEntry {
                                name: c.name.to_string(),
                                value: c.value.as_ref().map(|v| v.to_string()),
                                source: ConfigSource::from_code(c.config_source),
                                read_only: c.read_only,
                                sensitive: c.is_sensitive,
                            })
                            .collect(),
                    })
                }
            };
            (name.clone(), result)
        })
        .collect()
}

/// A DeleteTopics request for `names` at `version` (names move from
/// `topic_names` to `topics` in v6).
pub(crate) fn delete_topics_request(
    names: &[String],
    version: i16,
    timeout_ms: i32,
) -> DeleteTopicsRequest {
    let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
    if version >= DELETE_TOPICS_BY_STATE {
        request.with_topics(
            names
                .iter()
                .map(|name| DeleteTopicState::default().with_name(Some(topic_name(name))))
                .collect(),
        )
    } else {
        request.with_topic_names(names.iter().map(|name| topic_name(name)).collect())
    }
}

/// One result per asked-for topic from a DeleteTopics response.
pub(crate) fn parse_delete_topics(
    response: &DeleteTopicsResponse,
    names: &[String],
) -> Vec<(String, Result<()>)> {
    names
        .iter()
        .map(|name| {
            let found = response
                .responses
                .iter()
                .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == name));
            let result = match found {
                None => Err(missing(format_args!("topic `{name}`"))),
                Some(topic) => check(topic.error_code, topic.error_message.as_ref()),
            };
            (name.clone(), result)
        })
        .collect()
}

/// A Metadata request at `version` for `names`, or for every topic when
/// `None`.
///
/// It asks the broker not to create the topics, which Metadata can say only
/// from v4 on (kafka-protocol refuses to encode it earlier); a broker that
/// stops below v4 decides by its own `auto.create.topics.enable`.
pub(crate) fn topics_metadata_request(names: Option<&[String]>, version: i16) -> MetadataRequest {
    let topics = names.map(|names| {
        names
            .iter()
            .map(|name| MetadataRequestTopic::default().with_name(Some(topic_name(name))))
            .collect()
    });
    MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(version < 4)
}

/// Every topic of a Metadata response, ordered by name.
pub(crate) fn parse_topic_listing(response: &MetadataResponse) -> Vec<TopicListing> {
    let mut topics: Vec<TopicListing> = response
        .topics
        .iter()
        .filter_map(|topic| {
            Some(TopicListing {
                name: topic.name.as_ref()?.0.to_string(),
                topic_id: topic.topic_id,
                is_internal: topic.is_internal,
            })
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    topics
}

/// One description per asked-for topic from a Metadata response.
pub(crate) fn parse_topic_descriptions(
    response: &MetadataResponse,
    names: &[String],
) -> Vec<(String, Result<TopicDescription>)> {
    names
        .iter()
        .map(|name| {
            let found = response
                .topics
                .iter()
                .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == name));
            let result = match found {
                None => Err(missing(format_args!("topic `{name}`"))),
                Some(topic) => check(topic.error_code, None).map(|()| describe(name, topic)),
            };
            (name.clone(), result)
        })
        .collect()
}

fn describe(name: &str, topic: &MetadataResponseTopic) -> TopicDescription {
    let ids = |nodes: &[kafka_protocol::messages::BrokerId]| nodes.iter().map(|n| n.0).collect();
    let mut partitions: Vec<PartitionDescription> = topic
        .partitions
        .iter()
        .map(|p| PartitionDescription {
            partition: p.partition_index,
            leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
            leader_epoch: p.leader_epoch,
            replicas: ids(&p.replica_nodes),
            isr: ids(&p.isr_nodes),
            offline_replicas: ids(&p.offline_replicas),
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    TopicDescription {
        name: name.to_owned(),
        topic_id: topic.topic_id,
        is_internal: topic.is_internal,
        partitions,
    }
}

impl Admin {
    /// Creates topics; one result per topic name.
    ///
    /// A topic whose name is invalid or that already exists fails alone
    /// (`INVALID_TOPIC_EXCEPTION`, `TOPIC_ALREADY_EXISTS`); the others are
    /// still created.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
    ) -> ItemResults<String, CreatedTopic> {
        self.create_topics_with(topics, false).await
    }

    /// Like [`Admin::create_topics`], but with `validate_only` the broker
    /// only checks the request and creates nothing.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "create_topics"))]
    pub async fn create_topics_with(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        validate_only: bool,
    ) -> ItemResults<String, CreatedTopic> {
        let by_name: BTreeMap<String, NewTopic> =
            topics.into_iter().map(|t| (t.name.clone(), t)).collect();
        let names: Vec<String> = by_name.keys().cloned().collect();
        let timeout = self.broker_timeout_ms();
        per_item(&self.client, &self.retry_settings(), names, |names| {
            let topics: Vec<&NewTopic> = names.iter().filter_map(|n| by_name.get(n)).collect();
            let request = create_topics_request(&topics, timeout, validate_only);
            async move {
                let sent = send_versioned(&self.client, &Target::Controller, |_| Ok(request)).await;
                match sent {
                    Ok((_, response)) => parse_create_topics(&response, &names),
                    Err(error) => fail_all(&names, &error),
                }
            }
        })
        .await
    }

    /// Deletes topics by name; one result per name.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "delete_topics"))]
    pub async fn delete_topics<I, S>(&self, names: I) -> ItemResults<String, ()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = unique(names.into_iter().map(Into::into));
        let timeout = self.broker_timeout_ms();
        per_item(
            &self.client,
            &self.retry_settings(),
            names,
            |names| async move {
                let sent = send_versioned(&self.client, &Target::Controller, |version| {
                    Ok(delete_topics_request(&names, version, timeout))
                })
                .await;
                match sent {
                    Ok((_, response)) => parse_delete_topics(&response, &names),
                    Err(error) => fail_all(&names, &error),
                }
            },
        )
        .await
    }

    /// Lists every topic of the cluster, internal ones included.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "list_topics"))]
    pub async fn list_topics(&self) -> Result<Vec<TopicListing>> {
        self.retrying(|| async {
            let response = self.topics_metadata(None).await?;
            Ok(parse_topic_listing(&response))
        })
        .await
    }

    /// Describes topics: id, partitions, leaders, replicas and ISR; one
    /// result per name (`UNKNOWN_TOPIC_OR_PARTITION` for a missing topic).
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_topics"))]
    pub async fn describe_topics<I, S>(&self, names: I) -> ItemResults<String, TopicDescription>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = unique(names.into_iter().map(Into::into));
        per_item(
            &self.client,
            &self.retry_settings(),
            names,
            |names| async move {
                match self.topics_metadata(Some(&names)).await {
                    Ok(response) => parse_topic_descriptions(&response, &names),
                    Err(error) => fail_all(&names, &error),
                }
            },
        )
        .await
    }

    /// One Metadata request for `names` (all topics when `None`); callers
    /// inside a retried round rely on the round to retry it.
    pub(crate) async fn topics_metadata(
        &self,
        names: Option<&[String]>,
    ) -> Result<MetadataResponse> {
        let (_, response) = send_versioned(&self.client, &Target::Any, |version| {
            Ok(topics_metadata_request(names, version))
        })
        .await?;
        check(response.error_code, None)?;
        Ok(response)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::{Error, KafkaCode};
    use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
    use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
    use kafka_protocol::messages::metadata_response::MetadataResponsePartition;
    use kafka_protocol::messages::BrokerId;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn create_request_carries_defaults_and_configs() {
        let topic = NewTopic {
            name: "t".into(),
            ..NewTopic::default()
        }
        .config("retention.ms", "5");
        let request = create_topics_request(&[&topic], 1000, true);
        let wire = &request.topics[0];
        assert_eq!(wire.num_partitions, -1);
        assert_eq!(wire.replication_factor, -1);
        assert_eq!(wire.configs[0].name.as_str(), "retention.ms");
        assert!(request.validate_only);
        assert_eq!(request.timeout_ms, 1000);
    }

    #[test]
    fn create_response_gives_one_result_per_topic() {
        let id = uuid::Uuid::from_u128(7);
        let response = CreateTopicsResponse::default().with_topics(vec![
            CreatableTopicResult::default()
                .with_name(topic_name("good"))
                .with_topic_id(id)
                .with_num_partitions(3),
            CreatableTopicResult::default()
                .with_name(topic_name("bad name"))
                .with_error_code(17)
                .with_error_message(Some(StrBytes::from_static_str("illegal character"))),
        ]);
        let results = parse_create_topics(&response, &names(&["good", "bad name", "absent"]));
        let good = results[0].1.as_ref().unwrap();
        assert_eq!((good.topic_id, good.partitions), (id, 3));
        let bad = results[1].1.as_ref().unwrap_err();
        assert_eq!(bad.kafka_code(), Some(KafkaCode::INVALID_TOPIC_EXCEPTION));
        assert!(bad.to_string().contains("illegal character"));
        assert!(matches!(results[2].1, Err(Error::Protocol(_))));
    }

    #[test]
    fn delete_request_shape_follows_the_version() {
        let list = names(&["a", "b"]);
        let old = delete_topics_request(&list, 5, 10);
        assert_eq!(old.topic_names.len(), 2);
        assert!(old.topics.is_empty());
        let new = delete_topics_request(&list, 6, 10);
        assert!(new.topic_names.is_empty());
        assert_eq!(new.topics[1].name.as_ref().unwrap().0.as_str(), "b");
        use kafka_protocol::protocol::Encodable;
        let mut buf = bytes::BytesMut::new();
        old.encode(&mut buf, 5).unwrap();
        new.encode(&mut buf, 6).unwrap();
        let response = DeleteTopicsResponse::default().with_responses(vec![
            DeletableTopicResult::default().with_name(Some(topic_name("a"))),
            DeletableTopicResult::default()
                .with_name(Some(topic_name("b")))
                .with_error_code(3),
        ]);
        let results = parse_delete_topics(&response, &list);
        assert!(results[0].1.is_ok());
        assert_eq!(
            results[1].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
    }

    #[test]
    fn metadata_gives_listings_and_descriptions() {
        let id = uuid::Uuid::from_u128(9);
        let response = MetadataResponse::default().with_topics(vec![
            MetadataResponseTopic::default()
                .with_name(Some(topic_name("t")))
                .with_topic_id(id)
                .with_partitions(vec![
                    MetadataResponsePartition::default()
                        .with_partition_index(1)
                        .with_leader_id(BrokerId(-1)),
                    MetadataResponsePartition::default()
                        .with_partition_index(0)
                        .with_leader_id(BrokerId(4))
                        .with_replica_nodes(vec![BrokerId(4), BrokerId(5)])
                        .with_isr_nodes(vec![BrokerId(4)]),
                ]),
            MetadataResponseTopic::default()
                .with_name(Some(topic_name("missing")))
                .with_error_code(3),
        ]);
        let listing = parse_topic_listing(&response);
        assert_eq!(listing[0].name, "missing");
        assert_eq!(listing[1].topic_id, id);
        let results = parse_topic_descriptions(&response, &names(&["t", "missing"]));
        let t = results[0].1.as_ref().unwrap();
        assert_eq!(t.topic_id, id);
        assert_eq!(t.partitions[0].leader, Some(4));
        assert_eq!(t.partitions[0].replicas, [4, 5]);
        assert_eq!(t.partitions[0].isr, [4]);
        assert_eq!(t.partitions[1].leader, None);
        assert!(results[1].1.is_err());
        assert!(topics_metadata_request(None, 12).topics.is_none());
        assert_eq!(
            topics_metadata_request(Some(&names(&["x"])), 12)
                .topics
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn metadata_request_encodes_at_every_version() {
        use kafka_protocol::protocol::{Encodable, Message};
        for version in 1..=MetadataRequest::VERSIONS.max {
            for names in [None, Some(names(&["x"]))] {
                let request = topics_metadata_request(names.as_deref(), version);
                assert_eq!(request.allow_auto_topic_creation, version < 4);
                request
                    .encode(&mut bytes::BytesMut::new(), version)
                    .unwrap_or_else(|e| panic!("Metadata v{version}: {e}"));
            }
        }
    }
}
