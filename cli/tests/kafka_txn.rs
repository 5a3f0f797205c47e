//! `durian txn` against Apache Kafka 4.x (one KRaft node).
//!
//! First the scenario of tests/txn_scenarios/mod.rs, which tests/txn.rs
//! runs against durian's own broker. Then a scenario only Kafka can host:
//! a hanging transaction, written without telling the coordinator (this
//! node allows it with `transaction.partition.verification.enable=false`;
//! durian's broker always verifies, so nothing can hang there). `list`
//! shows its id Empty, `describe-producers` shows where it starts,
//! `find-hanging` reports it, as Kafka's own `find-hanging` does, and
//! `abort --start-offset` ends it. Skipped without the Kafka jars, failed
//! instead when `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;
mod txn_scenarios;
#[path = "../../tests/support/txn.rs"]
mod txn_support;

use common::{create_topic, durian};
use durian_testkit::KafkaCluster;
use txn_scenarios::{clients, end_offset, table, TIMEOUT_MS};
use txn_support::{cell, last_stable_offset, open_hanging_transaction, transactions_command};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_txn_lists_describes_finds_and_aborts_on_kafka() {
    let Some(kafka) =
        KafkaCluster::start(1, &[("transaction.partition.verification.enable", "false")]).await
    else {
        return;
    };
    let b = kafka.bootstrap();
    // KafkaCluster numbers its nodes from 1.
    txn_scenarios::open_transactions(&b, 1).await;
    a_hanging_transaction_is_found_and_aborted(&b).await;
}

/// The Kafka-only scenario of the module docs, on topic `txn-cli-hanging`.
async fn a_hanging_transaction_is_found_and_aborted(b: &str) {
    const TOPIC: &str = "txn-cli-hanging";
    create_topic(b, TOPIC, 1).await;
    let (client, admin) = clients(b);
    let hanging = open_hanging_transaction(&client, "cli-hanging", TOPIC, 0, 2, TIMEOUT_MS).await;
    assert_eq!(
        last_stable_offset(&client, TOPIC, 0).await,
        hanging.first_offset
    );
    let hanging_pid = hanging.producer_id.to_string();

    // The coordinator never heard of the hanging transaction's partition.
    let listed = table(b, &["txn", "list", "--pattern", "cli-h.*"]).await;
    assert_eq!(
        listed[1..],
        [vec![
            "cli-hanging".to_owned(),
            "1".into(),
            hanging_pid.clone(),
            "Empty".into()
        ]],
        "{listed:?}"
    );
    let ongoing = table(b, &["txn", "list", "--state", "ongoing"]).await;
    assert!(
        ongoing[1..].iter().all(|r| r[0] != "cli-hanging"),
        "{ongoing:?}"
    );

    // describe-producers: the leader knows where it starts.
    let producers = table(b, &["txn", "describe-producers", "--topic", TOPIC]).await;
    let heading = &producers[0];
    let column = |name: &str| heading.iter().position(|h| h == name).unwrap();
    let row = producers[1..]
        .iter()
        .find(|r| r[column("PRODUCER-ID")] == hanging_pid)
        .unwrap_or_else(|| panic!("{producers:?}"));
    assert_eq!(
        row[column("TXN-START-OFFSET")],
        hanging.first_offset.to_string()
    );

    // find-hanging reports it, as Kafka's tool does.
    let find = [
        "txn",
        "find-hanging",
        "--topic",
        TOPIC,
        "--max-transaction-timeout",
        "0",
    ];
    let found = table(b, &find).await;
    assert_eq!(found.len(), 2, "{found:?}");
    let heading = &found[0];
    let column = |name: &str| heading.iter().position(|h| h == name).unwrap();
    assert_eq!(found[1][column("PARTITION")], "0");
    assert_eq!(found[1][column("PRODUCER-ID")], hanging_pid);
    assert_eq!(
        found[1][column("START-OFFSET")],
        hanging.first_offset.to_string()
    );
    let kafka_found = transactions_command(
        b,
        &[
            "find-hanging",
            "--topic",
            TOPIC,
            "--max-transaction-timeout",
            "0",
        ],
    );
    assert_eq!(kafka_found.len(), 1, "{kafka_found:?}");
    assert_eq!(cell(&kafka_found[0], "Partition"), "0");
    assert_eq!(cell(&kafka_found[0], "ProducerId"), hanging_pid);
    assert_eq!(
        cell(&kafka_found[0], "StartOffset"),
        hanging.first_offset.to_string()
    );

    // abort by start offset, the way find-hanging's output is used.
    let start = hanging.first_offset.to_string();
    let by_offset = [
        "txn",
        "abort",
        "--topic",
        TOPIC,
        "--partition",
        "0",
        "--start-offset",
        &start,
    ];
    durian(b, &by_offset, b"").await.assert_ok();
    assert_eq!(
        last_stable_offset(&client, TOPIC, 0).await,
        end_offset(&admin, TOPIC, 0).await
    );
    assert!(last_stable_offset(&client, TOPIC, 0).await > hanging.first_offset);

    let found = table(b, &find).await;
    assert_eq!(found.len(), 1, "only the heading: {found:?}");
    durian(b, &by_offset, b"")
        .await
        .assert_failed_with("no open transaction starts at offset");
}
