//! One fetch session: the partitions it reads with the request fields
//! last given for them, and what the last answer told the client.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::TopicName;
use tokio::time::Instant;
use uuid::Uuid;

use super::SessionRequest;

/// A partition of a session: by topic id (v13+ sessions) or by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct PartitionKey {
    topic_id: Uuid,
    topic: TopicName,
    partition: i32,
}

impl PartitionKey {
    fn new(topic_id: Uuid, topic: &TopicName, partition: i32, uses_ids: bool) -> PartitionKey {
        // Only the field the session is keyed by counts, so a v13 request
        // that also fills in a name (or not) names the same partition.
        if uses_ids {
            PartitionKey {
                topic_id,
                topic: TopicName::default(),
                partition,
            }
        } else {
            PartitionKey {
                topic_id: Uuid::nil(),
                topic: topic.clone(),
                partition,
            }
        }
    }

    /// The key of a partition of an answer.
    pub(super) fn of_response(
        topic: &FetchableTopicResponse,
        partition: i32,
        uses_ids: bool,
    ) -> PartitionKey {
        PartitionKey::new(topic.topic_id, &topic.topic, partition, uses_ids)
    }
}

/// What a session knows of one partition.
#[derive(Debug, Clone)]
struct CachedPartition {
    /// The request fields last sent for it (fetch offset, epochs, limit).
    fetch: FetchPartition,
    /// The offsets last answered in this session (-1 before the first).
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

/// One session.
#[derive(Debug)]
pub(super) struct Session {
    /// The node that created it.
    pub(super) node: i32,
    /// Whether it was created at Fetch v13+ (topics by id).
    pub(super) uses_topic_ids: bool,
    /// The epoch its next request must carry.
    pub(super) next_epoch: i32,
    /// When a request last used it.
    pub(super) last_used: Instant,
    partitions: BTreeMap<PartitionKey, CachedPartition>,
}

impl Session {
    /// A session holding the partitions `request` names.
    pub(super) fn new(request: &SessionRequest, now: Instant) -> Session {
        let mut session = Session {
            node: request.node,
            uses_topic_ids: request.uses_topic_ids,
            next_epoch: 1,
            last_used: now,
            partitions: BTreeMap::new(),
        };
        session.add(&request.topics);
        session
    }

    /// How many partitions it holds: the measure of what it saves.
    pub(super) fn size(&self) -> usize {
        self.partitions.len()
    }

    fn add(&mut self, topics: &[FetchTopic]) {
        for topic in topics {
            for p in &topic.partitions {
                let key = PartitionKey::new(
                    topic.topic_id,
                    &topic.topic,
                    p.partition,
                    self.uses_topic_ids,
                );
                match self.partitions.get_mut(&key) {
                    Some(cached) => cached.fetch = p.clone(),
                    None => {
                        self.partitions.insert(
                            key,
                            CachedPartition {
                                fetch: p.clone(),
                                high_watermark: -1,
                                last_stable_offset: -1,
                                log_start_offset: -1,
                            },
                        );
                    }
                }
            }
        }
    }

    /// Applies an incremental request: its partitions are added or
    /// updated, its forgotten ones dropped, and the epoch moves on.
    pub(super) fn update(&mut self, request: &SessionRequest, now: Instant) {
        self.add(&request.topics);
        for topic in &request.forgotten {
            for &partition in &topic.partitions {
                let key =
                    PartitionKey::new(topic.topic_id, &topic.topic, partition, self.uses_topic_ids);
                self.partitions.remove(&key);
            }
        }
        self.last_used = now;
        // After i32::MAX comes 1: 0 and -1 mean "new session" and "no session".
        self.next_epoch = if self.next_epoch == i32::MAX {
            1
        } else {
            self.next_epoch + 1
        };
    }

    /// Every partition of the session, grouped by topic, as a request
    /// would name them.
    pub(super) fn topics(&self) -> Vec<FetchTopic> {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for (key, cached) in &self.partitions {
            match topics.last_mut() {
                Some(last) if last.topic == key.topic && last.topic_id == key.topic_id => {
                    last.partitions.push(cached.fetch.clone())
                }
                _ => topics.push(
                    FetchTopic::default()
                        .with_topic(key.topic.clone())
                        .with_topic_id(key.topic_id)
                        .with_partitions(vec![cached.fetch.clone()]),
                ),
            }
        }
        topics
    }

    /// Records an answered partition; true when the client must be told
    /// about it: records, an error, or offsets other than last answered.
    pub(super) fn record(&mut self, key: &PartitionKey, data: &PartitionData) -> bool {
        let has_records = data.records.as_ref().is_some_and(|r| !Bytes::is_empty(r));
        let Some(cached) = self.partitions.get_mut(key) else {
            return true;
        };
        let offsets_changed = cached.high_watermark != data.high_watermark
            || cached.last_stable_offset != data.last_stable_offset
            || cached.log_start_offset != data.log_start_offset;
        cached.high_watermark = data.high_watermark;
        cached.last_stable_offset = data.last_stable_offset;
        cached.log_start_offset = data.log_start_offset;
        has_records
            || data.error_code != 0
            || offsets_changed
            || data.diverging_epoch.epoch >= 0
            || data.preferred_read_replica.0 >= 0
    }
}

/// A random positive session id `taken` says is free.
pub(super) fn new_id(taken: impl Fn(i32) -> bool) -> i32 {
    loop {
        let id = rand::random::<i32>() & i32::MAX;
        if id != 0 && !taken(id) {
            return id;
        }
    }
}
