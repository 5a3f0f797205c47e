//! `durian txn` against durian's own broker, embedded on a free port in a
//! temporary directory: the scenario of tests/txn_scenarios/mod.rs (two
//! open transactions listed, described, found not hanging and aborted),
//! which tests/kafka_txn.rs runs against Apache Kafka as well.
//!
//! The hanging-transaction scenario of tests/kafka_txn.rs does not run
//! here: durian's broker checks every transactional write against the
//! coordinator (KIP-890 part 1, docs/BROKER.md), so a write the
//! coordinator never heard of is refused and no transaction can hang.

#![allow(clippy::unwrap_used)]

mod common;
mod txn_scenarios;
#[path = "../../tests/support/txn.rs"]
mod txn_support;

use common::start_broker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_txn_lists_describes_and_aborts_on_durians_broker() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    txn_scenarios::open_transactions(&bootstrap, broker.node().node_id).await;
    broker.shutdown().await.unwrap();
}
