//! The admin client's transaction operations against Apache Kafka 4.x
//! (one KRaft node): the scenario of tests/support/txn_admin.rs, each
//! answer also checked against what Kafka's own `kafka-transactions.sh`
//! prints for the same cluster. tests/transactions_admin.rs runs the same
//! scenario against durian's own broker.
//!
//! Skipped without the Kafka jars, failed instead under
//! `DURIAN_REQUIRE_PEERS=1` (see testkit's `KafkaCluster`).

#[path = "support/txn_admin.rs"]
mod txn_admin;
#[path = "support/txn.rs"]
mod txn_support;

use durian_testkit::KafkaCluster;
use txn_admin::{list_describe_and_abort, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_listed_described_and_aborted_like_kafka_does() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let bootstrap = kafka.bootstrap();
    list_describe_and_abort(Cluster {
        bootstrap: &bootstrap,
        // KafkaCluster numbers its nodes from 1.
        coordinator: 1,
        kafka_tool: true,
    })
    .await;
}
