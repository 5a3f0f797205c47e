//! Against the embedded broker: a partition at the end of its log, whose
//! fetch the broker holds for `fetch.max.wait.ms`, does not keep another
//! partition of the same broker from being fetched, nor closing the
//! consumer.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use durian_broker::Broker;
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{ClientConfig, KafkaError};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::*;
use durian_core::Target;

pub(super) const TOPIC: &str = "long-poll";

/// A connected client that knows the two-partition topic's leaders.
pub(super) async fn client_with_topic(bootstrap: &str) -> (Client, i32) {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_num_partitions(2)
            .with_replication_factor(1)]);
    let response = client.send(Target::Controller, request).await.unwrap();
    KafkaError::check(response.topics[0].error_code, None).unwrap();
    client.add_topics([TOPIC]);
    for _ in 0..200 {
        let metadata = client.refresh_metadata("test: leaders").await.unwrap();
        let leader = metadata
            .partition(TOPIC, 1)
            .and_then(|p| p.leader)
            .filter(|_| {
                metadata
                    .partition(TOPIC, 0)
                    .is_some_and(|p| p.leader.is_some())
            });
        if let Some(leader) = leader {
            return (client, leader);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("topic {TOPIC} has no leaders");
}

/// Writes `batches` batches of ten 100-byte records to `partition`.
pub(super) async fn produce(client: &Client, leader: i32, partition: i32, batches: usize) {
    let mut all = Vec::new();
    for _ in 0..batches {
        let mut writer = BatchWriter::builder().size_limit(usize::MAX).build();
        for _ in 0..10 {
            writer
                .try_append(1_700_000_000_000, None, Some(&[b'x'; 100]), NO_HEADERS)
                .unwrap();
        }
        all.push(writer.finish().unwrap());
    }
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(Bytes::from(all.concat())))])]);
    let response = client.send(Target::Broker(leader), request).await.unwrap();
    let code = response.responses[0].partition_responses[0].error_code;
    KafkaError::check(code, None).unwrap();
}

/// The setting every test here shares: a long poll the broker holds for
/// 60 s, so nothing in a test may depend on the hold ending.
const LONG_POLL: Duration = Duration::from_secs(60);

/// An embedded broker whose partition 1 of [`TOPIC`] holds `batches`
/// batches of ten records, and a fetcher on it with [`LONG_POLL`] and
/// whatever else `configure` sets (no partition assigned yet).
pub(super) async fn broker_and_fetcher(
    batches: usize,
    configure: impl FnOnce(&mut ConsumerConfig),
) -> (durian_broker::BrokerHandle, Fetcher) {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let (client, leader) = client_with_topic(&broker.bootstrap()).await;
    produce(&client, leader, 1, batches).await;
    let mut config = ConsumerConfig::new(client.config().clone());
    config.fetch_max_wait = LONG_POLL;
    configure(&mut config);
    (broker, Fetcher::new(client, Arc::new(config)))
}

#[tokio::test]
async fn a_caught_up_partition_does_not_hold_back_one_with_records() {
    // Partition 1 has more than one fetch's worth; partition 0 is empty.
    let (broker, mut fetcher) = broker_and_fetcher(4, |config| {
        // One batch of ten records per partition and fetch.
        config.max_partition_fetch_bytes = 1_200;
        // Fetching only once drained, so each fetch is one this test
        // expects (fetching ahead has its own test, in ahead_tests.rs).
        config.fetch_buffer_bytes = 0;
    })
    .await;
    let (empty, full) = (TopicPartition::new(TOPIC, 0), TopicPartition::new(TOPIC, 1));
    fetcher.add([empty.clone(), full.clone()]);
    fetcher.seek(&empty, 0, None);
    fetcher.seek(&full, 0, None);

    // The first fetch names both; the broker answers at once for partition 1.
    fetcher.start_fetches();
    fetcher.wait_and_handle().await;
    assert!(!fetcher.fetching());
    assert_eq!(fetcher.drain(5).len(), 5);
    assert_eq!(fetcher.cursor(&empty).unwrap().readable_end, Some(0));

    // Partition 0 is at its end: a fetch naming it alone would be held by
    // the broker, and partition 1, once drained, would queue behind it.
    let mut read = 5;
    while read < 40 {
        fetcher.start_fetches();
        let full_cursor = fetcher.cursor(&full).unwrap();
        if full_cursor.buffer.is_empty() {
            assert!(full_cursor.in_flight, "partition 1 drained but not fetched");
            assert!(fetcher.cursor(&empty).unwrap().in_flight, "rides along");
            // Answered at once: partition 1 has records on the broker.
            fetcher.wait_and_handle().await;
        } else {
            assert!(
                !fetcher.fetching(),
                "a long poll for partition 0 alone while partition 1 drains"
            );
        }
        read += fetcher.drain(5).len();
    }
    assert_eq!(read, 40);
    assert_eq!(fetcher.positions()[&full].0, 40);

    // Both at their end now: the long poll goes out for both.
    fetcher.start_fetches();
    assert!(fetcher.cursor(&empty).unwrap().in_flight);
    assert!(fetcher.cursor(&full).unwrap().in_flight);
    assert_eq!(
        FetchKind::of(fetcher.cursor(&full).unwrap()),
        FetchKind::LongPoll
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn closing_does_not_wait_out_a_long_poll_in_flight() {
    let (broker, mut fetcher) = broker_and_fetcher(1, |_| {}).await;
    let tp = TopicPartition::new(TOPIC, 1);
    fetcher.add([tp.clone()]);
    fetcher.seek(&tp, 0, None);
    // The first fetch opens a session and brings all ten records.
    fetcher.start_fetches();
    fetcher.wait_and_handle().await;
    assert_eq!(fetcher.drain(100).len(), 10);
    assert!(!fetcher.sessions.open().is_empty(), "a session to close");
    // At the end of the log: the next fetch is held by the broker.
    fetcher.start_fetches();
    assert!(fetcher.fetching());
    let answered = tokio::time::timeout(Duration::from_millis(300), fetcher.wait_and_handle());
    assert!(answered.await.is_err(), "the broker holds the fetch");
    assert!(fetcher.fetching());
    tokio::time::timeout(Duration::from_secs(10), fetcher.close_sessions())
        .await
        .expect("the close queued behind the 60 s long poll");
    broker.shutdown().await.unwrap();
}
