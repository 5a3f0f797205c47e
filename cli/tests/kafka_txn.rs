//! `durian txn` against Apache Kafka 4.x (one KRaft node): a transaction
//! left open on partition 0 and a hanging one on partition 1 (written
//! without telling the coordinator, which this node allows with
//! `transaction.partition.verification.enable=false`), both from raw
//! requests (tests/support/txn.rs). `list`, `describe` and
//! `describe-producers` show them; `find-hanging` reports only the
//! hanging one, as Kafka's own `find-hanging` does; `abort` (by producer,
//! and by start offset) moves each partition's last stable offset to its
//! end. Skipped without the Kafka jars, failed instead when
//! `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../tests/support/txn.rs"]
mod txn_support;

use common::{create_topic, durian};
use durian::admin::{Admin, OffsetSpec, TopicPartition};
use durian::core::{Client, ClientConfig};
use durian_testkit::KafkaCluster;
use txn_support::{
    cell, last_stable_offset, open_hanging_transaction, open_transaction, transactions_command,
};

const TOPIC: &str = "txn-cli";
const TIMEOUT_MS: i32 = 600_000;

/// The rows of a table printed by `durian`, cells split on whitespace,
/// heading row first.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// `durian ARGS`, which must succeed; its table.
async fn table(bootstrap: &str, args: &[&str]) -> Vec<Vec<String>> {
    let run = durian(bootstrap, args, b"").await;
    run.assert_ok();
    rows(&run.text())
}

/// The end offset of `partition` of [`TOPIC`].
async fn end_offset(admin: &Admin, partition: i32) -> i64 {
    let tp = TopicPartition::new(TOPIC, partition);
    let mut ends = admin.list_offsets([(tp.clone(), OffsetSpec::Latest)]).await;
    ends.remove(&tp).unwrap().unwrap().offset.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_txn_lists_describes_finds_and_aborts_on_kafka() {
    let Some(kafka) =
        KafkaCluster::start(1, &[("transaction.partition.verification.enable", "false")]).await
    else {
        return;
    };
    let b = kafka.bootstrap();
    create_topic(&b, TOPIC, 2).await;
    let config = ClientConfig::builder()
        .bootstrap_servers([b.as_str()])
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let admin = Admin::with_client(client.clone(), std::time::Duration::from_secs(20));
    let open = open_transaction(&client, "cli-open", TOPIC, 0, 2, TIMEOUT_MS).await;
    let hanging = open_hanging_transaction(&client, "cli-hanging", TOPIC, 1, 2, TIMEOUT_MS).await;
    assert_eq!(
        last_stable_offset(&client, TOPIC, 0).await,
        open.first_offset
    );
    assert_eq!(
        last_stable_offset(&client, TOPIC, 1).await,
        hanging.first_offset
    );

    // list, with filters.
    let listed = table(&b, &["txn", "list"]).await;
    assert_eq!(
        listed[0],
        ["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"]
    );
    let open_pid = open.producer_id.to_string();
    let hanging_pid = hanging.producer_id.to_string();
    assert!(
        listed.contains(&vec![
            "cli-open".into(),
            "1".into(),
            open_pid.clone(),
            "Ongoing".into()
        ]),
        "{listed:?}"
    );
    // The coordinator never heard of the hanging transaction's partition.
    assert!(
        listed.contains(&vec![
            "cli-hanging".into(),
            "1".into(),
            hanging_pid.clone(),
            "Empty".into()
        ]),
        "{listed:?}"
    );
    let ongoing = table(&b, &["txn", "list", "--state", "ongoing"]).await;
    let ids: Vec<&str> = ongoing[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["cli-open"]);
    // Kafka matches the whole id, so a prefix needs its `.*`.
    let by_pattern = table(&b, &["txn", "list", "--pattern", "cli-h.*"]).await;
    let ids: Vec<&str> = by_pattern[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["cli-hanging"]);
    let prefix_only = table(&b, &["txn", "list", "--pattern", "cli-h"]).await;
    assert_eq!(prefix_only.len(), 1, "{prefix_only:?}");

    // describe.
    let described = table(&b, &["txn", "describe", "cli-open"]).await;
    let heading = &described[0];
    let column = |name: &str| heading.iter().position(|h| h == name).unwrap();
    let row = &described[1];
    assert_eq!(row[column("PRODUCER-ID")], open_pid);
    assert_eq!(row[column("EPOCH")], open.producer_epoch.to_string());
    assert_eq!(row[column("STATE")], "Ongoing");
    assert_eq!(row[column("TIMEOUT-MS")], TIMEOUT_MS.to_string());
    assert_eq!(row[column("PARTITIONS")], format!("{TOPIC}-0"));
    durian(&b, &["txn", "describe", "cli-nobody"], b"")
        .await
        .assert_failed_with("TRANSACTIONAL_ID_NOT_FOUND");

    // describe-producers: both producers, with where their transactions start.
    let producers = table(&b, &["txn", "describe-producers", "--topic", TOPIC]).await;
    let heading = &producers[0];
    let column = |name: &str| heading.iter().position(|h| h == name).unwrap();
    let start_of = |pid: &str| {
        producers[1..]
            .iter()
            .find(|r| r[column("PRODUCER-ID")] == pid)
            .map(|r| {
                (
                    r[column("PARTITION")].clone(),
                    r[column("TXN-START-OFFSET")].clone(),
                )
            })
    };
    assert_eq!(
        start_of(&open_pid),
        Some(("0".to_owned(), open.first_offset.to_string()))
    );
    assert_eq!(
        start_of(&hanging_pid),
        Some(("1".to_owned(), hanging.first_offset.to_string()))
    );

    // find-hanging: only partition 1, as Kafka's tool finds.
    let find = [
        "txn",
        "find-hanging",
        "--topic",
        TOPIC,
        "--max-transaction-timeout",
        "0",
    ];
    let found = table(&b, &find).await;
    assert_eq!(found.len(), 2, "{found:?}");
    let heading = &found[0];
    let column = |name: &str| heading.iter().position(|h| h == name).unwrap();
    assert_eq!(found[1][column("PARTITION")], "1");
    assert_eq!(found[1][column("PRODUCER-ID")], hanging_pid);
    assert_eq!(
        found[1][column("START-OFFSET")],
        hanging.first_offset.to_string()
    );
    let kafka_found = transactions_command(
        &b,
        &[
            "find-hanging",
            "--topic",
            TOPIC,
            "--max-transaction-timeout",
            "0",
        ],
    );
    assert_eq!(kafka_found.len(), 1, "{kafka_found:?}");
    assert_eq!(cell(&kafka_found[0], "Partition"), "1");
    assert_eq!(cell(&kafka_found[0], "ProducerId"), hanging_pid);
    assert_eq!(
        cell(&kafka_found[0], "StartOffset"),
        hanging.first_offset.to_string()
    );

    // abort by producer id and epoch.
    let epoch = open.producer_epoch.to_string();
    let aborted = durian(
        &b,
        &[
            "txn",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--producer-id",
            &open_pid,
            "--producer-epoch",
            &epoch,
            "--coordinator-epoch",
            "-1",
        ],
        b"",
    )
    .await;
    aborted.assert_ok();
    assert!(aborted.text().contains("aborted"), "{}", aborted.text());
    assert_eq!(
        last_stable_offset(&client, TOPIC, 0).await,
        end_offset(&admin, 0).await
    );

    // abort by start offset, the way find-hanging's output is used.
    let start = hanging.first_offset.to_string();
    let by_offset = [
        "txn",
        "abort",
        "--topic",
        TOPIC,
        "--partition",
        "1",
        "--start-offset",
        &start,
    ];
    durian(&b, &by_offset, b"").await.assert_ok();
    assert_eq!(
        last_stable_offset(&client, TOPIC, 1).await,
        end_offset(&admin, 1).await
    );
    assert!(last_stable_offset(&client, TOPIC, 1).await > hanging.first_offset);

    let found = table(&b, &find).await;
    assert_eq!(found.len(), 1, "only the heading: {found:?}");
    durian(&b, &by_offset, b"")
        .await
        .assert_failed_with("no open transaction starts at offset");
}
