//! Settings of the transaction coordinator.

use std::time::Duration;

/// Kafka's `transaction.max.timeout.ms`: the longest transaction timeout a
/// producer may ask for (15 minutes).
pub const DEFAULT_MAX_TIMEOUT: Duration = Duration::from_millis(900_000);
/// Kafka's `transaction.abort.timed.out.transaction.cleanup.interval.ms`:
/// how often open transactions are checked against their timeout (10 s).
pub const DEFAULT_ABORT_CHECK_INTERVAL: Duration = Duration::from_millis(10_000);
/// Kafka's `transactional.id.expiration.ms`: a transactional id with no
/// open transaction and no state change for this long is removed (7 days).
pub const DEFAULT_ID_EXPIRATION: Duration = Duration::from_millis(604_800_000);
/// Records in the log before compaction is considered; it runs when at
/// least this many are superseded.
pub const DEFAULT_COMPACTION_MIN_DEAD: u64 = 1_000;

/// Settings of the transaction coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// Longest `transaction.timeout.ms` accepted by InitProducerId
    /// (Kafka's `transaction.max.timeout.ms`); longer ones get
    /// INVALID_TRANSACTION_TIMEOUT.
    pub max_timeout: Duration,
    /// How often timed-out transactions are aborted (and idle ids expired).
    pub abort_check_interval: Duration,
    /// How long a transactional id without an open transaction is kept
    /// after its last state change (Kafka's `transactional.id.expiration.ms`).
    pub id_expiration: Duration,
    /// Whether every transaction log append is fsynced before it is answered.
    pub fsync: bool,
    /// Superseded records that trigger a compaction of the log.
    pub compaction_min_dead: u64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            max_timeout: DEFAULT_MAX_TIMEOUT,
            abort_check_interval: DEFAULT_ABORT_CHECK_INTERVAL,
            id_expiration: DEFAULT_ID_EXPIRATION,
            fsync: true,
            compaction_min_dead: DEFAULT_COMPACTION_MIN_DEAD,
        }
    }
}
