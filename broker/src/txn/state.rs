//! One transactional id's state: Kafka's `TransactionMetadata` and its
//! state machine.
//!
//! ```text
//!            InitProducerId           AddPartitions / AddOffsets
//!  Empty ─────────────────► Empty ─────────────────────────► Ongoing
//!    ▲                                                          │ EndTxn
//!    │ InitProducerId      CompleteCommit ◄── PrepareCommit ◄───┤
//!    └──────────────────── CompleteAbort  ◄── PrepareAbort  ◄───┘
//!                                               ▲
//!           Ongoing ── timeout / InitProducerId ─► PrepareEpochFence
//! ```
//!
//! Every change goes through [`TxnMetadata::transition`], which refuses a
//! move Kafka's coordinator would not make (the caller answers
//! INVALID_TXN_STATE or CONCURRENT_TRANSACTIONS, as the operation says).

use std::collections::{BTreeMap, BTreeSet};

/// The state of a transactional id (Kafka's `TransactionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// No transaction in progress; a producer id and epoch are assigned.
    Empty,
    /// Partitions or groups were added: a transaction is open.
    Ongoing,
    /// EndTxn(commit) is written; markers are being written.
    PrepareCommit,
    /// EndTxn(abort), a timeout or a fence is written; markers are being written.
    PrepareAbort,
    /// Every commit marker is written.
    CompleteCommit,
    /// Every abort marker is written.
    CompleteAbort,
    /// The epoch is being bumped to fence an old producer; an abort follows.
    PrepareEpochFence,
    /// The transactional id expired and is being removed.
    Dead,
}

/// Every state, in code order.
pub const ALL_STATES: [TxnState; 8] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::PrepareEpochFence,
    TxnState::Dead,
];

impl TxnState {
    /// The name Kafka uses in DescribeTransactions and ListTransactions.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
            TxnState::Dead => "Dead",
        }
    }

    /// The state named `name` (as ListTransactions filters name them).
    pub fn from_name(name: &str) -> Option<TxnState> {
        ALL_STATES.into_iter().find(|s| s.name() == name)
    }

    /// The byte stored in the transaction log.
    pub fn code(self) -> u8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::PrepareEpochFence => 6,
            TxnState::Dead => 7,
        }
    }

    /// The state stored as `code`.
    pub fn from_code(code: u8) -> Option<TxnState> {
        ALL_STATES.into_iter().find(|s| s.code() == code)
    }

    /// The states a transactional id may move to `self` from (Kafka's
    /// `validPreviousStates`).
    fn valid_previous(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            PrepareEpochFence => &[Ongoing],
            Dead => &[Empty, CompleteCommit, CompleteAbort],
        }
    }

    /// Whether markers are being written (the next step is a Complete state).
    pub fn is_prepared(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// A refused state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("transaction cannot move from {} to {}", from.name(), to.name())]
pub struct InvalidTransition {
    /// The state it was in.
    pub from: TxnState,
    /// The state asked for.
    pub to: TxnState,
}

/// An offset a TxnOffsetCommit staged, visible once the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedOffset {
    /// The offset.
    pub offset: i64,
    /// The leader epoch the consumer saw at that offset.
    pub leader_epoch: i32,
    /// The commit's metadata.
    pub metadata: String,
}

/// Group, topic and partition of a staged offset.
pub type OffsetKey = (String, String, i32);

/// Everything the coordinator knows of one transactional id (what Kafka
/// writes to `__transaction_state`, plus the staged offsets durian keeps
/// with it so a prepared commit can finish after a restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The transactional id.
    pub transactional_id: String,
    /// Current producer id.
    pub producer_id: i64,
    /// Current producer epoch (-1 before the first InitProducerId completes).
    pub producer_epoch: i16,
    /// The producer id before the last change (a retried InitProducerId
    /// carrying it is answered, not fenced); -1 if none.
    pub last_producer_id: i64,
    /// The epoch before the last bump; -1 if none.
    pub last_producer_epoch: i16,
    /// The producer's transaction.timeout.ms.
    pub timeout_ms: i32,
    /// Where the state machine is.
    pub state: TxnState,
    /// Partitions written in the current transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Groups whose offsets the current transaction commits.
    pub groups: BTreeSet<String>,
    /// Offsets staged by TxnOffsetCommit in the current transaction.
    pub offsets: BTreeMap<OffsetKey, StagedOffset>,
    /// When the current transaction started (ms); -1 when none is open.
    pub start_ms: i64,
    /// When the state last changed (ms).
    pub last_update_ms: i64,
}

impl TxnMetadata {
    /// A new transactional id with `producer_id`, no epoch yet, Empty.
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            transactional_id: transactional_id.to_owned(),
            producer_id,
            producer_epoch: -1,
            last_producer_id: -1,
            last_producer_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            offsets: BTreeMap::new(),
            start_ms: -1,
            last_update_ms: now_ms,
        }
    }

    /// Moves to `to`, checked against Kafka's valid previous states. Entering
    /// Ongoing from outside a transaction stamps the start time; reaching
    /// Empty or a Complete state clears the transaction's partitions, groups
    /// and staged offsets.
    pub fn transition(&mut self, to: TxnState, now_ms: i64) -> Result<(), InvalidTransition> {
        if !to.valid_previous().contains(&self.state) {
            return Err(InvalidTransition {
                from: self.state,
                to,
            });
        }
        if to == TxnState::Ongoing && self.state != TxnState::Ongoing {
            self.start_ms = now_ms;
        }
        if matches!(
            to,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        ) {
            self.partitions.clear();
            self.groups.clear();
            self.offsets.clear();
        }
        self.state = to;
        self.last_update_ms = now_ms;
        Ok(())
    }

    /// Whether the producer's epoch is the last usable one (Kafka bumps
    /// past it only by moving to a new producer id).
    pub fn epoch_exhausted(epoch: i16) -> bool {
        epoch >= i16::MAX - 1
    }

    /// Whether the open transaction has outlived its timeout at `now_ms`.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.start_ms >= 0
            && now_ms.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> TxnMetadata {
        TxnMetadata::new("tx", 7, 60_000, 100)
    }

    #[test]
    fn txn_state_names_and_codes_round_trip() {
        for state in ALL_STATES {
            assert_eq!(TxnState::from_name(state.name()), Some(state));
            assert_eq!(TxnState::from_code(state.code()), Some(state));
        }
        assert_eq!(TxnState::from_name("Bogus"), None);
        assert_eq!(TxnState::from_code(99), None);
    }

    #[test]
    fn txn_state_walks_a_commit_and_an_abort() {
        let mut m = meta();
        m.transition(TxnState::Ongoing, 200)
            .expect("Empty → Ongoing");
        assert_eq!(m.start_ms, 200);
        m.partitions.insert(("t".into(), 0));
        m.transition(TxnState::Ongoing, 300)
            .expect("Ongoing → Ongoing");
        assert_eq!(m.start_ms, 200, "adding more keeps the start time");
        m.transition(TxnState::PrepareCommit, 400).expect("prepare");
        assert_eq!(m.partitions.len(), 1, "markers still need the partitions");
        m.transition(TxnState::CompleteCommit, 500)
            .expect("complete");
        assert!(m.partitions.is_empty());
        m.transition(TxnState::Ongoing, 600).expect("next txn");
        m.transition(TxnState::PrepareEpochFence, 700)
            .expect("fence");
        m.transition(TxnState::PrepareAbort, 800).expect("abort");
        m.transition(TxnState::CompleteAbort, 900).expect("aborted");
        m.transition(TxnState::Empty, 1000).expect("re-init");
        assert_eq!(m.last_update_ms, 1000);
    }

    #[test]
    fn txn_state_refuses_invalid_moves() {
        let mut m = meta();
        let err = m
            .transition(TxnState::PrepareCommit, 1)
            .expect_err("Empty cannot prepare a commit");
        assert_eq!(err.from, TxnState::Empty);
        assert_eq!(err.to, TxnState::PrepareCommit);
        assert_eq!(m.state, TxnState::Empty, "a refused move changes nothing");
        assert!(m.transition(TxnState::CompleteAbort, 1).is_err());
        m.transition(TxnState::Ongoing, 1).expect("ongoing");
        m.transition(TxnState::PrepareAbort, 2)
            .expect("prepare abort");
        assert!(m.transition(TxnState::CompleteCommit, 3).is_err());
        assert!(m.transition(TxnState::Ongoing, 3).is_err());
        assert!(m.transition(TxnState::Empty, 3).is_err());
    }

    #[test]
    fn txn_state_times_out_only_when_ongoing() {
        let mut m = meta();
        assert!(!m.timed_out(i64::MAX));
        m.transition(TxnState::Ongoing, 1_000).expect("ongoing");
        assert!(!m.timed_out(61_000));
        assert!(m.timed_out(61_001));
        assert!(TxnMetadata::epoch_exhausted(i16::MAX - 1));
        assert!(!TxnMetadata::epoch_exhausted(5));
    }
}
