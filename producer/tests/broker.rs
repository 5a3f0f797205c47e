//! The producer against durian's own broker: ordering, offsets, codecs,
//! flush and close.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use durian_core::Target;
use durian_producer::{Compression, Producer, ProducerError, ProducerRecord};
use durian_testkit::wait::eventually;
use futures::future::join_all;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::{CreatePartitionsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

#[tokio::test]
async fn many_records_over_six_partitions_arrive_in_order() {
    // The figure: 1M records (about 15 s in a debug build on two
    // cores). DURIAN_PRODUCER_RECORDS=100000 makes a quicker run.
    let per_partition = std::env::var("DURIAN_PRODUCER_RECORDS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1_000_000)
        / 6;
    let broker = start_broker(None, "127.0.0.1:0").await;
    produce_and_verify(
        &broker.bootstrap(),
        Compression::None,
        "many",
        6,
        per_partition,
    )
    .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_codec_round_trips_in_order() {
    // 30,000 records over 6 partitions per codec, idempotent, acks=all
    // (about 7 s in all in a debug build on two cores).
    let broker = start_broker(None, "127.0.0.1:0").await;
    for codec in CODECS {
        produce_and_verify(
            &broker.bootstrap(),
            codec,
            &format!("codec-{codec}"),
            6,
            5_000,
        )
        .await;
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn keyed_records_land_where_murmur2_says() {
    let broker = start_broker(None, "127.0.0.1:0").await;
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "keyed", 6).await;
    let producer = producer_for(&broker.bootstrap(), Compression::None);
    for key in ["21", "foobar", "abc", "user-7"] {
        let written = producer
            .send_and_wait(ProducerRecord::new("keyed", "v").with_key(key))
            .await
            .unwrap();
        let expected = durian_producer::partitioner::partition_for_key(key.as_bytes(), 6);
        assert_eq!(written.partition, expected, "key {key}");
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    broker.shutdown().await.unwrap();
}

/// The partition cache is keyed by the metadata generation: partitions
/// added to a topic are used once the producer's metadata is refreshed. A
/// cache that kept the old count would refuse partition 2 for ever.
#[tokio::test]
async fn partitions_added_to_a_topic_are_used_after_a_metadata_refresh() {
    let broker = start_broker(None, "127.0.0.1:0").await;
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "growing", 1).await;
    let producer = Producer::builder()
        .bootstrap_servers([broker.bootstrap()])
        .configure(|c| c.client.metadata_max_age = Duration::from_millis(100))
        .build()
        .unwrap();
    let first = producer
        .send_and_wait(ProducerRecord::new("growing", "v").with_partition(0))
        .await
        .unwrap();
    assert_eq!(first.partition, 0);
    let refused = producer
        .send(ProducerRecord::new("growing", "v").with_partition(2))
        .await;
    assert!(
        matches!(
            refused,
            Err(ProducerError::InvalidPartition { partitions: 1, .. })
        ),
        "{refused:?}"
    );
    let grow = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("growing")))
            .with_count(3)]);
    let response = admin.send(Target::Controller, grow).await.unwrap();
    assert_eq!(response.results[0].error_code, 0, "{response:?}");
    let written = eventually(
        Duration::from_secs(10),
        "partition 2 accepted after the metadata refresh",
        async || {
            let sent = producer
                .send(ProducerRecord::new("growing", "v").with_partition(2))
                .await;
            match sent {
                Ok(delivery) => Some(delivery.await.unwrap()),
                Err(ProducerError::InvalidPartition { .. }) => None,
                Err(other) => panic!("{other}"),
            }
        },
    )
    .await;
    assert_eq!((written.partition, written.offset), (2, 0));
    producer.close(Duration::from_secs(5)).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn flush_delivers_despite_a_long_linger_and_close_rejects_later_sends() {
    let broker = start_broker(None, "127.0.0.1:0").await;
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "flush", 2).await;
    let producer = Producer::builder()
        .bootstrap_servers([broker.bootstrap()])
        .linger(Duration::from_secs(60))
        .configure(|c| c.delivery_timeout = Duration::from_secs(120))
        .build()
        .unwrap();
    let pending = producer
        .send(ProducerRecord::new("flush", "one").with_partition(1))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    producer.flush().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "flush waited for linger"
    );
    let written = pending.await.unwrap();
    assert_eq!((written.partition, written.offset), (1, 0));
    // close delivers what is buffered, then refuses new records.
    let last = producer
        .send(ProducerRecord::new("flush", "two").with_partition(1))
        .await
        .unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(last.await.unwrap().offset, 1);
    let refused = producer.send(ProducerRecord::new("flush", "three")).await;
    assert!(matches!(refused, Err(ProducerError::Closed)), "{refused:?}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn acks_zero_delivers_without_offsets() {
    let broker = start_broker(None, "127.0.0.1:0").await;
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "acks0", 1).await;
    let producer = Producer::builder()
        .bootstrap_servers([broker.bootstrap()])
        .idempotence(false)
        .acks(durian_producer::Acks::None)
        .build()
        .unwrap();
    let mut deliveries = Vec::new();
    for n in 0..100 {
        deliveries.push(
            producer
                .send(ProducerRecord::new("acks0", value_of(0, n)))
                .await
                .unwrap(),
        );
    }
    for result in join_all(deliveries).await {
        assert_eq!(result.unwrap().offset, -1, "acks=0 gets no offsets");
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    let records = read_partition(&admin, "acks0", 0, 100).await;
    for (n, record) in records.iter().enumerate() {
        assert_eq!(record.value.as_ref().unwrap(), &value_of(0, n));
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn large_values_sent_by_reference_round_trip() {
    // Values of 1 KiB or more go into batches by reference and reach the
    // socket in pieces; the broker checks each batch's CRC, so a wrong
    // byte or CRC would fail the sends. Mixed with small (copied) values.
    let broker = start_broker(None, "127.0.0.1:0").await;
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "large", 2).await;
    let producer = producer_for(&broker.bootstrap(), Compression::None);
    let value = |partition: i32, n: usize| {
        let len = if n % 5 == 4 { 100 } else { 10_000 };
        let stamp = format!("p{partition}-{n:06}-");
        let mut bytes = stamp.repeat(len / stamp.len() + 1).into_bytes();
        bytes.truncate(len);
        bytes::Bytes::from(bytes)
    };
    let per_partition = 200;
    let mut deliveries = Vec::new();
    for n in 0..per_partition {
        for partition in 0..2 {
            let record =
                ProducerRecord::new("large", value(partition, n)).with_partition(partition);
            deliveries.push(producer.send(record).await.unwrap());
        }
    }
    for (i, result) in join_all(deliveries).await.into_iter().enumerate() {
        let written = result.unwrap();
        assert_eq!(written.offset, (i / 2) as i64);
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..2 {
        let records = read_partition(&admin, "large", partition, per_partition).await;
        for (n, record) in records.iter().enumerate() {
            assert_eq!(record.value.as_ref(), Some(&value(partition, n)), "{n}");
        }
    }
    broker.shutdown().await.unwrap();
}
