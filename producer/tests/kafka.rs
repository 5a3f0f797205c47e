//! The producer against Apache Kafka 4.x, the reference broker (one KRaft
//! node run by durian-testkit's `KafkaCluster`).
//!
//! The jars come from `DURIAN_KAFKA_LIBS`, else `<repo>/.peers/kafka/libs`
//! (fetched by scripts/install-peers.sh). When they are missing the tests
//! are skipped with a message, unless `DURIAN_REQUIRE_PEERS=1`, in which
//! case they fail.
//!
//! 24,000 records over 6 partitions per codec, idempotent with acks=all
//! (the defaults), with a repeated header key; read back with raw Fetch
//! requests, so the records are compared as Kafka stored them. All codecs
//! share one node (a topic each): a JVM start costs seconds.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{admin_client, create_topic, produce_and_verify, read_partition, value_of, CODECS};
use durian_producer::{Acks, Compression, Producer, ProducerRecord};
use durian_testkit::KafkaCluster;
use futures::future::join_all;

/// Records per partition in each codec's run (6 partitions).
const PER_PARTITION: usize = 4_000;

#[tokio::test]
async fn idempotent_records_of_every_codec_arrive_in_order_on_kafka() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    for codec in CODECS {
        let topic = format!("kafka-{codec}");
        produce_and_verify(&kafka.bootstrap(), codec, &topic, 6, PER_PARTITION).await;
    }
}

/// Without idempotence, acks=1 and one request in flight keep the order
/// too (the setting users pick when they turn idempotence off).
#[tokio::test]
async fn acks_one_single_in_flight_records_arrive_in_order_on_kafka() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let topic = "kafka-acks-one";
    let admin = admin_client(&kafka.bootstrap());
    create_topic(&admin, topic, 3).await;
    let producer = Producer::builder()
        .bootstrap_servers([kafka.bootstrap()])
        .compression(Compression::Lz4)
        .idempotence(false)
        .configure(|c| {
            c.acks = Acks::Leader;
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
