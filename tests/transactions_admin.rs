//! The admin client's transaction operations against durian's own broker,
//! embedded on a free port in a temporary directory: the scenario of
//! tests/support/txn_admin.rs (list with filters, describe, describe
//! producers, abort through the leader, the coordinator ending it later),
//! which tests/kafka_transactions.rs runs against Apache Kafka.

#[path = "support/txn_admin.rs"]
mod txn_admin;
#[path = "support/txn.rs"]
mod txn_support;

use durian_broker::Broker;
use txn_admin::{list_describe_and_abort, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_listed_described_and_aborted_on_durians_broker() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .expect("embedded broker starts");
    let bootstrap = broker.bootstrap();
    list_describe_and_abort(Cluster {
        bootstrap: &bootstrap,
        coordinator: broker.node().node_id,
        kafka_tool: false,
    })
    .await;
    broker.shutdown().await.expect("broker shuts down");
}
