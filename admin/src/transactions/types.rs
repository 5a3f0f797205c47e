//! The typed values of the transaction operations: what to filter a
//! listing by, what a listing, a description and a producer state hold,
//! and what an abort needs.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use durian_core::TopicPartition;

/// The state of a transaction as its coordinator reports it.
///
/// The coordinator names states in text (`"Ongoing"`, `"CompleteAbort"`,
/// ...); a name durian does not know is kept in [`TransactionState::Other`]
/// so a newer broker's answer is never lost.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TransactionState {
    /// The producer has a transactional id but no transaction open.
    Empty,
    /// A transaction is open: partitions were added and not yet ended.
    Ongoing,
    /// The producer asked to commit; markers are being written.
    PrepareCommit,
    /// The producer (or a timeout) asked to abort; markers are being written.
    PrepareAbort,
    /// The last transaction committed and all its markers are written.
    CompleteCommit,
    /// The last transaction aborted and all its markers are written.
    CompleteAbort,
    /// A newer producer fenced this one; its transaction is being aborted.
    PrepareEpochFence,
    /// The transactional id expired and is being removed.
    Dead,
    /// A state name this version of durian does not know.
    Other(String),
}

impl TransactionState {
    /// The name on the wire, e.g. `"Ongoing"`.
    pub fn name(&self) -> &str {
        match self {
            TransactionState::Empty => "Empty",
            TransactionState::Ongoing => "Ongoing",
            TransactionState::PrepareCommit => "PrepareCommit",
            TransactionState::PrepareAbort => "PrepareAbort",
            TransactionState::CompleteCommit => "CompleteCommit",
            TransactionState::CompleteAbort => "CompleteAbort",
            TransactionState::PrepareEpochFence => "PrepareEpochFence",
            TransactionState::Dead => "Dead",
            TransactionState::Other(name) => name,
        }
    }

    /// The state named `name` on the wire (exact spelling, as Kafka sends it).
    pub fn from_name(name: &str) -> TransactionState {
        match name {
            "Empty" => TransactionState::Empty,
            "Ongoing" => TransactionState::Ongoing,
            "PrepareCommit" => TransactionState::PrepareCommit,
            "PrepareAbort" => TransactionState::PrepareAbort,
            "CompleteCommit" => TransactionState::CompleteCommit,
            "CompleteAbort" => TransactionState::CompleteAbort,
            "PrepareEpochFence" => TransactionState::PrepareEpochFence,
            "Dead" => TransactionState::Dead,
            other => TransactionState::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for TransactionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TransactionState {
    type Err = std::convert::Infallible;

    /// Never fails: an unknown name becomes [`TransactionState::Other`].
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(TransactionState::from_name(name))
    }
}

/// Which transactions [`crate::Admin::list_transactions`] returns; the
/// default returns all of them. Conditions combine with AND; several
/// states or several producer ids match any one of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionFilter {
    /// Only transactions in one of these states (empty: any state).
    pub states: Vec<TransactionState>,
    /// Only transactions of one of these producer ids (empty: any).
    pub producer_ids: Vec<i64>,
    /// Only transactions open longer than this (ListTransactions v1,
    /// Kafka 3.8+).
    pub running_longer_than: Option<Duration>,
    /// Only transactional ids this regular expression matches as a whole
    /// (Kafka does not look for it inside the id: `app-` matches only
    /// `app-`, `app-.*` every id starting so), evaluated by the broker
    /// (ListTransactions v2, Kafka 4.1+).
    pub transactional_id_pattern: Option<String>,
}

impl TransactionFilter {
    /// A filter that lets every transaction through.
    pub fn new() -> Self {
        TransactionFilter::default()
    }

    /// Also lets transactions in `state` through.
    pub fn state(mut self, state: TransactionState) -> Self {
        self.states.push(state);
        self
    }

    /// Also lets transactions of `producer_id` through.
    pub fn producer_id(mut self, producer_id: i64) -> Self {
        self.producer_ids.push(producer_id);
        self
    }

    /// Only transactions open longer than `duration`.
    pub fn running_longer_than(mut self, duration: Duration) -> Self {
        self.running_longer_than = Some(duration);
        self
    }

    /// Only transactional ids matching the regular expression `pattern`.
    pub fn transactional_id_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.transactional_id_pattern = Some(pattern.into());
        self
    }
}

/// A transaction as listed by [`crate::Admin::list_transactions`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionListing {
    /// The producer's `transactional.id`.
    pub transactional_id: String,
    /// The producer id the transactional id is bound to.
    pub producer_id: i64,
    /// The state of its current (or last) transaction.
    pub state: TransactionState,
    /// The node id of the broker coordinating it (the one that listed it).
    pub coordinator: i32,
}

/// A transactional id's state, from
/// [`crate::Admin::describe_transactions`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionDescription {
    /// The node id of the coordinator that answered.
    pub coordinator: i32,
    /// The state of its current (or last) transaction.
    pub state: TransactionState,
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The transaction timeout the producer registered
    /// (`transaction.timeout.ms`).
    pub transaction_timeout_ms: i32,
    /// When the current transaction started (ms since the epoch); `None`
    /// when no transaction is open.
    pub transaction_start_time_ms: Option<i64>,
    /// The partitions in the current transaction, sorted.
    pub partitions: Vec<TopicPartition>,
}

/// A producer writing to a partition, from
/// [`crate::Admin::describe_producers`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerState {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch of its last write.
    pub producer_epoch: i32,
    /// The sequence number of its last batch (-1 when none).
    pub last_sequence: i32,
    /// The timestamp of its last write (ms since the epoch; -1 when none).
    pub last_timestamp: i64,
    /// The coordinator epoch of the last transaction marker it got; `None`
    /// before its first marker.
    pub coordinator_epoch: Option<i32>,
    /// The offset of the first record of its open transaction on this
    /// partition; `None` when it has no transaction open here. An open
    /// transaction holds back the partition's last stable offset.
    pub current_txn_start_offset: Option<i64>,
}

/// What [`crate::Admin::abort_transaction`] aborts (KIP-664): one
/// producer's open transaction on one partition, ended with an abort
/// marker written by the partition's leader.
///
/// The values come from [`crate::Admin::describe_producers`]: the
/// producer id and epoch of the producer whose
/// `current_txn_start_offset` is set, and its `coordinator_epoch`.
/// A coordinator epoch lower than the one the partition saw last is
/// refused (`TRANSACTION_COORDINATOR_FENCED`), and so is an epoch lower
/// than the producer's (`INVALID_PRODUCER_EPOCH`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AbortTransactionSpec {
    /// The partition holding the open transaction.
    pub partition: TopicPartition,
    /// The producer id of the transaction.
    pub producer_id: i64,
    /// The producer epoch of the transaction.
    pub producer_epoch: i16,
    /// The coordinator epoch to stamp the marker with.
    pub coordinator_epoch: i32,
}

impl AbortTransactionSpec {
    /// A spec aborting `producer_id`'s transaction on `partition`.
    pub fn new(
        partition: TopicPartition,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> Self {
        AbortTransactionSpec {
            partition,
            producer_id,
            producer_epoch,
            coordinator_epoch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip_and_unknown_names_survive() {
        for state in [
            TransactionState::Empty,
            TransactionState::Ongoing,
            TransactionState::PrepareCommit,
            TransactionState::PrepareAbort,
            TransactionState::CompleteCommit,
            TransactionState::CompleteAbort,
            TransactionState::PrepareEpochFence,
            TransactionState::Dead,
        ] {
            assert_eq!(TransactionState::from_name(state.name()), state);
        }
        let odd = TransactionState::from_name("Frozen");
        assert_eq!(odd, TransactionState::Other("Frozen".into()));
        assert_eq!(odd.to_string(), "Frozen");
        assert_eq!(
            "ongoing".parse::<TransactionState>(),
            Ok(TransactionState::Other("ongoing".into()))
        );
    }

    #[test]
    fn filter_builder_accumulates() {
        let filter = TransactionFilter::new()
            .state(TransactionState::Ongoing)
            .state(TransactionState::PrepareAbort)
            .producer_id(7)
            .running_longer_than(Duration::from_secs(60))
            .transactional_id_pattern("app-.*");
        assert_eq!(filter.states.len(), 2);
        assert_eq!(filter.producer_ids, [7]);
        assert_eq!(filter.running_longer_than, Some(Duration::from_secs(60)));
        assert_eq!(filter.transactional_id_pattern.as_deref(), Some("app-.*"));
    }
}
