//! Fetching ahead of buffered records: what is planned, how answers join
//! the buffer, and that a seek, a revocation or a non-record answer never
//! lets records of a stale fetch ahead be handed out. The unit tests drive
//! the fetcher by hand; the last ones run against the embedded broker.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use durian_core::KafkaCode;

use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use kafka_protocol::messages::{FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::lanes::Lanes;
use super::long_poll_tests::{broker_and_fetcher, TOPIC};
use super::plan::plan_fetches;
use super::tests::{batch, data, holding, read_as_poll_does};
use super::*;

/// Partition 2 of "t" at offset 0 with records 0 and 1 buffered.
fn buffered_two() -> (Fetcher, TopicPartition) {
    holding(batch(0, &["a", "b"]))
}

/// The plan of a fetch ahead sent for the cursor as it is now.
fn ahead_plan(fetcher: &Fetcher, tp: &TopicPartition) -> FetchPlan {
    let cursor = fetcher.cursor(tp).unwrap();
    FetchPlan {
        node: 1,
        partitions: vec![Planned {
            tp: tp.clone(),
            version: cursor.version,
            offset: cursor.fetch_offset().unwrap(),
            leader_epoch: -1,
        }],
        lane: 0,
        session: super::session::SessionUse::none(),
    }
}

/// A fetch answer for partition 2 of "t".
fn answer(partition: kafka_protocol::messages::fetch_response::PartitionData) -> FetchResponse {
    FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("t")))
        .with_partitions(vec![partition])])
}

fn offsets(records: &[ConsumerRecord]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

#[tokio::test]
async fn a_partition_with_records_buffered_is_fetched_from_where_they_end() {
    let (fetcher, tp) = buffered_two();
    let cursor = fetcher.cursor(&tp).unwrap();
    assert_eq!(cursor.fetch_offset(), Some(2));
    assert_eq!(cursor.position, Some(0), "nothing handed out yet");
    let plan = |below| plan_fetches(&fetcher.cursors, &Lanes::new(1), below, |_| Some(1));
    assert_eq!(
        plan(1_000).fetches,
        BTreeMap::from([(1, vec![tp.clone()])]),
        "two bytes buffered, below the limit"
    );
    assert!(plan(0).fetches.is_empty(), "0 never fetches ahead");
    assert!(plan(2).fetches.is_empty(), "at the limit: no fetch ahead");
}

#[tokio::test]
async fn records_of_a_fetch_ahead_follow_the_buffered_ones() {
    let (mut fetcher, tp) = buffered_two();
    let plan = ahead_plan(&fetcher, &tp);
    fetcher.cursor_mut(&tp).unwrap().in_flight = true;
    assert_eq!(offsets(&fetcher.drain(1)), [0]);
    fetcher.handle((plan, Ok(answer(data(batch(2, &["c", "d"]))))));
    assert_eq!(offsets(&fetcher.drain(10)), [1, 2, 3]);
    assert_eq!(fetcher.positions()[&tp].0, 4);
    assert_eq!(fetcher.cursor(&tp).unwrap().fetch_offset(), Some(4));
}

#[tokio::test]
async fn a_seek_drops_the_answer_of_a_fetch_ahead_in_flight() {
    let (mut fetcher, tp) = buffered_two();
    let plan = ahead_plan(&fetcher, &tp);
    fetcher.cursor_mut(&tp).unwrap().in_flight = true;
    fetcher.seek(&tp, 0, None);
    fetcher.handle((plan, Ok(answer(data(batch(2, &["c", "d"]))))));
    assert!(
        fetcher.drain(10).is_empty(),
        "neither buffered nor stale records"
    );
    let cursor = fetcher.cursor(&tp).unwrap();
    assert_eq!((cursor.position, cursor.fetch_offset()), (Some(0), Some(0)));
    assert!(cursor.fetchable(), "fetched again from the new position");
}

#[tokio::test]
async fn a_revoked_partition_gets_nothing_from_a_fetch_ahead_in_flight() {
    let (mut fetcher, tp) = buffered_two();
    let plan = ahead_plan(&fetcher, &tp);
    fetcher.cursor_mut(&tp).unwrap().in_flight = true;
    fetcher.remove(std::slice::from_ref(&tp));
    // Assigned again before the answer arrives: a new cursor.
    fetcher.add([tp.clone()]);
    fetcher.seek(&tp, 5, None);
    fetcher.handle((plan, Ok(answer(data(batch(2, &["c", "d"]))))));
    assert!(fetcher.drain(10).is_empty());
    assert_eq!(fetcher.positions()[&tp].0, 5);
}

#[tokio::test]
async fn an_error_answering_a_fetch_ahead_waits_for_the_position() {
    let (mut fetcher, tp) = buffered_two();
    let plan = ahead_plan(&fetcher, &tp);
    fetcher.cursor_mut(&tp).unwrap().in_flight = true;
    let refused = data(Bytes::new()).with_error_code(KafkaCode::OFFSET_OUT_OF_RANGE.0);
    fetcher.handle((plan, Ok(answer(refused))));
    let cursor = fetcher.cursor(&tp).unwrap();
    assert!(!cursor.needs_reset, "the position itself is in range");
    assert!(
        !cursor.fetchable_ahead(1_000),
        "no second fetch ahead into the same error"
    );
    // The buffered records are handed out, then the partition fetches
    // from its position, where an error would be handled as before.
    assert_eq!(offsets(&fetcher.drain(10)), [0, 1]);
    let cursor = fetcher.cursor(&tp).unwrap();
    assert_eq!(cursor.fetch_offset(), Some(2));
    assert!(cursor.fetchable() && cursor.fetchable_ahead(1_000));
}

/// Reads `count` records of the one partition assigned to `fetcher`, as
/// `poll` does, and returns their offsets.
async fn read(fetcher: &mut Fetcher, count: usize) -> Vec<i64> {
    let read = read_as_poll_does(fetcher, BTreeMap::new(), count).await;
    assert!(read.len() <= 1, "one partition: {read:?}");
    read.into_values().flatten().collect()
}

/// About two batches of ten records per partition and fetch.
fn two_batches_per_fetch(config: &mut ConsumerConfig) {
    config.max_partition_fetch_bytes = 2_400;
}

#[tokio::test]
async fn fetches_ahead_against_the_broker_deliver_every_record_once_in_order() {
    let (broker, mut fetcher) = broker_and_fetcher(8, two_batches_per_fetch).await;
    let full = TopicPartition::new(TOPIC, 1);
    fetcher.add([full.clone()]);
    fetcher.seek(&full, 0, None);

    fetcher.start_fetches();
    fetcher.wait_and_handle().await;
    assert_eq!(offsets(&fetcher.drain(5)), [0, 1, 2, 3, 4]);
    // Records are still buffered, and the next fetch is already out.
    fetcher.start_fetches();
    let cursor = fetcher.cursor(&full).unwrap();
    assert!(!cursor.buffer.is_empty() && cursor.in_flight);

    let rest = read(&mut fetcher, 75).await;
    assert_eq!(rest, (5..80).collect::<Vec<i64>>());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_seek_with_a_fetch_ahead_in_flight_reads_from_the_new_position() {
    let (broker, mut fetcher) = broker_and_fetcher(8, two_batches_per_fetch).await;
    let full = TopicPartition::new(TOPIC, 1);
    fetcher.add([full.clone()]);
    fetcher.seek(&full, 0, None);
    fetcher.start_fetches();
    fetcher.wait_and_handle().await;
    assert_eq!(offsets(&fetcher.drain(5)), [0, 1, 2, 3, 4]);
    fetcher.start_fetches();
    assert!(fetcher.cursor(&full).unwrap().in_flight, "a fetch ahead");

    // Back to 3 while the fetch ahead (from past the buffer) is out: what
    // it brings is stale and must never be handed out.
    fetcher.seek(&full, 3, None);
    let again = read(&mut fetcher, 10).await;
    assert_eq!(again, (3..13).collect::<Vec<i64>>());
    broker.shutdown().await.unwrap();
}
