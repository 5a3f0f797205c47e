//! Building one Fetch request for the partitions it names (some or all of
//! those a broker leads).
//!
//! The request is sessionless (session id 0, epoch -1: KIP-227's "full
//! fetch, no session"), so every request names every partition and no
//! state on the broker can go stale. Topics carry both their name (up to
//! v12) and their id (v13+), since the version is chosen per connection.

use std::sync::Arc;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::config::ConsumerConfig;

/// One partition to fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchTarget {
    /// Topic name.
    pub topic: Arc<str>,
    /// Topic id from metadata (nil when unknown).
    pub topic_id: uuid::Uuid,
    /// Partition number.
    pub partition: i32,
    /// Offset to start at.
    pub fetch_offset: i64,
    /// The leader epoch the consumer knows for the partition (-1 unknown):
    /// a leader with another epoch refuses the fetch (KIP-320).
    pub current_leader_epoch: i32,
    /// Epoch of the last batch consumed before `fetch_offset` (-1 unknown):
    /// a leader whose log diverged there answers with a diverging epoch.
    pub last_fetched_epoch: i32,
}

/// A Fetch request for `targets`, sorted by topic so each topic appears once.
pub fn fetch_request(config: &ConsumerConfig, targets: &[FetchTarget]) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for target in targets {
        let partition = FetchPartition::default()
            .with_partition(target.partition)
            .with_current_leader_epoch(target.current_leader_epoch)
            .with_fetch_offset(target.fetch_offset)
            .with_last_fetched_epoch(target.last_fetched_epoch)
            .with_log_start_offset(-1)
            .with_partition_max_bytes(config.max_partition_fetch_bytes);
        match topics.last_mut() {
            Some(last) if last.topic.0.as_str() == &*target.topic => {
                last.partitions.push(partition)
            }
            _ => topics.push(
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(target.topic.to_string())))
                    .with_topic_id(target.topic_id)
                    .with_partitions(vec![partition]),
            ),
        }
    }
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(i32::try_from(config.fetch_max_wait.as_millis()).unwrap_or(i32::MAX))
        .with_min_bytes(config.fetch_min_bytes)
        .with_max_bytes(config.fetch_max_bytes)
        .with_isolation_level(config.isolation_level.as_i8())
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics)
        .with_rack_id(StrBytes::from_string(
            config.client_rack.clone().unwrap_or_default(),
        ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::ClientConfig;

    #[test]
    fn groups_partitions_by_topic_and_applies_limits() {
        let mut config = crate::ConsumerConfig::new(
            ClientConfig::builder()
                .bootstrap_servers(["h:1"])
                .build()
                .unwrap(),
        );
        config.max_partition_fetch_bytes = 1000;
        let target = |t: &str, p, o| FetchTarget {
            topic: Arc::from(t),
            topic_id: uuid::Uuid::nil(),
            partition: p,
            fetch_offset: o,
            current_leader_epoch: 4,
            last_fetched_epoch: 3,
        };
        let request = fetch_request(
            &config,
            &[target("a", 0, 5), target("a", 1, 7), target("b", 0, 0)],
        );
        assert_eq!(request.topics.len(), 2);
        assert_eq!(request.topics[0].partitions[1].fetch_offset, 7);
        assert_eq!(request.topics[0].partitions[1].partition_max_bytes, 1000);
        assert_eq!(request.session_epoch, -1);
        assert_eq!(request.max_wait_ms, 500);
        let epochs = &request.topics[1].partitions[0];
        assert_eq!(
            (epochs.current_leader_epoch, epochs.last_fetched_epoch),
            (4, 3)
        );
    }
}
