//! A transaction left open on purpose, from raw requests through
//! durian-core's `Client` (the producer's transactional API is not used,
//! so the tests of the admin and CLI transaction commands depend on
//! nothing but the broker's coordinator):
//!
//! ```text
//! InitProducerId(transactional id) ──▶ coordinator: producer id, epoch
//! AddPartitionsToTxn v3            ──▶ coordinator: partition joins the txn
//! Produce(transactional batch)     ──▶ leader: records held back from
//!                                      read_committed readers (LSO stops)
//! ```
//!
//! [`open_hanging_transaction`] skips the middle step, so the coordinator
//! never learns of the partition: the transaction hangs there (KIP-664's
//! case). Kafka only accepts that write with
//! `transaction.partition.verification.enable=false` and a Produce version
//! below 12 (v12+ adds the partition implicitly under KIP-890).
//!
//! durian's broker refuses that write (it always verifies transactional
//! writes with its coordinator), so only the Kafka tests use it.
//!
//! Shared by `tests/kafka_transactions.rs`, `tests/transactions_admin.rs`,
//! `cli/tests/kafka_txn.rs` and `cli/tests/txn.rs` (through `#[path]`), so
//! it names crates all can see: `durian` (the facade) and `kafka_protocol`.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use durian::core::record::{BatchWriter, NO_HEADERS};
use durian::core::{Client, CoordinatorKind, Error, KafkaError, Target};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, BrokerId, EndTxnRequest, InitProducerIdRequest, ListOffsetsRequest,
    ProduceRequest, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

/// Produce v12, the last version naming topics (v13 uses topic ids only).
const PRODUCE_BY_NAME: i16 = 12;

/// Produce v11, the last version before KIP-890's implicit partition add.
const PRODUCE_WITHOUT_IMPLICIT_ADD: i16 = 11;

/// AddPartitionsToTxn v3, the last client version (v4+ is broker-only).
const ADD_PARTITIONS_CLIENT: i16 = 3;

/// EndTxn v4: the classic protocol, matching the partitions added
/// explicitly with v3 (v5 belongs to transaction version 2, KIP-890).
const END_TXN_CLASSIC: i16 = 4;

/// How long one step may keep being refused with a retriable error (the
/// transaction state topic is created on first use).
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// What [`open_transaction`] left open.
#[derive(Clone, Debug)]
pub struct OpenTransaction {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id the coordinator gave it.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The topic written to.
    pub topic: String,
    /// The partition written to.
    pub partition: i32,
    /// The offset of the first transactional record.
    pub first_offset: i64,
    /// The transaction timeout registered with the coordinator.
    pub timeout_ms: i32,
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn txn_target(transactional_id: &str) -> Target {
    Target::Coordinator {
        kind: CoordinatorKind::Transaction,
        key: transactional_id.to_owned(),
    }
}

/// Runs `step` until it succeeds, retrying retriable errors (coordinator
/// loading or moving, `CONCURRENT_TRANSACTIONS`) for up to [`STEP_LIMIT`];
/// panics on any other error.
async fn until_done<T>(what: &str, mut step: impl AsyncFnMut() -> Result<T, Error>) -> T {
    durian_testkit::wait::eventually(STEP_LIMIT, what, async || match step().await {
        Ok(value) => Some(value),
        Err(error) if error.is_retriable() => None,
        Err(error) => panic!("{what}: {error}"),
    })
    .await
}

/// The current leader of `topic`-`partition`.
async fn leader(client: &Client, topic: &str, partition: i32) -> i32 {
    client.add_topics([topic.to_owned()]);
    until_done("the partition's leader", async || {
        let metadata = client.refresh_metadata("transaction test").await?;
        metadata
            .partition_leader(topic, partition)
            .map(|l| l.node_id)
            .ok_or(Error::Kafka(KafkaError {
                code: durian::core::KafkaCode::LEADER_NOT_AVAILABLE,
                message: None,
            }))
    })
    .await
}

/// Appends one batch of `values` to `topic`-`partition` as `producer`
/// (id, epoch, first sequence; `None`: a plain batch) in the transaction
/// of `transactional_id` (if any), as Produce `version`; returns the
/// batch's base offset.
async fn produce(
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[String],
    producer: Option<(i64, i16, i32)>,
    transactional_id: Option<&str>,
    version: i16,
) -> i64 {
    let mut builder = BatchWriter::builder();
    if let Some((id, epoch, sequence)) = producer {
        builder = builder
            .producer(id, epoch, sequence)
            .transactional(transactional_id.is_some());
    }
    let mut writer = builder.build();
    // Real timestamps: `find-hanging` judges a transaction's age by them.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis() as i64;
    for value in values {
        writer
            .try_append(now, None, Some(value.as_bytes()), NO_HEADERS)
            .expect("a small batch has room");
    }
    let records = writer.finish().expect("batch encodes");
    let request = ProduceRequest::default()
        .with_transactional_id(transactional_id.map(|id| TransactionalId(text(id))))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(text(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    until_done("produce", async || {
        let node = leader(client, topic, partition).await;
        let response = client
            .send_with_version(Target::Broker(node), request.clone(), version)
            .await?;
        let answer = &response.responses[0].partition_responses[0];
        KafkaError::check(answer.error_code, None)?;
        Ok(answer.base_offset)
    })
    .await
}

/// Opens a transaction for `transactional_id` with `timeout_ms`, adds
/// `topic`-`partition` to it and writes `records` transactional records
/// (`"{transactional_id}-{i}"`) there, leaving it open.
pub async fn open_transaction(
    client: &Client,
    transactional_id: &str,
    topic: &str,
    partition: i32,
    records: usize,
    timeout_ms: i32,
) -> OpenTransaction {
    let (producer_id, producer_epoch) =
        init_producer_id(client, transactional_id, timeout_ms).await;
    let target = txn_target(transactional_id);
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(text(transactional_id)))
        .with_v3_and_below_producer_id(ProducerId(producer_id))
        .with_v3_and_below_producer_epoch(producer_epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(TopicName(text(topic)))
            .with_partitions(vec![partition])]);
    until_done("AddPartitionsToTxn", async || {
        let response = client
            .send_with_version(target.clone(), add.clone(), ADD_PARTITIONS_CLIENT)
            .await?;
        KafkaError::check(response.error_code, None)?;
        for topic in &response.results_by_topic_v3_and_below {
            for result in &topic.results_by_partition {
                KafkaError::check(result.partition_error_code, None)?;
            }
        }
        Ok(())
    })
    .await;

    let values: Vec<String> = (0..records)
        .map(|i| format!("{transactional_id}-{i}"))
        .collect();
    let first_offset = produce(
        client,
        topic,
        partition,
        &values,
        Some((producer_id, producer_epoch, 0)),
        Some(transactional_id),
        PRODUCE_BY_NAME,
    )
    .await;
    OpenTransaction {
        transactional_id: transactional_id.to_owned(),
        producer_id,
        producer_epoch,
        topic: topic.to_owned(),
        partition,
        first_offset,
        timeout_ms,
    }
}

/// A producer id and epoch for `transactional_id` (InitProducerId).
async fn init_producer_id(client: &Client, transactional_id: &str, timeout_ms: i32) -> (i64, i16) {
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(text(transactional_id))))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let target = txn_target(transactional_id);
    until_done("InitProducerId", async || {
        let response = client.send(target.clone(), init.clone()).await?;
        KafkaError::check(response.error_code, None)?;
        Ok((response.producer_id.0, response.producer_epoch))
    })
    .await
}

/// Writes `records` transactional records for `transactional_id` to
/// `topic`-`partition` without adding the partition to the transaction
/// at the coordinator: a hanging transaction (see the module docs for the
/// broker settings this needs).
pub async fn open_hanging_transaction(
    client: &Client,
    transactional_id: &str,
    topic: &str,
    partition: i32,
    records: usize,
    timeout_ms: i32,
) -> OpenTransaction {
    let (producer_id, producer_epoch) =
        init_producer_id(client, transactional_id, timeout_ms).await;
    let values: Vec<String> = (0..records)
        .map(|i| format!("{transactional_id}-{i}"))
        .collect();
    let first_offset = produce(
        client,
        topic,
        partition,
        &values,
        Some((producer_id, producer_epoch, 0)),
        Some(transactional_id),
        PRODUCE_WITHOUT_IMPLICIT_ADD,
    )
    .await;
    OpenTransaction {
        transactional_id: transactional_id.to_owned(),
        producer_id,
        producer_epoch,
        topic: topic.to_owned(),
        partition,
        first_offset,
        timeout_ms,
    }
}

/// Appends plain (non-transactional) records; returns the base offset.
pub async fn produce_plain(client: &Client, topic: &str, partition: i32, values: &[&str]) -> i64 {
    let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    produce(
        client,
        topic,
        partition,
        &values,
        None,
        None,
        PRODUCE_BY_NAME,
    )
    .await
}

/// Ends `txn` at its coordinator (EndTxn, commit or abort), which writes
/// the markers to its partitions.
pub async fn end_transaction(client: &Client, txn: &OpenTransaction, commit: bool) {
    let request = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(text(&txn.transactional_id)))
        .with_producer_id(ProducerId(txn.producer_id))
        .with_producer_epoch(txn.producer_epoch)
        .with_committed(commit);
    let target = txn_target(&txn.transactional_id);
    until_done("EndTxn", async || {
        let response = client
            .send_with_version(target.clone(), request.clone(), END_TXN_CLASSIC)
            .await?;
        KafkaError::check(response.error_code, None)
    })
    .await;
}

/// The partition's last stable offset: ListOffsets for the latest offset
/// at isolation level read_committed.
pub async fn last_stable_offset(client: &Client, topic: &str, partition: i32) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(1)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(text(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_current_leader_epoch(-1)
                .with_timestamp(-1)])]);
    until_done("ListOffsets read_committed", async || {
        let node = leader(client, topic, partition).await;
        let response = client.send(Target::Broker(node), request.clone()).await?;
        let answer = &response.topics[0].partitions[0];
        KafkaError::check(answer.error_code, None)?;
        Ok(answer.offset)
    })
    .await
}

/// Runs Kafka's `TransactionsCommand` (`kafka-transactions.sh`) against
/// `bootstrap` with `args`; returns one map per table row, from column
/// heading to cell (Kafka's cells hold no spaces). Panics when the tool
/// fails or Kafka's jars are missing (a test that got a `KafkaCluster`
/// has them).
pub fn transactions_command(bootstrap: &str, args: &[&str]) -> Vec<BTreeMap<String, String>> {
    let (libs, java) = durian_testkit::kafka::installation().expect("Kafka's jars and a JVM");
    let output = Command::new(java)
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg("org.apache.kafka.tools.TransactionsCommand")
        .arg("--bootstrap-server")
        .arg(bootstrap)
        .args(args)
        .output()
        .expect("run TransactionsCommand");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "TransactionsCommand {args:?} failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
    let headings: Vec<String> = lines
        .next()
        .unwrap_or_else(|| panic!("no table from {args:?}: {stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    lines
        .map(|line| {
            headings
                .iter()
                .cloned()
                .zip(line.split_whitespace().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// The cell of `row` under `column`; panics naming the row when absent.
pub fn cell<'a>(row: &'a BTreeMap<String, String>, column: &str) -> &'a str {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
}
