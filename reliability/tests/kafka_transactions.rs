//! durian's transactional producer against Apache Kafka 4.x, one KRaft
//! node run by durian-testkit's `KafkaCluster` (which finalizes
//! `transaction.version` 2): every scenario of tests/common/transactions.rs
//! once with transactions V2 (durian's default there) and once with V1
//! (`transaction_v2 = false`). tests/transactions.rs runs the same
//! scenarios against durian's own broker.
//!
//! The jars come from `DURIAN_KAFKA_LIBS`, else `<repo>/.peers/kafka/libs`.
//! Without them the test is skipped with a message, or fails when
//! `DURIAN_REQUIRE_PEERS=1`. The scenarios share one node (a JVM start
//! costs seconds) and run one after the other.

mod common;

use durian_testkit::KafkaCluster;

#[tokio::test]
async fn transactions_on_kafka() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let bootstrap = kafka.bootstrap();
    // Kafka 4.x finalizes transaction.version 2 on new clusters: V2 is
    // what durian picks by default; V1 is forced by the switch.
    for v2 in [true, false] {
        common::transactions::all_scenarios(&bootstrap, v2).await;
    }
}
