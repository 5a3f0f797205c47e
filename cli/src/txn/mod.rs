//! `durian txn`: list and describe transactions, describe the producers
//! of partitions, find hanging transactions and abort them, through the
//! admin client; the counterpart of Kafka's `kafka-transactions.sh`.

mod hanging;

use clap::{Args, Subcommand};
use durian::admin::{
    AbortTransactionSpec, Admin, ProducerState, TopicPartition, TransactionFilter, TransactionState,
};
use durian::core::{Error, KafkaCode};

use crate::table::{or_dash, print_stdout, Table};
use crate::topic::{admin_client, take_result, topic_partitions};
use crate::{CliError, GlobalOpts};

/// Options of `durian txn`.
#[derive(Debug, Args)]
pub struct TxnArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TxnAction,
}

/// The `durian txn` subcommands.
#[derive(Debug, Subcommand)]
pub enum TxnAction {
    /// List the transactional ids of every broker with their state.
    List {
        /// Only transactions in this state (e.g. Ongoing; repeatable).
        #[arg(long = "state")]
        states: Vec<String>,
        /// Only transactions of this producer id (repeatable).
        #[arg(long = "producer-id")]
        producer_ids: Vec<i64>,
        /// Only transactions open longer than this many milliseconds.
        #[arg(long)]
        duration_ms: Option<u64>,
        /// Only transactional ids this regular expression matches as a
        /// whole, e.g. `app-.*` (evaluated by the broker; Kafka 4.1+).
        #[arg(long)]
        pattern: Option<String>,
    },
    /// Describe transactional ids: producer, state, timeout, partitions.
    Describe {
        /// Transactional ids.
        #[arg(required = true)]
        transactional_ids: Vec<String>,
    },
    /// Show the producers writing to a topic's partitions and where
    /// their open transactions start.
    DescribeProducers {
        /// The topic.
        #[arg(long)]
        topic: String,
        /// Only this partition (default: all of the topic's).
        #[arg(long)]
        partition: Option<i32>,
    },
    /// Abort a producer's open transaction on one partition by writing an
    /// abort marker through the partition's leader.
    Abort {
        /// The topic.
        #[arg(long)]
        topic: String,
        /// The partition.
        #[arg(long)]
        partition: i32,
        /// The offset where the transaction starts (as `describe-producers`
        /// or `find-hanging` print it); the producer is looked up.
        #[arg(long, conflicts_with_all = ["producer_id", "producer_epoch", "coordinator_epoch"])]
        start_offset: Option<i64>,
        /// The producer id of the transaction.
        #[arg(long, required_unless_present = "start_offset")]
        producer_id: Option<i64>,
        /// The producer epoch of the transaction.
        #[arg(long, required_unless_present = "start_offset")]
        producer_epoch: Option<i16>,
        /// The coordinator epoch for the marker (-1 when the partition has
        /// never seen a marker from this producer).
        #[arg(
            long,
            required_unless_present = "start_offset",
            allow_hyphen_values = true
        )]
        coordinator_epoch: Option<i32>,
    },
    /// List open transactions of a topic's partitions that their
    /// coordinator no longer has open there (candidates for `abort`).
    FindHanging {
        /// The topic to search.
        #[arg(long)]
        topic: String,
        /// Only this partition.
        #[arg(long)]
        partition: Option<i32>,
        /// Only transactions whose last write is at least this many
        /// minutes old (the cluster's `transaction.max.timeout.ms`).
        #[arg(long, default_value_t = 15)]
        max_transaction_timeout: u64,
    },
}

/// Runs `durian txn`.
pub async fn run(args: TxnArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let admin = admin_client(global)?;
    match args.action {
        TxnAction::List {
            states,
            producer_ids,
            duration_ms,
            pattern,
        } => {
            let mut filter = TransactionFilter::new();
            for state in states {
                filter = filter.state(parse_state(&state));
            }
            for id in producer_ids {
                filter = filter.producer_id(id);
            }
            if let Some(ms) = duration_ms {
                filter = filter.running_longer_than(std::time::Duration::from_millis(ms));
            }
            if let Some(pattern) = pattern {
                filter = filter.transactional_id_pattern(pattern);
            }
            list(&admin, &filter).await
        }
        TxnAction::Describe { transactional_ids } => describe(&admin, transactional_ids).await,
        TxnAction::DescribeProducers { topic, partition } => {
            let partitions = partitions_of(&admin, &topic, partition).await?;
            describe_producers(&admin, partitions).await
        }
        TxnAction::Abort {
            topic,
            partition,
            start_offset,
            producer_id,
            producer_epoch,
            coordinator_epoch,
        } => {
            let tp = TopicPartition::new(topic, partition);
            let spec = match (start_offset, producer_id, producer_epoch, coordinator_epoch) {
                (Some(offset), ..) => spec_at_offset(&admin, &tp, offset).await?,
                (None, Some(id), Some(epoch), Some(coordinator_epoch)) => {
                    AbortTransactionSpec::new(tp, id, epoch, coordinator_epoch)
                }
                _ => {
                    return Err(CliError::new(
                        "give --start-offset, or --producer-id, --producer-epoch and --coordinator-epoch",
                    ))
                }
            };
            abort(&admin, &spec).await
        }
        TxnAction::FindHanging {
            topic,
            partition,
            max_transaction_timeout,
        } => {
            let partitions = partitions_of(&admin, &topic, partition).await?;
            let min_age = std::time::Duration::from_secs(max_transaction_timeout * 60);
            hanging::run(&admin, partitions, min_age).await
        }
    }
}

/// A state named on the command line, in any letter case.
fn parse_state(name: &str) -> TransactionState {
    const KNOWN: [TransactionState; 8] = [
        TransactionState::Empty,
        TransactionState::Ongoing,
        TransactionState::PrepareCommit,
        TransactionState::PrepareAbort,
        TransactionState::CompleteCommit,
        TransactionState::CompleteAbort,
        TransactionState::PrepareEpochFence,
        TransactionState::Dead,
    ];
    KNOWN
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(name))
        .unwrap_or_else(|| TransactionState::from_name(name))
}

/// An error about one transactional id or partition, with what to do for
/// the usual causes.
pub fn txn_error(what: &str, error: &Error) -> CliError {
    let hint = match error.kafka_code() {
        Some(KafkaCode::TRANSACTIONAL_ID_NOT_FOUND) => " (no coordinator knows this id)",
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION) => " (no such topic or partition)",
        Some(KafkaCode::INVALID_PRODUCER_EPOCH) => {
            " (the epoch is older than the producer's: check `durian txn describe-producers`)"
        }
        Some(KafkaCode::TRANSACTION_COORDINATOR_FENCED) => {
            " (the coordinator epoch is older than the partition's last marker)"
        }
        Some(
            KafkaCode::CLUSTER_AUTHORIZATION_FAILED
            | KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ) => " (not authorized)",
        _ if error.is_retriable() => " (is the broker reachable? check -b / DURIAN_BROKERS)",
        _ => "",
    };
    CliError::new(format!("{what}: {error}{hint}"))
}

/// `[topic-partition]` or every partition of `topic`.
async fn partitions_of(
    admin: &Admin,
    topic: &str,
    partition: Option<i32>,
) -> Result<Vec<TopicPartition>, CliError> {
    if let Some(partition) = partition {
        return Ok(vec![TopicPartition::new(topic, partition)]);
    }
    let counts = topic_partitions(admin, &[topic.to_owned()]).await?;
    let count = counts.get(topic).copied().unwrap_or(0);
    Ok((0..count).map(|p| TopicPartition::new(topic, p)).collect())
}

async fn list(admin: &Admin, filter: &TransactionFilter) -> Result<(), CliError> {
    let listed = admin
        .list_transactions(filter)
        .await
        .map_err(|e| CliError::new(format!("cannot list transactions: {e}")))?;
    let mut table = Table::new(["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"]);
    for txn in listed {
        table.row([
            txn.transactional_id,
            txn.coordinator.to_string(),
            txn.producer_id.to_string(),
            txn.state.to_string(),
        ]);
    }
    table.print()
}

async fn describe(admin: &Admin, mut ids: Vec<String>) -> Result<(), CliError> {
    // One row per id, even when an id is given twice.
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let mut results = admin.describe_transactions(ids.iter().cloned()).await;
    let now = now_ms();
    let mut table = Table::new([
        "TRANSACTIONAL-ID",
        "COORDINATOR",
        "PRODUCER-ID",
        "EPOCH",
        "STATE",
        "TIMEOUT-MS",
        "START-TIME-MS",
        "DURATION-MS",
        "PARTITIONS",
    ]);
    let mut failures = Vec::new();
    for id in &ids {
        match take_result(&mut results, id)? {
            Ok(d) => {
                let partitions: Vec<String> =
                    d.partitions.iter().map(|tp| tp.to_string()).collect();
                table.row([
                    id.clone(),
                    d.coordinator.to_string(),
                    d.producer_id.to_string(),
                    d.producer_epoch.to_string(),
                    d.state.to_string(),
                    d.transaction_timeout_ms.to_string(),
                    or_dash(d.transaction_start_time_ms),
                    or_dash(d.transaction_start_time_ms.map(|start| now - start)),
                    if partitions.is_empty() {
                        "-".to_owned()
                    } else {
                        partitions.join(",")
                    },
                ]);
            }
            Err(error) => failures.push((id.clone(), error)),
        }
    }
    // JSON always prints its array (maybe empty), so the output parses.
    if !table.is_empty() || crate::table::format() == crate::table::OutputFormat::Json {
        table.print()?;
    }
    match failures.first() {
        None => Ok(()),
        Some((id, error)) => Err(txn_error(&format!("transactional id `{id}`"), error)),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The producers of each partition, or the first partition's error.
async fn producers_of(
    admin: &Admin,
    partitions: Vec<TopicPartition>,
) -> Result<Vec<(TopicPartition, Vec<ProducerState>)>, CliError> {
    let results = admin.describe_producers(partitions).await;
    results
        .into_iter()
        .map(|(tp, result)| match result {
            Ok(producers) => Ok((tp, producers)),
            Err(error) => Err(txn_error(&format!("partition {tp}"), &error)),
        })
        .collect()
}

async fn describe_producers(
    admin: &Admin,
    partitions: Vec<TopicPartition>,
) -> Result<(), CliError> {
    let mut table = Table::new([
        "TOPIC",
        "PARTITION",
        "PRODUCER-ID",
        "EPOCH",
        "COORDINATOR-EPOCH",
        "LAST-SEQUENCE",
        "LAST-TIMESTAMP",
        "TXN-START-OFFSET",
    ]);
    for (tp, producers) in producers_of(admin, partitions).await? {
        for p in producers {
            table.row([
                tp.topic().to_owned(),
                tp.partition.to_string(),
                p.producer_id.to_string(),
                p.producer_epoch.to_string(),
                or_dash(p.coordinator_epoch),
                p.last_sequence.to_string(),
                p.last_timestamp.to_string(),
                or_dash(p.current_txn_start_offset),
            ]);
        }
    }
    table.print()
}

/// The abort spec of the producer whose open transaction on `tp` starts
/// at `offset`, as the partition's leader reports it.
async fn spec_at_offset(
    admin: &Admin,
    tp: &TopicPartition,
    offset: i64,
) -> Result<AbortTransactionSpec, CliError> {
    let producers = producers_of(admin, vec![tp.clone()]).await?;
    let producer = producers
        .into_iter()
        .flat_map(|(_, producers)| producers)
        .find(|p| p.current_txn_start_offset == Some(offset))
        .ok_or_else(|| {
            CliError::new(format!(
                "no open transaction starts at offset {offset} of {tp} (see `durian txn describe-producers`)"
            ))
        })?;
    let epoch = i16::try_from(producer.producer_epoch).map_err(|_| {
        CliError::new(format!(
            "producer {} has epoch {}, beyond a marker's range",
            producer.producer_id, producer.producer_epoch
        ))
    })?;
    Ok(AbortTransactionSpec::new(
        tp.clone(),
        producer.producer_id,
        epoch,
        producer.coordinator_epoch.unwrap_or(-1),
    ))
}

async fn abort(admin: &Admin, spec: &AbortTransactionSpec) -> Result<(), CliError> {
    admin
        .abort_transaction(spec)
        .await
        .map_err(|e| txn_error(&format!("aborting on {}", spec.partition), &e))?;
    print_stdout(&format!(
        "aborted the transaction of producer {} (epoch {}) on {}\n",
        spec.producer_id, spec.producer_epoch, spec.partition
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_matched_in_any_case() {
        assert_eq!(parse_state("ongoing"), TransactionState::Ongoing);
        assert_eq!(
            parse_state("COMPLETEABORT"),
            TransactionState::CompleteAbort
        );
        assert_eq!(
            parse_state("Thawing"),
            TransactionState::Other("Thawing".into())
        );
    }
}
