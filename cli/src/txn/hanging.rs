//! `durian txn find-hanging`: open transactions on partitions that their
//! coordinator does not have open there any more.
//!
//! ```text
//! partitions ──describe_producers──▶ producers with an open transaction,
//!                                    last write older than the max timeout
//!            ──list_transactions(producer ids)──▶ transactional id per producer
//!            ──describe_transactions──▶ the coordinator's view
//! hanging: no transactional id has the producer id, or the coordinator's
//!          transaction (same producer id) does not include the partition
//! ```
//!
//! Such a transaction holds back the partition's last stable offset until
//! `durian txn abort` writes its abort marker. The transaction timeout
//! bounds how long the coordinator itself may leave one open, which is
//! why younger ones are not reported.

use std::collections::BTreeMap;
use std::time::Duration;

use durian::admin::{
    Admin, ProducerState, TopicPartition, TransactionDescription, TransactionFilter,
};

use super::{now_ms, producers_of, txn_error};
use crate::table::{or_dash, Table};
use crate::CliError;

/// A producer's open transaction on one partition.
#[derive(Clone, Debug)]
pub(super) struct OpenTransaction {
    partition: TopicPartition,
    producer: ProducerState,
}

/// Prints the hanging transactions of `partitions` whose last write is at
/// least `min_age` old.
pub(super) async fn run(
    admin: &Admin,
    partitions: Vec<TopicPartition>,
    min_age: Duration,
) -> Result<(), CliError> {
    let now = now_ms();
    let min_age_ms = i64::try_from(min_age.as_millis()).unwrap_or(i64::MAX);
    let open: Vec<OpenTransaction> = producers_of(admin, partitions)
        .await?
        .into_iter()
        .flat_map(|(partition, producers)| {
            producers
                .into_iter()
                .filter(|p| p.current_txn_start_offset.is_some())
                .map(move |producer| OpenTransaction {
                    partition: partition.clone(),
                    producer,
                })
        })
        .filter(|t| now - t.producer.last_timestamp >= min_age_ms)
        .collect();
    let hanging = if open.is_empty() {
        Vec::new()
    } else {
        let ids = transactional_ids(admin, &open).await?;
        let descriptions = describe(admin, ids.values().cloned().collect()).await?;
        filter_hanging(open, &ids, &descriptions)
    };
    render(&hanging, now).print()
}

/// The transactional id of each producer id of `open` that a coordinator
/// lists.
async fn transactional_ids(
    admin: &Admin,
    open: &[OpenTransaction],
) -> Result<BTreeMap<i64, String>, CliError> {
    let mut filter = TransactionFilter::new();
    for t in open {
        filter = filter.producer_id(t.producer.producer_id);
    }
    let listed = admin
        .list_transactions(&filter)
        .await
        .map_err(|e| CliError::new(format!("cannot list transactions: {e}")))?;
    Ok(listed
        .into_iter()
        .map(|t| (t.producer_id, t.transactional_id))
        .collect())
}

/// The coordinators' descriptions of `ids`; an id no coordinator knows any
/// more is simply absent (its transactions are hanging).
async fn describe(
    admin: &Admin,
    ids: Vec<String>,
) -> Result<BTreeMap<String, TransactionDescription>, CliError> {
    let mut described = BTreeMap::new();
    for (id, result) in admin.describe_transactions(ids).await {
        match result {
            Ok(description) => {
                described.insert(id, description);
            }
            Err(error)
                if error.kafka_code()
                    == Some(durian::core::KafkaCode::TRANSACTIONAL_ID_NOT_FOUND) => {}
            Err(error) => return Err(txn_error(&format!("transactional id `{id}`"), &error)),
        }
    }
    Ok(described)
}

/// The open transactions the coordinator does not have open on their
/// partition.
fn filter_hanging(
    open: Vec<OpenTransaction>,
    ids: &BTreeMap<i64, String>,
    descriptions: &BTreeMap<String, TransactionDescription>,
) -> Vec<OpenTransaction> {
    open.into_iter()
        .filter(|t| {
            let coordinator_has_it = ids
                .get(&t.producer.producer_id)
                .and_then(|id| descriptions.get(id))
                .is_some_and(|d| {
                    d.producer_id == t.producer.producer_id && d.partitions.contains(&t.partition)
                });
            !coordinator_has_it
        })
        .collect()
}

fn render(hanging: &[OpenTransaction], now: i64) -> Table {
    let mut table = Table::new([
        "TOPIC",
        "PARTITION",
        "PRODUCER-ID",
        "EPOCH",
        "COORDINATOR-EPOCH",
        "START-OFFSET",
        "LAST-TIMESTAMP",
        "AGE-MIN",
    ]);
    for t in hanging {
        let p = &t.producer;
        table.row([
            t.partition.topic().to_owned(),
            t.partition.partition.to_string(),
            p.producer_id.to_string(),
            p.producer_epoch.to_string(),
            or_dash(p.coordinator_epoch),
            or_dash(p.current_txn_start_offset),
            p.last_timestamp.to_string(),
            ((now - p.last_timestamp) / 60_000).to_string(),
        ]);
    }
    table
}
