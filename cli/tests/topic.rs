//! Every `durian topic` command as a process against the embedded broker:
//! the scenario of tests/cli_scenarios/mod.rs, which tests/kafka_cli.rs
//! runs against Apache Kafka as well.

#![allow(clippy::unwrap_used)]

mod cli_scenarios;
mod common;

use common::start_broker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_describe_alter_and_delete() {
    let broker = start_broker().await;
    let b = broker.bootstrap();
    cli_scenarios::topic_lifecycle(&b, broker.node().node_id, |_| ()).await;
    broker.shutdown().await.unwrap();
}
