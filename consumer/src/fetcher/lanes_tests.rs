//! Several fetches in flight to one broker (`durian.fetch.max.in.flight.per.broker`):
//! the rules of [`super::lanes`], and against the embedded broker, two
//! fetches for disjoint partitions of one broker delivering every record
//! once and in order, also across a seek or a revocation while one is out.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::lanes::{split, Lanes, Room};
use super::long_poll_tests::{client_with_topic, produce, TOPIC};
use super::plan::{plan_fetches, FetchKind};
use super::tests::read_as_poll_does;
use super::*;

#[test]
fn a_long_poll_goes_alone_and_reading_fetches_share_a_broker() {
    let mut lanes = Lanes::new(3);
    assert_eq!(lanes.room(1), Room::Any(3));
    let first = lanes.take(1, FetchKind::Reading);
    assert_eq!(lanes.room(1), Room::Reading(2));
    assert_eq!(lanes.room(2), Room::Any(3), "another broker is free");
    let second = lanes.take(1, FetchKind::Reading);
    assert_ne!(first, second);
    let third = lanes.take(1, FetchKind::Reading);
    assert_eq!(lanes.room(1), Room::Full);
    assert_eq!(lanes.count(), 3);
    lanes.free(1, second);
    assert_eq!(lanes.room(1), Room::Reading(1));
    assert_eq!(lanes.take(1, FetchKind::Reading), second, "the free lane");
    lanes.free(1, first);
    lanes.free(1, second);
    lanes.free(1, third);
    assert!(!lanes.any());

    lanes.take(1, FetchKind::LongPoll);
    assert_eq!(
        lanes.room(1),
        Room::Full,
        "nothing queues behind a long poll"
    );
}

#[test]
fn split_keeps_a_partition_with_records_in_every_fetch() {
    let tp = |p| TopicPartition::new(TOPIC, p);
    let partitions = vec![
        (tp(0), FetchKind::Reading),
        (tp(1), FetchKind::LongPoll),
        (tp(2), FetchKind::Reading),
        (tp(3), FetchKind::Reading),
    ];
    let fetches = split(partitions.clone(), 2);
    assert_eq!(
        fetches,
        vec![
            (FetchKind::Reading, vec![tp(0), tp(1), tp(3)]),
            (FetchKind::Reading, vec![tp(2)]),
        ]
    );
    assert_eq!(split(partitions.clone(), 1).len(), 1);
    assert_eq!(
        split(partitions, 8).len(),
        3,
        "one per partition with records"
    );
    let caught_up = vec![(tp(0), FetchKind::LongPoll), (tp(1), FetchKind::LongPoll)];
    assert_eq!(
        split(caught_up, 2),
        vec![(FetchKind::LongPoll, vec![tp(0), tp(1)])]
    );
}

/// A broker whose [`TOPIC`] holds `batches` batches of ten records on
/// both partitions, and a fetcher on it with up to two fetches in flight
/// per broker and about two batches per partition and fetch.
async fn two_partitions_on_a_broker(
    batches: usize,
) -> (
    durian_broker::BrokerHandle,
    Fetcher,
    TopicPartition,
    TopicPartition,
) {
    let broker = durian_broker::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let (client, leader) = client_with_topic(&broker.bootstrap()).await;
    let leader0 = client
        .metadata()
        .partition(TOPIC, 0)
        .and_then(|p| p.leader)
        .unwrap();
    produce(&client, leader0, 0, batches).await;
    produce(&client, leader, 1, batches).await;
    let mut config = ConsumerConfig::new(client.config().clone());
    config.fetch_max_wait = Duration::from_secs(60);
    config.max_partition_fetch_bytes = 2_400;
    config.fetch_max_in_flight = 2;
    let mut fetcher = Fetcher::new(client, Arc::new(config));
    let (p0, p1) = (TopicPartition::new(TOPIC, 0), TopicPartition::new(TOPIC, 1));
    fetcher.add([p0.clone(), p1.clone()]);
    fetcher.seek(&p0, 0, None);
    fetcher.seek(&p1, 0, None);
    (broker, fetcher, p0, p1)
}

/// Takes the first answer in (one fetch for both partitions: their log
/// ends are not known yet) and hands out five records, so both have
/// records buffered and known to be left on the broker; then starts the
/// fetches ahead, which must be two, one per partition.
async fn two_fetches_out(fetcher: &mut Fetcher, p0: &TopicPartition, p1: &TopicPartition) {
    fetcher.start_fetches();
    assert_eq!(fetcher.lanes.count(), 1, "a first fetch goes alone");
    tokio::time::timeout(Duration::from_secs(10), fetcher.wait_and_handle())
        .await
        .unwrap();
    fetcher.drain(5);
    fetcher.start_fetches();
    assert_eq!(fetcher.lanes.count(), 2, "two fetches to one broker");
    assert!(fetcher.cursor(p0).unwrap().in_flight);
    assert!(fetcher.cursor(p1).unwrap().in_flight);
}

#[tokio::test]
async fn two_fetches_in_flight_to_one_broker_deliver_every_record_once_in_order() {
    let (broker, mut fetcher, p0, p1) = two_partitions_on_a_broker(8).await;
    two_fetches_out(&mut fetcher, &p0, &p1).await;
    let mut first = BTreeMap::new();
    first.insert(p0.clone(), (0..5).collect::<Vec<i64>>());
    let read = read_as_poll_does(&mut fetcher, first, 160).await;
    assert_eq!(read[&p0], (0..80).collect::<Vec<i64>>());
    assert_eq!(read[&p1], (0..80).collect::<Vec<i64>>());
    assert_eq!(
        fetcher.sessions.open().len(),
        2,
        "each lane keeps its own fetch session"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_seek_or_revocation_with_two_fetches_out_delivers_nothing_stale() {
    let (broker, mut fetcher, p0, p1) = two_partitions_on_a_broker(8).await;
    two_fetches_out(&mut fetcher, &p0, &p1).await;
    // p0 back to 3 and p1 revoked while both fetches ahead are out.
    fetcher.seek(&p0, 3, None);
    fetcher.remove(std::slice::from_ref(&p1));
    let read = read_as_poll_does(&mut fetcher, BTreeMap::new(), 77).await;
    assert_eq!(read[&p0], (3..80).collect::<Vec<i64>>());
    assert!(!read.contains_key(&p1), "nothing of a revoked partition");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_broker_with_a_fetch_out_gets_a_second_only_for_records_known_to_wait() {
    let (broker, mut fetcher, p0, p1) = two_partitions_on_a_broker(1).await;
    fetcher.start_fetches();
    tokio::time::timeout(Duration::from_secs(10), fetcher.wait_and_handle())
        .await
        .unwrap();
    // Each partition's one batch is buffered; both are at their log end.
    let mut lanes = Lanes::new(2);
    lanes.take(1, FetchKind::Reading);
    let ahead_below = 2_400;
    let planning = plan_fetches(&fetcher.cursors, &lanes, ahead_below, |_| Some(1));
    assert!(
        planning.fetches.is_empty(),
        "a long poll must not queue behind the fetch in flight"
    );
    // p0 drained to its end, p1 has records left behind its position.
    assert_eq!(fetcher.drain_by_partition(10).len(), 1);
    fetcher.cursor_mut(&p1).unwrap().readable_end = Some(20);
    let planning = plan_fetches(&fetcher.cursors, &lanes, ahead_below, |_| Some(1));
    assert_eq!(planning.fetches, BTreeMap::from([(1, vec![p0, p1])]));
    broker.shutdown().await.unwrap();
}
