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

use common::{acks_one_single_in_flight_in_order, produce_and_verify};
use durian_producer::Compression;
use durian_testkit::Tansu;

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
    acks_one_single_in_flight_in_order(&tansu.bootstrap(), "tansu-acks-one").await;
}
