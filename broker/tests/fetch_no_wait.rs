//! A fetch that has records to return never waits out its `max_wait_ms`
//! (issue 18, a consume stall suspected of the broker).
//!
//! Each fetch here asks for up to 10 s of long poll with `min_bytes` 1 at
//! a position where records are already stored; an answer that takes 5 s
//! fails the test. The cases are the ones the stall's candidates named: a
//! position inside a batch, a caught-up partition named before one with
//! data, a byte limit below the first batch, a position at a segment
//! boundary, and a fetch-session partition the request does not name.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::topics::{create_topic, name, produce};
use common::{records_of, start_broker, TestClient};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use uuid::Uuid;

/// The long poll each fetch asks for.
const MAX_WAIT_MS: i32 = 10_000;

/// An answer later than this waited for data that was already there.
const PROMPT: Duration = Duration::from_secs(5);

/// A sessionless long-poll fetch of `(partition, offset)`s, each limited
/// to `partition_max_bytes`.
fn long_poll(
    topic: &str,
    topic_id: Uuid,
    partitions: &[(i32, i64)],
    partition_max_bytes: i32,
) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(MAX_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_topic_id(topic_id)
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(partition, offset)| {
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(partition_max_bytes)
                    })
                    .collect(),
            )])
}

/// Sends `request` and fails unless it is answered within [`PROMPT`].
async fn answered_promptly(
    client: &mut TestClient,
    request: &FetchRequest,
    version: i16,
    what: &str,
) -> FetchResponse {
    let correlation = client.send(request, version).await;
    tokio::time::timeout(PROMPT, client.receive::<FetchRequest>(correlation, version))
        .await
        .unwrap_or_else(|_| {
            panic!("{what} (v{version}): the fetch waited although records were there")
        })
}

/// The offsets of the records answered for `partition`.
fn offsets(response: &FetchResponse, partition: i32) -> Vec<i64> {
    let answer = response
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == partition)
        .unwrap_or_else(|| panic!("partition {partition} is answered"));
    assert_eq!(answer.error_code, 0, "partition {partition}");
    records_of(answer.records.as_ref().unwrap())
        .iter()
        .map(|r| r.offset)
        .collect()
}

#[tokio::test]
async fn a_fetch_below_the_high_watermark_is_answered_at_once() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, "below", 1).await;
    produce(&mut client, "below", 0, &["a", "b", "c"]).await;
    for version in [4i16, 11, 12, 13, 16] {
        // At the batch's start and inside it (the whole batch comes back).
        for offset in [0, 2] {
            let request = long_poll("below", topic_id, &[(0, offset)], 1 << 20);
            let response =
                answered_promptly(&mut client, &request, version, &format!("offset {offset}"))
                    .await;
            assert_eq!(offsets(&response, 0), vec![0, 1, 2]);
        }
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_caught_up_partition_does_not_hold_back_one_with_records() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, "mixed", 3).await;
    produce(&mut client, "mixed", 1, &["x"]).await;
    produce(&mut client, "mixed", 2, &["y", "z"]).await;
    // Partition 0 is at its end and named first; each partition may take
    // 1 byte, less than any batch: the first partition with records still
    // gets one whole batch (KIP-74), so the fetch has bytes to answer.
    let request = long_poll("mixed", topic_id, &[(0, 0), (1, 0), (2, 0)], 1);
    let response = answered_promptly(&mut client, &request, 12, "1-byte limit").await;
    assert_eq!(offsets(&response, 0), Vec::<i64>::new());
    assert_eq!(offsets(&response, 1), vec![0]);
    // Only the first partition with records is let past the limit.
    assert_eq!(offsets(&response, 2), Vec::<i64>::new());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_fetch_at_a_segment_boundary_is_answered_at_once() {
    // Tiny segments: offsets 1 and 2 each start a segment.
    let broker = durian_broker::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .log_config(common::tiny_segments())
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, "rolled", 1).await;
    for value in ["first", "second", "third"] {
        produce(&mut client, "rolled", 0, &[value]).await;
    }
    for offset in [0i64, 1, 2] {
        let request = long_poll("rolled", topic_id, &[(0, offset)], 1 << 20);
        let response =
            answered_promptly(&mut client, &request, 12, &format!("offset {offset}")).await;
        // A read stays within one segment, which holds one batch here.
        assert_eq!(offsets(&response, 0), vec![offset]);
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_session_partition_the_request_does_not_name_is_still_read() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, "session", 1).await;
    // Epoch 0 opens a session on the empty partition (no wait).
    let open = long_poll("session", topic_id, &[(0, 0)], 1 << 20)
        .with_max_wait_ms(0)
        .with_session_epoch(0);
    let opened: FetchResponse = client.call(&open, 12).await;
    assert_eq!(opened.error_code, 0);
    assert_ne!(opened.session_id, 0, "a session is created");
    assert_eq!(offsets(&opened, 0), Vec::<i64>::new());
    produce(&mut client, "session", 0, &["late"]).await;
    // An incremental fetch naming nothing: the session's partition, still
    // at offset 0, now has a record, so the long poll ends at once.
    let incremental = FetchRequest::default()
        .with_max_wait_ms(MAX_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_id(opened.session_id)
        .with_session_epoch(1);
    let response = answered_promptly(&mut client, &incremental, 12, "incremental").await;
    assert_eq!(response.error_code, 0);
    assert_eq!(offsets(&response, 0), vec![0]);
    broker.shutdown().await.unwrap();
}
