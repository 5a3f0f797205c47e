//! durian's transactional producer against durian's own broker, embedded
//! on a free port in a temporary directory: the scenarios of
//! tests/common/transactions.rs (commit, abort, fencing, offsets in the
//! transaction, consume-transform-produce), which tests/kafka_transactions.rs
//! runs against Apache Kafka.
//!
//! durian's broker coordinates transaction version 1 only (it does not
//! advertise `transaction.version` 2, docs/BROKER.md), so the scenarios
//! run twice: with `transaction_v2 = false`, and with the default
//! (`true`), which must fall back to V1 by itself.

#![allow(clippy::unwrap_used)]

mod common;

use durian_broker::Broker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_durians_broker() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let bootstrap = broker.bootstrap();
    for v2 in [false, true] {
        common::transactions::all_scenarios(&bootstrap, v2).await;
    }
    broker.shutdown().await.unwrap();
}
