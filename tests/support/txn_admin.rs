//! The admin client's transaction operations, as one scenario run against
//! any broker by bootstrap: `tests/kafka_transactions.rs` runs it on
//! Apache Kafka 4.x (one KRaft node) and also checks each answer against
//! what Kafka's own `kafka-transactions.sh` (`TransactionsCommand`) prints
//! for the same cluster; `tests/transactions_admin.rs` runs it on durian's
//! own broker.
//!
//! A transaction is left open with raw requests (tests/support/txn.rs),
//! with a plain record after it that read_committed readers cannot see
//! while it is open. Then:
//!
//! 1. `list_transactions` (and its filters), `describe_transactions` and
//!    `describe_producers` report it open;
//! 2. `abort_transaction` writes the abort marker through the leader: the
//!    last stable offset moves to the end and a read_committed durian
//!    consumer reads the plain record and none of the aborted ones;
//! 3. the coordinator is not told by such an abort (as in Kafka: the
//!    marker is the partition's business) and still lists the
//!    transaction Ongoing until the producer's EndTxn ends it; then it is
//!    listed CompleteAbort.
//!
//! Included through `#[path]` next to `support/txn.rs` as `txn_support`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::txn_support::{
    cell, end_transaction, last_stable_offset, open_transaction, produce_plain,
    transactions_command,
};
use durian::admin::{
    AbortTransactionSpec, Admin, NewTopic, OffsetSpec, TopicPartition, TransactionFilter,
    TransactionState,
};
use durian::consumer::Consumer;
use durian::core::{ClientConfig, KafkaCode};
use durian_testkit::wait::eventually;

const TOPIC: &str = "txn-admin";
const TXN_ID: &str = "txn-admin-app";
/// Long enough that Kafka never times the transaction out during the test.
const TXN_TIMEOUT_MS: i32 = 600_000;
const ABORTED: usize = 3;

/// The broker a run of [`list_describe_and_abort`] talks to.
pub struct Cluster<'a> {
    /// Its bootstrap address.
    pub bootstrap: &'a str,
    /// The node id of its (only) broker, the transaction coordinator.
    pub coordinator: i32,
    /// Whether it is Apache Kafka, whose `kafka-transactions.sh` is then
    /// run to compare its output with durian's answers.
    pub kafka_tool: bool,
}

/// The scenario of the module docs against `cluster`.
pub async fn list_describe_and_abort(cluster: Cluster<'_>) {
    let bootstrap = cluster.bootstrap.to_owned();
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("durian-txn-admin-test")
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let admin = Admin::builder()
        .client_config(config)
        .default_api_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let client = admin.client().clone();
    let mut created = admin
        .create_topics([NewTopic::new(TOPIC, 1).replication_factor(1)])
        .await;
    created.remove(TOPIC).unwrap().unwrap();
    let tp = TopicPartition::new(TOPIC, 0);

    let txn = open_transaction(&client, TXN_ID, TOPIC, 0, ABORTED, TXN_TIMEOUT_MS).await;
    let after = produce_plain(&client, TOPIC, 0, &["after"]).await;
    assert_eq!(after, txn.first_offset + ABORTED as i64);
    assert_eq!(
        last_stable_offset(&client, TOPIC, 0).await,
        txn.first_offset,
        "the open transaction holds the last stable offset"
    );

    // 1. Listing, with each filter letting it through or not.
    let listed = admin
        .list_transactions(&TransactionFilter::new())
        .await
        .unwrap();
    let ours = listed
        .iter()
        .find(|t| t.transactional_id == TXN_ID)
        .unwrap_or_else(|| panic!("{TXN_ID} not listed: {listed:?}"));
    assert_eq!(ours.producer_id, txn.producer_id);
    assert_eq!(ours.state, TransactionState::Ongoing);
    assert_eq!(ours.coordinator, cluster.coordinator);
    let count = async |filter: TransactionFilter| {
        let listed = admin.list_transactions(&filter).await.unwrap();
        listed
            .iter()
            .filter(|t| t.transactional_id == TXN_ID)
            .count()
    };
    assert_eq!(
        count(TransactionFilter::new().state(TransactionState::Ongoing)).await,
        1
    );
    assert_eq!(
        count(TransactionFilter::new().state(TransactionState::CompleteCommit)).await,
        0
    );
    assert_eq!(
        count(TransactionFilter::new().producer_id(txn.producer_id)).await,
        1
    );
    assert_eq!(
        count(TransactionFilter::new().producer_id(txn.producer_id + 1)).await,
        0
    );
    assert_eq!(
        count(TransactionFilter::new().running_longer_than(Duration::ZERO)).await,
        1
    );
    let hour = Duration::from_secs(3600);
    assert_eq!(
        count(TransactionFilter::new().running_longer_than(hour)).await,
        0
    );
    assert_eq!(
        count(TransactionFilter::new().transactional_id_pattern("^txn-admin-.*")).await,
        1
    );
    assert_eq!(
        count(TransactionFilter::new().transactional_id_pattern("^other")).await,
        0
    );

    if cluster.kafka_tool {
        // Kafka's tool agrees.
        let kafka_list = transactions_command(&bootstrap, &["list"]);
        let row = kafka_list
            .iter()
            .find(|r| cell(r, "TransactionalId") == TXN_ID)
            .unwrap_or_else(|| panic!("Kafka's tool does not list {TXN_ID}: {kafka_list:?}"));
        assert_eq!(cell(row, "ProducerId"), ours.producer_id.to_string());
        assert_eq!(cell(row, "TransactionState"), ours.state.name());
        assert_eq!(cell(row, "Coordinator"), ours.coordinator.to_string());
    }

    // Describing it, and an id no coordinator knows.
    let mut described = admin
        .describe_transactions([TXN_ID, "txn-admin-nobody"])
        .await;
    let missing = described.remove("txn-admin-nobody").unwrap().unwrap_err();
    assert_eq!(
        missing.kafka_code(),
        Some(KafkaCode::TRANSACTIONAL_ID_NOT_FOUND),
        "{missing}"
    );
    let description = described.remove(TXN_ID).unwrap().unwrap();
    assert_eq!(description.state, TransactionState::Ongoing);
    assert_eq!(
        (description.producer_id, description.producer_epoch),
        (txn.producer_id, txn.producer_epoch)
    );
    assert_eq!(description.transaction_timeout_ms, TXN_TIMEOUT_MS);
    assert!(
        description.transaction_start_time_ms.is_some(),
        "{description:?}"
    );
    assert_eq!(description.partitions, std::slice::from_ref(&tp));
    if cluster.kafka_tool {
        let kafka_described =
            transactions_command(&bootstrap, &["describe", "--transactional-id", TXN_ID]);
        let row = &kafka_described[0];
        assert_eq!(
            cell(row, "CoordinatorId"),
            description.coordinator.to_string()
        );
        assert_eq!(cell(row, "ProducerId"), description.producer_id.to_string());
        assert_eq!(
            cell(row, "ProducerEpoch"),
            description.producer_epoch.to_string()
        );
        assert_eq!(cell(row, "TransactionState"), "Ongoing");
        assert_eq!(
            cell(row, "TransactionTimeoutMs"),
            TXN_TIMEOUT_MS.to_string()
        );
        assert_eq!(
            cell(row, "CurrentTransactionStartTimeMs"),
            description.transaction_start_time_ms.unwrap().to_string()
        );
        assert_eq!(cell(row, "TopicPartitions"), tp.to_string());
    }

    // The partition's leader knows the producer and where its open
    // transaction starts.
    let mut producers = admin.describe_producers([tp.clone()]).await;
    let producers = producers.remove(&tp).unwrap().unwrap();
    let producer = producers
        .iter()
        .find(|p| p.producer_id == txn.producer_id)
        .unwrap_or_else(|| panic!("producer {} not described: {producers:?}", txn.producer_id));
    assert_eq!(producer.producer_epoch, i32::from(txn.producer_epoch));
    assert_eq!(producer.current_txn_start_offset, Some(txn.first_offset));
    assert_eq!(producer.last_sequence, ABORTED as i32 - 1);
    if cluster.kafka_tool {
        let kafka_producers = transactions_command(
            &bootstrap,
            &["describe-producers", "--topic", TOPIC, "--partition", "0"],
        );
        let row = kafka_producers
            .iter()
            .find(|r| cell(r, "ProducerId") == txn.producer_id.to_string())
            .unwrap_or_else(|| {
                panic!("Kafka's tool does not describe the producer: {kafka_producers:?}")
            });
        assert_eq!(
            cell(row, "ProducerEpoch"),
            producer.producer_epoch.to_string()
        );
        assert_eq!(
            cell(row, "LastSequence"),
            producer.last_sequence.to_string()
        );
        assert_eq!(
            cell(row, "CurrentTransactionStartOffset"),
            txn.first_offset.to_string()
        );
    }

    // 2. Abort through the leader, with the coordinator epoch the leader
    // last saw (-1: none yet).
    let spec = AbortTransactionSpec::new(
        tp.clone(),
        txn.producer_id,
        txn.producer_epoch,
        producer.coordinator_epoch.unwrap_or(-1),
    );
    admin.abort_transaction(&spec).await.unwrap();
    let mut ends = admin.list_offsets([(tp.clone(), OffsetSpec::Latest)]).await;
    let end = ends.remove(&tp).unwrap().unwrap().offset.unwrap();
    assert_eq!(
        end,
        after + 2,
        "the plain record and the abort marker follow"
    );
    assert_eq!(last_stable_offset(&client, TOPIC, 0).await, end);
    let mut producers = admin.describe_producers([tp.clone()]).await;
    let producers = producers.remove(&tp).unwrap().unwrap();
    let producer = producers
        .iter()
        .find(|p| p.producer_id == txn.producer_id)
        .unwrap();
    assert_eq!(producer.current_txn_start_offset, None, "{producer:?}");

    let mut consumer = Consumer::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("isolation.level", "read_committed"),
        ("auto.offset.reset", "earliest"),
    ])
    .unwrap();
    consumer.assign([tp.clone()]).unwrap();
    let mut values = Vec::new();
    eventually(
        Duration::from_secs(30),
        "the record after the aborted transaction",
        async || {
            let batch = consumer.poll(Duration::from_secs(1)).await.unwrap();
            for record in batch {
                values.push(String::from_utf8(record.value.unwrap().to_vec()).unwrap());
            }
            values.iter().any(|v| v == "after").then_some(())
        },
    )
    .await;
    assert_eq!(
        values,
        ["after"],
        "read_committed skips the aborted records"
    );

    // 3. The coordinator was not part of that abort.
    let listed = admin
        .list_transactions(&TransactionFilter::new().producer_id(txn.producer_id))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].state, TransactionState::Ongoing);

    end_transaction(&client, &txn, false).await;
    let ended = eventually(
        Duration::from_secs(30),
        "the coordinator to complete the abort",
        async || {
            let listed = admin
                .list_transactions(&TransactionFilter::new().producer_id(txn.producer_id))
                .await
                .unwrap();
            listed
                .into_iter()
                .find(|t| t.state == TransactionState::CompleteAbort)
        },
    )
    .await;
    assert_eq!(ended.transactional_id, TXN_ID);
    let ongoing = admin
        .list_transactions(&TransactionFilter::new().state(TransactionState::Ongoing))
        .await
        .unwrap();
    assert!(
        ongoing.iter().all(|t| t.transactional_id != TXN_ID),
        "{ongoing:?}"
    );
    if cluster.kafka_tool {
        let kafka_list = transactions_command(&bootstrap, &["list"]);
        let row = kafka_list
            .iter()
            .find(|r| cell(r, "TransactionalId") == TXN_ID)
            .unwrap();
        assert_eq!(cell(row, "TransactionState"), "CompleteAbort");
    }
    let mut described = admin.describe_transactions([TXN_ID]).await;
    let description = described.remove(TXN_ID).unwrap().unwrap();
    assert_eq!(description.state, TransactionState::CompleteAbort);
    assert!(description.partitions.is_empty(), "{description:?}");
}
