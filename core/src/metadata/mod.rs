//! The client's picture of the cluster.
//!
//! A [`ClusterMetadata`] is an immutable snapshot; the refresh task in
//! [`refresh`] replaces it as a whole (`Arc` swap), so readers never see a
//! half-applied update. Building a snapshot from a Metadata response is a
//! pure function ([`ClusterMetadata::merge`]) that keeps a partition's old
//! entry when the response carries an older leader epoch: a broker that has
//! not yet heard of the latest election must not move a leader backwards.

pub mod refresh;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::error::KafkaCode;

pub use refresh::MetadataTrigger;

/// A broker as listed in the metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker's node id.
    pub node_id: i32,
    /// Host name clients connect to.
    pub host: String,
    /// Port clients connect to.
    pub port: i32,
    /// The broker's rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, with IPv6 literals in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// The leader's node id; `None` while no leader is known.
    pub leader: Option<i32>,
    /// The leader epoch, or -1 when the broker does not report one.
    pub leader_epoch: i32,
    /// Node ids of all replicas.
    pub replicas: Vec<i32>,
    /// Node ids of the in-sync replicas.
    pub isr: Vec<i32>,
    /// Node ids of offline replicas.
    pub offline_replicas: Vec<i32>,
    /// The partition's error, if the broker reported one.
    pub error: Option<KafkaCode>,
}

/// One topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Topic id (nil when the broker predates topic ids).
    pub topic_id: Uuid,
    /// Whether this is an internal topic such as `__consumer_offsets`.
    pub is_internal: bool,
    /// The topic-level error, e.g. `UNKNOWN_TOPIC_OR_PARTITION`.
    pub error: Option<KafkaCode>,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionMetadata>,
}

/// A snapshot of cluster metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// Cluster id, if the broker reports one.
    pub cluster_id: Option<String>,
    /// The active controller's node id.
    pub controller_id: Option<i32>,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicMetadata>,
    /// Increases by one with every applied refresh; 0 before the first.
    pub generation: u64,
}

impl ClusterMetadata {
    /// The leader of a partition, if known.
    pub fn partition_leader(&self, topic: &str, partition: i32) -> Option<&BrokerInfo> {
        let leader = self.partition(topic, partition)?.leader?;
        self.brokers.get(&leader)
    }

    /// A partition's metadata.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMetadata> {
        self.topics.get(topic)?.partitions.get(&partition)
    }

    /// A topic's metadata.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name)
    }

    /// A broker by node id.
    pub fn broker(&self, node_id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&node_id)
    }

    /// Applies a Metadata response, returning the next snapshot.
    ///
    /// Brokers, controller and cluster id are replaced. Topics in the
    /// response replace their old entries, except that a partition keeps its
    /// old entry when the response's leader epoch is older. Topics absent
    /// from the response are kept only if they are still in `interest`
    /// (the response may have come from a request for fewer topics).
    pub fn merge(
        &self,
        response: &MetadataResponse,
        interest: &BTreeSet<String>,
    ) -> ClusterMetadata {
        let brokers = response
            .brokers
            .iter()
            .map(|b| {
                let info = BrokerInfo {
                    node_id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                };
                (info.node_id, info)
            })
            .collect();
        let mut topics: BTreeMap<String, TopicMetadata> = self
            .topics
            .iter()
            .filter(|(name, _)| interest.contains(*name))
            .map(|(name, topic)| (name.clone(), topic.clone()))
            .collect();
        for topic in &response.topics {
            let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            let old = self.topics.get(&name);
            topics.insert(name.clone(), merge_topic(name, topic, old));
        }
        ClusterMetadata {
            cluster_id: response.cluster_id.as_ref().map(|c| c.to_string()),
            controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
            topics,
            generation: self.generation + 1,
        }
    }
}

fn merge_topic(
    name: String,
    topic: &kafka_protocol::messages::metadata_response::MetadataResponseTopic,
    old: Option<&TopicMetadata>,
) -> TopicMetadata {
    let mut partitions = BTreeMap::new();
    for p in &topic.partitions {
        let fresh = PartitionMetadata {
            partition: p.partition_index,
            leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
            leader_epoch: p.leader_epoch,
            replicas: p.replica_nodes.iter().map(|n| n.0).collect(),
            isr: p.isr_nodes.iter().map(|n| n.0).collect(),
            offline_replicas: p.offline_replicas.iter().map(|n| n.0).collect(),
            error: code(p.error_code),
        };
        let kept = old
            .and_then(|t| t.partitions.get(&p.partition_index))
            .filter(|previous| is_older_epoch(&fresh, previous));
        match kept {
            Some(previous) => {
                tracing::debug!(
                    topic = %name,
                    partition = p.partition_index,
                    stale = fresh.leader_epoch,
                    current = previous.leader_epoch,
                    "ignoring metadata with an older leader epoch"
                );
                partitions.insert(p.partition_index, previous.clone())
            }
            None => partitions.insert(p.partition_index, fresh),
        };
    }
    // A topic-level error with no partitions (e.g. LEADER_NOT_AVAILABLE
    // while the topic is being created) says nothing about the partitions
    // already known; keep them rather than forgetting the topic's leaders.
    let error = code(topic.error_code);
    if partitions.is_empty() && error.is_some_and(KafkaCode::is_retriable) {
        if let Some(old) = old {
            partitions = old.partitions.clone();
        }
    }
    TopicMetadata {
        name,
        topic_id: topic.topic_id,
        is_internal: topic.is_internal,
        error,
        partitions,
    }
}

/// Whether `fresh` carries an older leader epoch than `previous`; -1 means
/// "unknown" and never counts as older.
fn is_older_epoch(fresh: &PartitionMetadata, previous: &PartitionMetadata) -> bool {
    fresh.leader_epoch >= 0
        && previous.leader_epoch >= 0
        && fresh.leader_epoch < previous.leader_epoch
}

fn code(raw: i16) -> Option<KafkaCode> {
    (raw != 0).then_some(KafkaCode(raw))
}

/// The Metadata request for `topics` (empty: brokers and controller only).
///
/// Topics are never created as a side effect of a metadata lookup.
pub fn metadata_request(topics: &BTreeSet<String>) -> MetadataRequest {
    let topics = topics
        .iter()
        .map(|name| {
            MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
        })
        .collect();
    MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(false)
}

/// [`metadata_request`] as it can be sent at `version`.
///
/// Before v4 the request has no `allow_auto_topic_creation` field (the
/// broker's own `auto.create.topics.enable` decides) and kafka-protocol
/// refuses to encode `false` there, so it is left at its default, as the
/// Java client's producer does. Brokers that stop at Metadata v3 exist:
/// librdkafka 2.0's mock cluster serves v0–v2.
pub(crate) fn metadata_request_at(topics: &BTreeSet<String>, version: i16) -> MetadataRequest {
    let request = metadata_request(topics);
    if version < 4 {
        request.with_allow_auto_topic_creation(true)
    } else {
        request
    }
}

/// A shared snapshot.
pub type MetadataSnapshot = Arc<ClusterMetadata>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::BrokerId;

    fn response(partitions: &[(i32, i32, i32)]) -> MetadataResponse {
        MetadataResponse::default()
            .with_controller_id(BrokerId(1))
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("h1"))
                    .with_port(9092),
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(2))
                    .with_host(StrBytes::from_static_str("h2"))
                    .with_port(9093),
            ])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(index, leader, epoch)| {
                            MetadataResponsePartition::default()
                                .with_partition_index(index)
                                .with_leader_id(BrokerId(leader))
                                .with_leader_epoch(epoch)
                        })
                        .collect(),
                )])
    }

    fn interest() -> BTreeSet<String> {
        ["t".to_owned()].into()
    }

    #[test]
    fn merge_builds_brokers_topics_and_leaders() {
        let meta =
            ClusterMetadata::default().merge(&response(&[(0, 1, 3), (1, 2, 5)]), &interest());
        assert_eq!(meta.generation, 1);
        assert_eq!(meta.controller_id, Some(1));
        assert_eq!(meta.partition_leader("t", 1).unwrap().address(), "h2:9093");
        assert!(meta.partition_leader("t", 7).is_none());
    }

    #[test]
    fn leader_epochs_never_go_backwards() {
        let first =
            ClusterMetadata::default().merge(&response(&[(0, 1, 5), (1, 1, 5)]), &interest());
        // A lagging broker reports partition 0 with an older epoch and a
        // different leader; partition 1 moved forward legitimately.
        let second = first.merge(&response(&[(0, 2, 4), (1, 2, 6)]), &interest());
        assert_eq!(second.partition("t", 0).unwrap().leader, Some(1));
        assert_eq!(second.partition("t", 0).unwrap().leader_epoch, 5);
        assert_eq!(second.partition("t", 1).unwrap().leader, Some(2));
        assert_eq!(second.partition("t", 1).unwrap().leader_epoch, 6);
        // Unknown epochs (-1, old brokers) are always accepted.
        let third = second.merge(&response(&[(0, 2, -1)]), &interest());
        assert_eq!(third.partition("t", 0).unwrap().leader, Some(2));
    }

    #[test]
    fn topics_outside_the_interest_are_dropped_but_unanswered_ones_kept() {
        let first = ClusterMetadata::default().merge(&response(&[(0, 1, 0)]), &interest());
        let mut empty = response(&[]);
        empty.topics.clear();
        let kept = first.merge(&empty, &interest());
        assert!(kept.topic("t").is_some());
        let dropped = first.merge(&empty, &BTreeSet::new());
        assert!(dropped.topic("t").is_none());
    }

    #[test]
    fn the_request_encodes_at_every_version() {
        use kafka_protocol::protocol::{Encodable, Message};
        for version in MetadataRequest::VERSIONS.min..=MetadataRequest::VERSIONS.max {
            let request = metadata_request_at(&interest(), version);
            let mut buf = bytes::BytesMut::new();
            request
                .encode(&mut buf, version)
                .unwrap_or_else(|e| panic!("Metadata v{version}: {e}"));
            assert_eq!(request.allow_auto_topic_creation, version < 4);
        }
    }

    #[test]
    fn request_lists_topics_and_never_auto_creates() {
        let request = metadata_request(&interest());
        assert!(!request.allow_auto_topic_creation);
        assert_eq!(request.topics.as_ref().map(Vec::len), Some(1));
        let ipv6 = BrokerInfo {
            node_id: 1,
            host: "::1".into(),
            port: 9,
            rack: None,
        };
        assert_eq!(ipv6.address(), "[::1]:9");
    }
}
