//! `durian txn` scenarios shared by `tests/txn.rs` (durian's own broker,
//! embedded) and `tests/kafka_txn.rs` (Apache Kafka 4.x), each taking the
//! broker's bootstrap.
//!
//! [`open_transactions`] runs on both: two transactions left open from raw
//! requests (tests/support/txn.rs), one per partition. `list` (and its
//! filters), `describe` and `describe-producers` show them; `find-hanging`
//! reports neither (the coordinator knows both partitions); `abort` (by
//! producer, and by start offset) moves each partition's last stable
//! offset to its end.
//!
//! [`table`] and [`end_offset`] serve the Kafka-only hanging-transaction
//! scenario in `tests/kafka_txn.rs` too.

use crate::common::{create_topic, durian};
use crate::txn_support::{last_stable_offset, open_transaction};
use durian::admin::{Admin, OffsetSpec, TopicPartition};
use durian::core::{Client, ClientConfig};

/// The timeout the scenarios' transactions register: long enough that no
/// coordinator times them out during a test.
pub const TIMEOUT_MS: i32 = 600_000;

/// The rows of a table printed by `durian`, cells split on whitespace,
/// heading row first.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// `durian ARGS`, which must succeed; its table.
pub async fn table(bootstrap: &str, args: &[&str]) -> Vec<Vec<String>> {
    let run = durian(bootstrap, args, b"").await;
    run.assert_ok();
    rows(&run.text())
}

/// The end offset of `topic`-`partition`.
pub async fn end_offset(admin: &Admin, topic: &str, partition: i32) -> i64 {
    let tp = TopicPartition::new(topic, partition);
    let mut ends = admin.list_offsets([(tp.clone(), OffsetSpec::Latest)]).await;
    ends.remove(&tp)
        .expect("the partition is answered")
        .expect("its end offset")
        .offset
        .expect("an offset")
}

/// A core client and an admin client on `bootstrap`.
pub fn clients(bootstrap: &str) -> (Client, Admin) {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .build()
        .expect("client config");
    let client = Client::new(config).expect("client");
    let admin = Admin::with_client(client.clone(), std::time::Duration::from_secs(20));
    (client, admin)
}

/// The first-column values (transactional ids) of a `txn list` table.
fn ids(listed: &[Vec<String>]) -> Vec<&str> {
    let mut ids: Vec<&str> = listed[1..].iter().map(|r| r[0].as_str()).collect();
    ids.sort_unstable();
    ids
}

/// The scenario of the module docs on `bootstrap`, whose coordinator for
/// every transactional id is node `coordinator`; uses topic `txn-cli` and
/// the ids `cli-open` and `cli-second`.
pub async fn open_transactions(bootstrap: &str, coordinator: i32) {
    const TOPIC: &str = "txn-cli";
    let b = bootstrap;
    create_topic(b, TOPIC, 2).await;
    let (client, admin) = clients(b);
    let open = open_transaction(&client, "cli-open", TOPIC, 0, 2, TIMEOUT_MS).await;
    let second = open_transaction(&client, "cli-second", TOPIC, 1, 3, TIMEOUT_MS).await;
    assert_eq!(
        last_stable_offset(&client, TOPIC, 0).await,
        open.first_offset
    );
    assert_eq!(
        last_stable_offset(&client, TOPIC, 1).await,
        second.first_offset
    );

    // list, with filters.
    let listed = table(b, &["txn", "list"]).await;
    assert_eq!(
        listed[0],
        ["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"]
    );
    let open_pid = open.producer_id.to_string();
    let second_pid = second.producer_id.to_string();
    for (id, pid) in [("cli-open", &open_pid), ("cli-second", &second_pid)] {
        let row = vec![
            id.to_owned(),
            coordinator.to_string(),
            pid.clone(),
            "Ongoing".to_owned(),
        ];
        assert!(listed.contains(&row), "{row:?} not in {listed:?}");
    }
    let ongoing = table(b, &["txn", "list", "--state", "ongoing"]).await;
    assert_eq!(ids(&ongoing), ["cli-open", "cli-second"]);
    let committed = table(b, &["txn", "list", "--state", "CompleteCommit"]).await;
    assert!(ids(&committed).is_empty(), "{committed:?}");
    // The pattern must match the whole id, so a prefix needs its `.*`.
    let by_pattern = table(b, &["txn", "list", "--pattern", "cli-s.*"]).await;
    assert_eq!(ids(&by_pattern), ["cli-second"]);
    let prefix_only = table(b, &["txn", "list", "--pattern", "cli-s"]).await;
    assert_eq!(prefix_only.len(), 1, "{prefix_only:?}");

    // describe.
    let described = table(b, &["txn", "describe", "cli-open"]).await;
    let heading = &described[0];
    let column = |name: &str| heading.iter().position(|h| h == name).unwrap();
    let row = &described[1];
    assert_eq!(row[column("PRODUCER-ID")], open_pid);
    assert_eq!(row[column("EPOCH")], open.producer_epoch.to_string());
    assert_eq!(row[column("STATE")], "Ongoing");
    assert_eq!(row[column("TIMEOUT-MS")], TIMEOUT_MS.to_string());
    assert_eq!(row[column("PARTITIONS")], format!("{TOPIC}-0"));
    durian(b, &["txn", "describe", "cli-nobody"], b"")
        .await
        .assert_failed_with("TRANSACTIONAL_ID_NOT_FOUND");

    // describe-producers: both producers, with where their transactions start.
    let producers = table(b, &["txn", "describe-producers", "--topic", TOPIC]).await;
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
        start_of(&second_pid),
        Some(("1".to_owned(), second.first_offset.to_string()))
    );

    // find-hanging: nothing, the coordinator knows both partitions.
    let find = [
        "txn",
        "find-hanging",
        "--topic",
        TOPIC,
        "--max-transaction-timeout",
        "0",
    ];
    let found = table(b, &find).await;
    assert_eq!(found.len(), 1, "only the heading: {found:?}");

    // abort by producer id and epoch.
    let epoch = open.producer_epoch.to_string();
    let aborted = durian(
        b,
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
        end_offset(&admin, TOPIC, 0).await
    );

    // abort by start offset, the way find-hanging's output is used.
    let start = second.first_offset.to_string();
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
    durian(b, &by_offset, b"").await.assert_ok();
    assert_eq!(
        last_stable_offset(&client, TOPIC, 1).await,
        end_offset(&admin, TOPIC, 1).await
    );
    assert!(last_stable_offset(&client, TOPIC, 1).await > second.first_offset);
    durian(b, &by_offset, b"")
        .await
        .assert_failed_with("no open transaction starts at offset");
}
