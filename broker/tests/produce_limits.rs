//! Produce size limits that apply to a partition's records as a whole:
//! records larger than the topic's `segment.bytes` are refused with
//! RECORD_LIST_TOO_LARGE (18), as Kafka's log append does, in that
//! partition's answer only, and nothing of them is written.

#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::topics::name;
use common::{batch, start_broker, TestClient};
use durian_core::record::{BatchWriter, NO_HEADERS};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, ListOffsetsRequest, ProduceRequest};
use kafka_protocol::protocol::StrBytes;

/// Kafka's smallest `segment.bytes` for a topic.
const SEGMENT: usize = 1 << 20;

fn config(key: &'static str, value: String) -> CreatableTopicConfig {
    CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str(key))
        .with_value(Some(StrBytes::from_string(value)))
}

/// One uncompressed batch of `count` records of `value_len` bytes (the
/// common `batch` helper keeps to the writer's default 16 KiB).
fn large_batch(count: usize, value_len: usize) -> Bytes {
    let mut writer = BatchWriter::builder().size_limit(usize::MAX).build();
    let value = vec![b'v'; value_len];
    for i in 0..count {
        let appended = writer
            .try_append(1_700_000_000_000 + i as i64, None, Some(&value), NO_HEADERS)
            .unwrap();
        assert!(appended);
    }
    writer.finish().unwrap()
}

/// One Produce (v9, acks=all) carrying `records` for each partition index.
fn produce(topic: &str, partitions: Vec<(i32, Bytes)>) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(
                partitions
                    .into_iter()
                    .map(|(index, records)| {
                        PartitionProduceData::default()
                            .with_index(index)
                            .with_records(Some(records))
                    })
                    .collect(),
            )])
}

#[tokio::test]
async fn records_larger_than_a_segment_are_refused_in_their_partition_only() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    // max.message.bytes above the segment, so that the segment is the
    // limit a batch meets (with the default, 1 MiB + 12, the batch size
    // check would refuse a single large batch first).
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name("seg"))
            .with_num_partitions(3)
            .with_replication_factor(-1)
            .with_configs(vec![
                config("segment.bytes", SEGMENT.to_string()),
                config("max.message.bytes", (4 * SEGMENT).to_string()),
            ])]);
    let created = client.call(&create, 7).await;
    assert_eq!(created.topics[0].error_code, 0, "{created:?}");

    // Partition 0: one batch over the segment. Partition 1: two batches
    // that each fit but not together (the check is on the partition's
    // records, not per batch). Partition 2: a small batch.
    let big = large_batch(11, 100_000);
    assert!(big.len() > SEGMENT);
    let half = large_batch(6, 100_000);
    assert!(half.len() < SEGMENT && half.len() * 2 > SEGMENT);
    let pair = Bytes::from([half.as_ref(), half.as_ref()].concat());
    let request = produce(
        "seg",
        vec![(0, big.clone()), (1, pair), (2, batch(&["small"]))],
    );
    let response = client.call(&request, 9).await;
    let answers = &response.responses[0].partition_responses;
    let by_index = |index: i32| answers.iter().find(|p| p.index == index).unwrap();
    for index in [0, 1] {
        let refused = by_index(index);
        assert_eq!(
            (refused.error_code, refused.base_offset),
            (18, -1),
            "partition {index}: RECORD_LIST_TOO_LARGE"
        );
        let message = refused.error_message.as_deref().unwrap_or_default();
        assert!(
            message.contains(&format!("segment.bytes = {SEGMENT}")),
            "partition {index}: {message}"
        );
    }
    let small = by_index(2);
    assert_eq!((small.error_code, small.base_offset), (0, 0));

    // Nothing of the refused records was written: the next append to each
    // starts at offset 0 and the logs end right after it.
    for index in [0, 1] {
        let next = client
            .call(&produce("seg", vec![(index, half.clone())]), 9)
            .await;
        let answer = &next.responses[0].partition_responses[0];
        assert_eq!((answer.error_code, answer.base_offset), (0, 0));
    }
    let latest = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(name("seg"))
        .with_partitions(
            (0..3)
                .map(|index| {
                    ListOffsetsPartition::default()
                        .with_partition_index(index)
                        .with_timestamp(-1)
                })
                .collect(),
        )]);
    let ends = client.call(&latest, 7).await;
    let ends: Vec<i64> = ends.topics[0].partitions.iter().map(|p| p.offset).collect();
    assert_eq!(ends, vec![6, 6, 1]);
    broker.shutdown().await.unwrap();
}
