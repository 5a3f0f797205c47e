//! `-o json` / `--output json`: the listing and describing commands print
//! one JSON document that parses, with the table's columns as keys, against
//! the embedded broker.

#![allow(clippy::unwrap_used)]

mod common;

use common::{durian, start_broker};
use durian::producer::Producer;
use serde_json::Value;

/// Runs `durian ARGS` (which must succeed) and parses its stdout as JSON.
async fn json(bootstrap: &str, args: &[&str]) -> Value {
    let run = durian(bootstrap, args, b"").await;
    run.assert_ok();
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("durian {args:?} printed no JSON ({e}): {}", run.text()))
}

/// The object of array `rows` whose `key` is `value`.
fn find<'a>(rows: &'a Value, key: &str, value: &str) -> &'a Value {
    rows.as_array()
        .unwrap_or_else(|| panic!("not an array: {rows}"))
        .iter()
        .find(|row| row[key] == value)
        .unwrap_or_else(|| panic!("no row with {key} = {value:?} in {rows}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_groups_transactions_and_acls_print_json() {
    let broker = start_broker().await;
    let b = broker.bootstrap();

    let created = json(&b, &["-o", "json", "topic", "create", "clicks", "-p", "2"]).await;
    assert_eq!(created["created"], "clicks");
    assert_eq!(created["partitions"], 2);

    let topics = json(&b, &["topic", "list", "--output", "json"]).await;
    let clicks = find(&topics, "name", "clicks");
    assert_eq!(clicks["partitions"], "2");
    assert_eq!(clicks["replicas"], "1");

    durian(&b, &["produce", "clicks", "-p", "1"], b"a\nb\nc\n")
        .await
        .assert_ok();
    let described = json(&b, &["topic", "describe", "clicks", "--output", "json"]).await;
    assert_eq!(described["topic"], "clicks");
    assert_eq!(described["internal"], "false");
    assert_eq!(described["partitions"].as_array().unwrap().len(), 2);
    assert_eq!(
        find(&described["partitions"], "partition", "1")["high_watermark"],
        "3"
    );
    find(&described["configs"], "config", "cleanup.policy");

    durian(&b, &["consume", "clicks", "-g", "readers", "-n", "3"], b"")
        .await
        .assert_ok();
    let groups = json(&b, &["-o", "json", "group", "list"]).await;
    assert_eq!(find(&groups, "group", "readers")["type"], "consumer");
    let group = json(&b, &["-o", "json", "group", "describe", "readers"]).await;
    assert_eq!(group["group"], "readers");
    assert_eq!(group["members"], Value::Array(Vec::new()), "{group}");
    let offsets = find(&group["offsets"], "partition", "1");
    assert_eq!(offsets["committed"], "3");
    assert_eq!(offsets["lag"], "0");

    let producer = Producer::from_properties([
        ("bootstrap.servers", b.as_str()),
        ("transactional.id", "json-txn"),
    ])
    .unwrap();
    producer.init_transactions().await.unwrap();
    let transactions = json(&b, &["-o", "json", "txn", "list"]).await;
    assert_eq!(
        find(&transactions, "transactional_id", "json-txn")["state"],
        "Empty"
    );

    durian(
        &b,
        &[
            "acl",
            "add",
            "--topic",
            "clicks",
            "--principal",
            "User:ann",
            "-o",
            "read",
        ],
        b"",
    )
    .await
    .assert_ok();
    let acls = json(&b, &["-o", "json", "acl", "list"]).await;
    let acl = find(&acls, "principal", "User:ann");
    assert_eq!(acl["name"], "clicks");
    assert_eq!(
        acl["resource"].as_str().map(str::to_lowercase),
        Some("topic".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_listing_is_an_empty_array() {
    let broker = start_broker().await;
    let b = broker.bootstrap();
    assert_eq!(
        json(&b, &["-o", "json", "txn", "list"]).await,
        serde_json::json!([])
    );
    assert_eq!(
        json(&b, &["-o", "json", "group", "list"]).await,
        serde_json::json!([])
    );
}
