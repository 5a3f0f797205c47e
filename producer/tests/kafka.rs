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

use common::{acks_one_single_in_flight_in_order, produce_and_verify, CODECS};
use durian_testkit::KafkaCluster;

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
    acks_one_single_in_flight_in_order(&kafka.bootstrap(), "kafka-acks-one").await;
}
