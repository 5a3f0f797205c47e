//! Looking up partition offsets (ListOffsets) and deleting records
//! (DeleteRecords), both answered only by a partition's leader.
//!
//! Each round reads fresh leaders from a Metadata response for the topics
//! involved, groups the partitions by leader, and sends one request per
//! leader concurrently:
//!
//! ```text
//! {t-0, t-1, u-0} ──Metadata──▶ {1: [t-0, u-0], 2: [t-1]} ──ListOffsets ×2──▶ merge
//! ```
//!
//! `NOT_LEADER_OR_FOLLOWER` and similar answers send the partition into
//! the next round, which reads the leaders again.

use std::collections::{BTreeMap, BTreeSet};

use durian_core::{ClusterMetadata, Error, Result, Target};
use futures::future::join_all;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    BrokerId, DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse,
};
use kafka_protocol::protocol::Request;

use crate::routing::{check, fail_all, leader_of, per_item, send_versioned, split};
use crate::topics::topic_name;
use crate::types::{
    missing, DeletedRecords, ItemResults, ListedOffset, OffsetSpec, TopicPartition,
};
use crate::Admin;

/// The first ListOffsets version that knows the max-timestamp lookup (-3).
const MAX_TIMESTAMP_VERSION: i16 = 7;

/// Partitions grouped by topic, in order, with one value each.
fn by_topic<V: Copy>(items: &[(TopicPartition, V)]) -> BTreeMap<&str, Vec<(i32, V)>> {
    let mut topics: BTreeMap<&str, Vec<(i32, V)>> = BTreeMap::new();
    for (tp, value) in items {
        topics
            .entry(tp.topic())
            .or_default()
            .push((tp.partition, *value));
    }
    topics
}

/// A ListOffsets request for `specs` at `version`.
pub(crate) fn list_offsets_request(
    specs: &[(TopicPartition, OffsetSpec)],
    version: i16,
) -> Result<ListOffsetsRequest> {
    if version < MAX_TIMESTAMP_VERSION && specs.iter().any(|(_, s)| *s == OffsetSpec::MaxTimestamp)
    {
        return Err(Error::Protocol(format!(
            "the broker speaks ListOffsets v{version}; OffsetSpec::MaxTimestamp needs v{MAX_TIMESTAMP_VERSION}"
        )));
    }
    let topics = by_topic(specs)
        .into_iter()
        .map(|(topic, partitions)| {
            ListOffsetsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(partition, spec)| {
                            ListOffsetsPartition::default()
                                .with_partition_index(partition)
                                .with_current_leader_epoch(-1)
                                .with_timestamp(spec.wire_timestamp())
                        })
                        .collect(),
                )
        })
        .collect();
    Ok(ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(topics))
}

/// One result per asked-for partition from the per-topic answers of a
/// response: `topic` names a topic answer and lists its partition answers,
/// `slot` gives a partition answer's index and error code, and `read` turns
/// the answer found, when its code is no error, into the value; a partition
/// the broker left out is a protocol error.
pub(crate) fn per_asked_partition<T, P, V>(
    asked: &[TopicPartition],
    topics: &[T],
    topic: impl Fn(&T) -> (&str, &[P]),
    slot: impl Fn(&P) -> (i32, i16),
    read: impl Fn(&P) -> V,
) -> Vec<(TopicPartition, Result<V>)> {
    asked
        .iter()
        .map(|tp| {
            let found = topics
                .iter()
                .map(&topic)
                .filter(|(name, _)| *name == tp.topic())
                .flat_map(|(_, partitions)| partitions)
                .find(|p| slot(p).0 == tp.partition);
            let result = match found {
                None => Err(missing(tp)),
                Some(p) => check(slot(p).1, None).map(|()| read(p)),
            };
            (tp.clone(), result)
        })
        .collect()
}

/// One result per asked-for partition from a ListOffsets response.
pub(crate) fn parse_list_offsets(
    response: &ListOffsetsResponse,
    asked: &[TopicPartition],
) -> Vec<(TopicPartition, Result<ListedOffset>)> {
    per_asked_partition(
        asked,
        &response.topics,
        |t| (t.name.0.as_str(), &t.partitions),
        |p| (p.partition_index, p.error_code),
        |p| ListedOffset {
            offset: (p.offset >= 0).then_some(p.offset),
            timestamp: p.timestamp,
            leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
        },
    )
}

/// A DeleteRecords request moving each partition's log start to its offset
/// (-1: the high watermark, deleting everything).
pub(crate) fn delete_records_request(
    before: &[(TopicPartition, i64)],
    timeout_ms: i32,
) -> DeleteRecordsRequest {
    let topics = by_topic(before)
        .into_iter()
        .map(|(topic, partitions)| {
            DeleteRecordsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(partition, offset)| {
                            DeleteRecordsPartition::default()
                                .with_partition_index(partition)
                                .with_offset(offset)
                        })
                        .collect(),
                )
        })
        .collect();
    DeleteRecordsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(timeout_ms)
}

/// One result per asked-for partition from a DeleteRecords response.
pub(crate) fn parse_delete_records(
    response: &DeleteRecordsResponse,
    asked: &[TopicPartition],
) -> Vec<(TopicPartition, Result<DeletedRecords>)> {
    per_asked_partition(
        asked,
        &response.topics,
        |t| (t.name.0.as_str(), &t.partitions),
        |p| (p.partition_index, p.error_code),
        |p| DeletedRecords {
            low_watermark: p.low_watermark,
        },
    )
}

impl Admin {
    /// Looks up offsets (earliest, latest, max timestamp, or by
    /// timestamp); one result per partition.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "list_offsets"))]
    pub async fn list_offsets(
        &self,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
    ) -> ItemResults<TopicPartition, ListedOffset> {
        self.per_partition(specs, list_offsets_request, parse_list_offsets)
            .await
    }

    /// Deletes the records before the given offset of each partition (-1:
    /// all records), moving its log start offset; one result per partition.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "delete_records"))]
    pub async fn delete_records(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> ItemResults<TopicPartition, DeletedRecords> {
        let timeout = self.broker_timeout_ms();
        self.per_partition(
            before,
            |offsets, _| Ok(delete_records_request(offsets, timeout)),
            parse_delete_records,
        )
        .await
    }

    /// One result per partition (the last value given for a partition
    /// wins), retried per partition: each round sends one request per
    /// leader, built by `request` for the negotiated version from the
    /// partitions it leads with their values, whose answer `parse` reads;
    /// a request that fails fails its partitions.
    pub(crate) async fn per_partition<T, V, R, B, P>(
        &self,
        values: impl IntoIterator<Item = (TopicPartition, T)>,
        request: B,
        parse: P,
    ) -> ItemResults<TopicPartition, V>
    where
        T: Copy,
        R: Request,
        B: Fn(&[(TopicPartition, T)], i16) -> Result<R>,
        P: Fn(&R::Response, &[TopicPartition]) -> Vec<(TopicPartition, Result<V>)>,
    {
        let values: BTreeMap<TopicPartition, T> = values.into_iter().collect();
        let partitions: Vec<TopicPartition> = values.keys().cloned().collect();
        let (values, request, parse) = (&values, &request, &parse);
        per_item(
            &self.client,
            &self.retry_settings(),
            partitions,
            |pending| async move {
                self.by_leader(pending, |node, batch| async move {
                    let with_values: Vec<(TopicPartition, T)> = batch
                        .iter()
                        .filter_map(|tp| values.get(tp).map(|v| (tp.clone(), *v)))
                        .collect();
                    let sent = send_versioned(&self.client, &Target::Broker(node), |version| {
                        request(&with_values, version)
                    })
                    .await;
                    match sent {
                        Ok((_, response)) => parse(&response, &batch),
                        Err(error) => fail_all(&batch, &error),
                    }
                })
                .await
            },
        )
        .await
    }

    /// Fresh leaders of the topics of `partitions`.
    pub(crate) async fn leaders(&self, partitions: &[TopicPartition]) -> Result<ClusterMetadata> {
        let topics: BTreeSet<String> = partitions.iter().map(|tp| tp.topic().to_owned()).collect();
        let names: Vec<String> = topics.iter().cloned().collect();
        let response = self.topics_metadata(Some(&names)).await?;
        Ok(ClusterMetadata::default().merge(&response, &topics))
    }

    /// Groups `partitions` by leader and runs `send` once per leader,
    /// concurrently; partitions without a leader fail alone.
    pub(crate) async fn by_leader<V, F, Fut>(
        &self,
        partitions: Vec<TopicPartition>,
        send: F,
    ) -> Vec<(TopicPartition, Result<V>)>
    where
        F: Fn(i32, Vec<TopicPartition>) -> Fut,
        Fut: std::future::Future<Output = Vec<(TopicPartition, Result<V>)>>,
    {
        let metadata = match self.leaders(&partitions).await {
            Ok(metadata) => metadata,
            Err(error) => return fail_all(&partitions, &error),
        };
        let split = split(partitions, |tp| leader_of(&metadata, tp));
        let mut results: Vec<(TopicPartition, Result<V>)> = split
            .unroutable
            .into_iter()
            .map(|(tp, error)| (tp, Err(error)))
            .collect();
        let requests = split
            .routed
            .into_iter()
            .map(|(node, batch)| send(node, batch));
        results.extend(join_all(requests).await.into_iter().flatten());
        results
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::KafkaCode;
    use kafka_protocol::messages::delete_records_response::{
        DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
    };
    use kafka_protocol::messages::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    #[test]
    fn list_offsets_request_groups_partitions_by_topic() {
        let specs = [
            (tp("a", 0), OffsetSpec::Earliest),
            (tp("a", 1), OffsetSpec::Timestamp(1234)),
            (tp("b", 0), OffsetSpec::Latest),
        ];
        let request = list_offsets_request(&specs, 5).unwrap();
        assert_eq!(request.topics.len(), 2);
        let a = &request.topics[0].partitions;
        assert_eq!((a[0].timestamp, a[1].timestamp), (-2, 1234));
        assert_eq!(request.topics[1].partitions[0].timestamp, -1);
        assert_eq!(request.replica_id, BrokerId(-1));
        let max = [(tp("a", 0), OffsetSpec::MaxTimestamp)];
        assert!(list_offsets_request(&max, 6).is_err());
        assert_eq!(
            list_offsets_request(&max, 7).unwrap().topics[0].partitions[0].timestamp,
            -3
        );
    }

    #[test]
    fn list_offsets_response_maps_partitions() {
        let response =
            ListOffsetsResponse::default().with_topics(vec![ListOffsetsTopicResponse::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(0)
                        .with_offset(42)
                        .with_timestamp(-1)
                        .with_leader_epoch(3),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(1)
                        .with_offset(-1)
                        .with_leader_epoch(-1),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(2)
                        .with_error_code(6),
                ])]);
        let asked = [tp("a", 0), tp("a", 1), tp("a", 2), tp("a", 3)];
        let results = parse_list_offsets(&response, &asked);
        let first = results[0].1.as_ref().unwrap();
        assert_eq!((first.offset, first.leader_epoch), (Some(42), Some(3)));
        let none = results[1].1.as_ref().unwrap();
        assert_eq!((none.offset, none.leader_epoch), (None, None));
        assert_eq!(
            results[2].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::NOT_LEADER_OR_FOLLOWER)
        );
        assert!(matches!(results[3].1, Err(Error::Protocol(_))));
    }

    #[test]
    fn delete_records_round_trip() {
        let request = delete_records_request(&[(tp("a", 1), 10), (tp("a", 0), -1)], 99);
        let partitions = &request.topics[0].partitions;
        assert_eq!(
            (partitions[0].partition_index, partitions[0].offset),
            (1, 10)
        );
        assert_eq!(partitions[1].offset, -1);
        let response =
            DeleteRecordsResponse::default().with_topics(vec![DeleteRecordsTopicResult::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(1)
                        .with_low_watermark(10),
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(0)
                        .with_error_code(1),
                ])]);
        let results = parse_delete_records(&response, &[tp("a", 1), tp("a", 0)]);
        assert_eq!(results[0].1.as_ref().unwrap().low_watermark, 10);
        assert_eq!(
            results[1].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::OFFSET_OUT_OF_RANGE)
        );
    }
}
