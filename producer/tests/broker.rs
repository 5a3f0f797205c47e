//! The producer against durian's own broker: ordering, offsets, codecs,
//! flush and close.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use durian_producer::{Compression, Producer, ProducerError, ProducerRecord};
use futures::future::join_all;

fn producer_for(bootstrap: &str, codec: Compression) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .compression(codec)
        .configure(|c| {
            c.client.request_timeout = std::time::Duration::from_secs(10);
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(200);
        })
        .build()
        .unwrap()
}

/// Sends `per_partition` records to each of `partitions` partitions with
/// explicit partitions, checks every delivery, then reads every partition
/// back: offsets contiguous from 0, order equal to send order.
async fn produce_and_verify(
    codec: Compression,
    topic: &str,
    partitions: i32,
    per_partition: usize,
) {
    let broker = start_broker(None, "127.0.0.1:0").await;
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, topic, partitions).await;
    let producer = producer_for(&broker.bootstrap(), codec);
    let mut deliveries = Vec::with_capacity(per_partition * partitions as usize);
    for n in 0..per_partition {
        for partition in 0..partitions {
            let record = ProducerRecord::new(topic, value_of(partition, n))
                .with_partition(partition)
                .with_header("n", n.to_string())
                .with_header("n", "again");
            deliveries.push((partition, producer.send(record).await.unwrap()));
        }
    }
    let mut next_offset = vec![0i64; partitions as usize];
    let (order, futures): (Vec<i32>, Vec<_>) = deliveries.into_iter().unzip();
    for (partition, result) in order.into_iter().zip(join_all(futures).await) {
        let written = result.unwrap();
        assert_eq!(written.partition, partition);
        assert_eq!(
            written.offset, next_offset[partition as usize],
            "offsets per partition in send order"
        );
        next_offset[partition as usize] += 1;
    }
    let metrics = producer.metrics();
    assert_eq!(
        metrics.records_sent,
        per_partition as u64 * partitions as u64
    );
    assert_eq!(metrics.errors, 0);
    producer.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..partitions {
        let records = read_partition(&admin, topic, partition, per_partition).await;
        assert_eq!(records.len(), per_partition);
        for (n, record) in records.iter().enumerate() {
            assert_eq!(record.offset, n as i64);
            assert_eq!(record.value.as_ref().unwrap(), &value_of(partition, n));
            let headers: Vec<_> = record.headers.iter().map(|h| h.key.clone()).collect();
            assert_eq!(headers, ["n", "n"], "repeated header keys kept in order");
        }
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn many_records_over_six_partitions_arrive_in_order() {
    // The figure: 1M records (about 15 s in a debug build on two
    // cores). DURIAN_PRODUCER_RECORDS=100000 makes a quicker run.
    let per_partition = std::env::var("DURIAN_PRODUCER_RECORDS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1_000_000)
        / 6;
    produce_and_verify(Compression::None, "many", 6, per_partition).await;
}

#[tokio::test]
async fn every_codec_round_trips_in_order() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        produce_and_verify(codec, &format!("codec-{codec}"), 3, 2_000).await;
    }
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
