//! The producer against Tansu, an independent Kafka-protocol broker.
//!
//! The broker binary comes from `DURIAN_TANSU_BIN`, else
//! `<repo>/.peers/bin/tansu` (installed by scripts/install-peers.sh). When it
//! is missing the tests are skipped with a message, unless
//! `DURIAN_REQUIRE_PEERS=1`, in which case they fail.
//!
//! Sized for CI: 48,000 records over 6 partitions per codec, idempotent
//! with acks=all (the defaults), each codec on a fresh Tansu.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use durian_testkit::Tansu;
use std::time::Duration;

use common::{admin_client, create_topic, produce_and_verify, read_partition, value_of};
use durian_producer::{Compression, Producer, ProducerRecord};
use futures::future::join_all;

/// Records per partition in each codec's run (6 partitions).
const PER_PARTITION: usize = 8_000;

async fn idempotent_run(codec: Compression) {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let topic = format!("tansu-{codec}");
    produce_and_verify(&tansu.bootstrap(), codec, &topic, 6, PER_PARTITION).await;
}

#[tokio::test]
async fn uncompressed_idempotent_records_arrive_in_order_on_tansu() {
    idempotent_run(Compression::None).await;
}

#[tokio::test]
async fn gzip_idempotent_records_arrive_in_order_on_tansu() {
    idempotent_run(Compression::Gzip).await;
}

#[tokio::test]
async fn snappy_idempotent_records_arrive_in_order_on_tansu() {
    idempotent_run(Compression::Snappy).await;
}

#[tokio::test]
async fn lz4_idempotent_records_arrive_in_order_on_tansu() {
    idempotent_run(Compression::Lz4).await;
}

#[tokio::test]
async fn zstd_idempotent_records_arrive_in_order_on_tansu() {
    idempotent_run(Compression::Zstd).await;
}

/// Without idempotence, acks=1 and one request in flight keep the order
/// too (the setting users pick when they turn idempotence off).
#[tokio::test]
async fn acks_one_single_in_flight_records_arrive_in_order_on_tansu() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let topic = "tansu-acks-one";
    let admin = admin_client(&tansu.bootstrap());
    create_topic(&admin, topic, 3).await;
    let producer = Producer::builder()
        .bootstrap_servers([tansu.bootstrap().clone()])
        .compression(Compression::Lz4)
        .idempotence(false)
        .configure(|c| {
            c.acks = durian_producer::Acks::Leader;
            c.max_in_flight = 1;
        })
        .build()
        .unwrap();
    let per_partition = 3_000;
    let mut deliveries = Vec::new();
    for n in 0..per_partition {
        for partition in 0..3 {
            let record =
                ProducerRecord::new(topic, value_of(partition, n)).with_partition(partition);
            deliveries.push(producer.send(record).await.unwrap());
        }
    }
    for result in join_all(deliveries).await {
        result.unwrap();
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..3 {
        let records = read_partition(&admin, topic, partition, per_partition).await;
        for (n, record) in records.iter().enumerate() {
            assert_eq!(
                record.value.as_ref().unwrap(),
                &value_of(partition, n),
                "{topic}-{partition} #{n}"
            );
        }
    }
}
