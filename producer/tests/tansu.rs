//! The producer against Tansu, an independent Kafka-protocol broker.
//!
//! The broker binary comes from `DURIAN_TANSU_BIN`, else
//! `<repo>/.peers/bin/tansu` (installed by scripts/install-peers.sh). When it
//! is missing the tests are skipped with a message, unless
//! `DURIAN_REQUIRE_PEERS=1`, in which case they fail.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use durian_testkit::Tansu;
use std::time::Duration;

use common::{admin_client, create_topic, read_partition, value_of};
use durian_producer::{Compression, Producer, ProducerRecord};
use futures::future::join_all;

async fn produce_in_order(codec: Compression, idempotent: bool, topic: &str) {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let admin = admin_client(&tansu.bootstrap());
    create_topic(&admin, topic, 3).await;
    let producer = Producer::builder()
        .bootstrap_servers([tansu.bootstrap().clone()])
        .compression(codec)
        .idempotence(idempotent)
        .configure(|c| {
            if !idempotent {
                c.acks = durian_producer::Acks::Leader;
                c.max_in_flight = 1;
            }
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

#[tokio::test]
async fn idempotent_records_arrive_in_order_on_tansu() {
    produce_in_order(Compression::None, true, "tansu-idempotent").await;
}

#[tokio::test]
async fn compressed_acks_one_records_arrive_in_order_on_tansu() {
    produce_in_order(Compression::Lz4, false, "tansu-lz4").await;
}
