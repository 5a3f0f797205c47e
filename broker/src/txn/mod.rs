//! The transaction coordinator: Kafka's TransactionCoordinator,
//! TransactionStateManager and TransactionMetadata for durian's broker.
//!
//! ```text
//! InitProducerId ─┐                        ┌─► transactions.log (framed, CRC'd, fsync)
//! AddPartitions ──┤  ops lock: validate ───┤
//! AddOffsets ─────┤  → next metadata ──────┴─► entries (what handlers and Produce read)
//! TxnOffsetCommit ┤
//! EndTxn ─────────┘──► PrepareX written, answered ──► completion task:
//!                        markers to every partition, group offsets, CompleteX written
//! ```
//!
//! Every state change Kafka writes to `__transaction_state` is written to
//! the log before it is answered; the in-memory entries change only after
//! the write succeeded. State changes are serialised by one async lock
//! held across the write. After a restart the log is replayed: a prepared
//! commit or abort writes its markers again and completes; an open
//! transaction stays open until its timeout aborts it. One coordinator
//! serves every transactional id of a broker state (in a test cluster,
//! handlers answer NOT_COORDINATOR on nodes the topology does not name).
//!
//! See docs/BROKER.md (Transactions) for the behaviour per API.

mod config;
mod end;
mod error;
mod expire;
mod init;
mod log;
pub mod markers;
mod ops;
mod record;
pub mod state;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use kafka_protocol::ResponseError;

pub use config::TxnConfig;
pub use error::TxnLogError;
pub use markers::{MarkerError, MarkerWriter, TxnMarker};
pub use ops::ProducerRef;

use self::log::TxnLog;
use self::record::TxnRecord;
use self::state::TxnMetadata;
use crate::group::GroupCoordinator;
use crate::producer_ids::ProducerIdAllocator;

/// The coordinator epoch stamped on markers: durian's coordinator state has
/// one owner that never moves, so there is one epoch.
pub const COORDINATOR_EPOCH: i32 = 0;

/// Transactional ids by name, and by producer id for Produce's checks.
#[derive(Default)]
struct Entries {
    by_id: HashMap<String, TxnMetadata>,
    by_producer: HashMap<i64, String>,
}

impl Entries {
    fn remove(&mut self, transactional_id: &str) {
        if let Some(m) = self.by_id.remove(transactional_id) {
            self.by_producer.remove(&m.producer_id);
        }
    }

    fn put(&mut self, metadata: TxnMetadata) {
        if let Some(old) = self.by_id.get(&metadata.transactional_id) {
            if old.producer_id != metadata.producer_id {
                self.by_producer.remove(&old.producer_id);
            }
        }
        self.by_producer
            .insert(metadata.producer_id, metadata.transactional_id.clone());
        self.by_id
            .insert(metadata.transactional_id.clone(), metadata);
    }
}

/// The broker's transaction coordinator.
pub struct TransactionCoordinator {
    config: TxnConfig,
    ids: Arc<ProducerIdAllocator>,
    /// Set once the partitions are open (the writer needs the broker state).
    markers: OnceLock<Arc<dyn MarkerWriter>>,
    groups: Arc<GroupCoordinator>,
    entries: Mutex<Entries>,
    log: Arc<Mutex<TxnLog>>,
    /// Serialises state changes: held from validation through the log write.
    ops: tokio::sync::Mutex<()>,
    /// While set, prepared transactions are not completed (tests stop the
    /// broker between PrepareCommit and the markers with it).
    hold_completions: AtomicBool,
    /// Transactional ids whose completion is running.
    completing: Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for TransactionCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionCoordinator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Each update under these locks is a map insert; a poisoned lock still
/// guards consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl TransactionCoordinator {
    /// Opens the coordinator whose log lives in `dir` and replays it.
    /// Prepared transactions are completed by [`Self::recover`], once
    /// [`Self::set_markers`] gave it a way to write to partitions.
    pub fn open(
        dir: &Path,
        config: TxnConfig,
        ids: Arc<ProducerIdAllocator>,
        groups: Arc<GroupCoordinator>,
    ) -> Result<Arc<TransactionCoordinator>, TxnLogError> {
        let (log, replay) = TxnLog::open(dir, config.fsync)?;
        if replay.truncated_bytes > 0 {
            let quarantined = replay
                .quarantined
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if replay.damage_before_end {
                tracing::error!(dir = %dir.display(), truncated_bytes = replay.truncated_bytes,
                    %quarantined, "transaction log is damaged before its end: state written \
                    after the damaged frame is not restored; the cut bytes are quarantined");
            } else {
                tracing::warn!(dir = %dir.display(), truncated_bytes = replay.truncated_bytes,
                    %quarantined, "transaction log ended in a torn frame; truncated it");
            }
        }
        let mut entries = Entries::default();
        for record in replay.records {
            match record {
                TxnRecord::Metadata(m) => entries.put(m),
                TxnRecord::Remove { transactional_id } => entries.remove(&transactional_id),
            }
        }
        if let Some(highest) = entries.by_id.values().map(|m| m.producer_id).max() {
            ids.skip_past(highest);
        }
        // Offsets staged by open or prepared transactions are pending again.
        for m in entries.by_id.values() {
            stage_in_groups(&groups, m);
        }
        let coordinator = TransactionCoordinator {
            config,
            ids,
            markers: OnceLock::new(),
            groups,
            entries: Mutex::new(entries),
            log: Arc::new(Mutex::new(log)),
            ops: tokio::sync::Mutex::new(()),
            hold_completions: AtomicBool::new(false),
            completing: Mutex::default(),
        };
        if let Some(live) = coordinator.compaction_snapshot() {
            lock(&coordinator.log).rewrite(&live)?;
        }
        Ok(Arc::new(coordinator))
    }

    /// The coordinator's settings.
    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    /// Gives the coordinator its marker writer (once; later calls are ignored).
    pub fn set_markers(&self, markers: Arc<dyn MarkerWriter>) {
        let _ = self.markers.set(markers);
    }

    /// Writes `marker` to `topic`-`partition` (completions, and
    /// WriteTxnMarkers directly).
    pub fn write_marker(
        &self,
        topic: &str,
        partition: i32,
        marker: TxnMarker,
    ) -> Result<(), MarkerError> {
        match self.markers.get() {
            Some(writer) => writer.write_marker(topic, partition, marker),
            None => Err(MarkerError {
                topic: topic.to_owned(),
                partition,
                code: ResponseError::CoordinatorLoadInProgress.code(),
                message: "the partitions are not open yet".to_owned(),
            }),
        }
    }

    /// The group coordinator whose offsets transactions commit.
    pub fn groups(&self) -> &GroupCoordinator {
        &self.groups
    }

    /// Stops (true) or resumes (false) completing prepared transactions;
    /// a test's way to stop a broker between PrepareCommit and its markers.
    #[cfg(any(test, feature = "testing"))]
    pub fn hold_completions(&self, hold: bool) {
        self.hold_completions
            .store(hold, std::sync::atomic::Ordering::Release);
    }

    /// The state of `transactional_id`, if known.
    pub fn describe(&self, transactional_id: &str) -> Option<TxnMetadata> {
        lock(&self.entries).by_id.get(transactional_id).cloned()
    }

    /// Every transactional id's state, sorted by id.
    pub fn list(&self) -> Vec<TxnMetadata> {
        let mut all: Vec<TxnMetadata> = lock(&self.entries).by_id.values().cloned().collect();
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        all
    }

    /// Makes `next` durable, then visible. The caller holds the ops lock.
    async fn persist(&self, next: TxnMetadata) -> Result<(), ResponseError> {
        let id = next.transactional_id.clone();
        self.write(TxnRecord::Metadata(next.clone()), &id).await?;
        lock(&self.entries).put(next);
        self.compact_if_due().await;
        Ok(())
    }

    /// Writes that `transactional_id` is gone, then forgets it. The caller
    /// holds the ops lock.
    async fn persist_removal(&self, transactional_id: &str) -> Result<(), ResponseError> {
        let record = TxnRecord::Remove {
            transactional_id: transactional_id.to_owned(),
        };
        self.write(record, transactional_id).await?;
        lock(&self.entries).remove(transactional_id);
        self.compact_if_due().await;
        Ok(())
    }

    /// Appends `record` on the blocking pool (the append fsyncs).
    async fn write(&self, record: TxnRecord, transactional_id: &str) -> Result<(), ResponseError> {
        let log = Arc::clone(&self.log);
        let written = tokio::task::spawn_blocking(move || lock(&log).append(&[record]))
            .await
            .unwrap_or_else(|e| {
                Err(TxnLogError::io(
                    "transaction log writer",
                    std::io::Error::other(e.to_string()),
                ))
            });
        written.map_err(|e| {
            tracing::error!(%transactional_id, error = %e,
                "transaction state could not be written");
            // Retriable for the client, as Kafka answers a failed append
            // to __transaction_state.
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// Rewrites the log with only the live records once enough are
    /// superseded, on the blocking pool. Runs under the ops lock (or
    /// before the coordinator is shared), so no append can slip in between
    /// the snapshot and the rewrite.
    async fn compact_if_due(&self) {
        let Some(live) = self.compaction_snapshot() else {
            return;
        };
        let log = Arc::clone(&self.log);
        let rewritten = tokio::task::spawn_blocking(move || lock(&log).rewrite(&live)).await;
        match rewritten {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "transaction log compaction failed"),
            Err(e) => tracing::warn!(error = %e, "transaction log compaction task failed"),
        }
    }

    /// The live records, if enough of the log is superseded to rewrite it.
    fn compaction_snapshot(&self) -> Option<Vec<TxnRecord>> {
        let records = lock(&self.log).record_count();
        let entries = lock(&self.entries);
        let live = entries.by_id.len() as u64;
        let dead = records.saturating_sub(live);
        if dead < self.config.compaction_min_dead.max(1) || dead < live {
            return None;
        }
        let mut all: Vec<TxnMetadata> = entries.by_id.values().cloned().collect();
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        Some(all.into_iter().map(TxnRecord::Metadata).collect())
    }

    /// Syncs the log (shutdown).
    pub fn sync(&self) -> Result<(), TxnLogError> {
        lock(&self.log).sync()
    }
}

/// Hands the offsets `m` staged to the group coordinator as pending.
fn stage_in_groups(groups: &GroupCoordinator, m: &TxnMetadata) {
    let mut by_group: HashMap<&str, Vec<crate::group::TxnOffset>> = HashMap::new();
    for ((group, topic, partition), staged) in &m.offsets {
        by_group
            .entry(group.as_str())
            .or_default()
            .push(crate::group::TxnOffset {
                topic: topic.clone(),
                partition: *partition,
                offset: staged.offset,
                leader_epoch: staged.leader_epoch,
                metadata: staged.metadata.clone(),
            });
    }
    for (group, offsets) in by_group {
        groups.stage_txn_offsets(group, m.producer_id, offsets);
    }
}
