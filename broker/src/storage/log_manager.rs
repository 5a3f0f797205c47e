//! The data directory: every partition log of the broker, plus the
//! checkpoint files that remember recovery points and log start offsets.
//!
//! ```text
//! LogManager::open(data)
//!   ├─ remove leftovers of interrupted topic deletions (*-delete)
//!   ├─ read recovery-point / log-start-offset checkpoints
//!   └─ for each <topic>-<partition>/: PartitionLog::open_with(hints) + partition.metadata
//! ```
//!
//! Each log sits behind its own `std::sync::Mutex`, so partitions never
//! wait for each other; the map of logs is behind a `RwLock` that is held
//! only to look a log up or to add/remove one, never across log I/O.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use uuid::Uuid;

use super::checkpoint::{
    self, Offsets, CLEANER_OFFSET_FILE, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE,
};
use super::dir_status::LogDirStatus;
use super::faults::{FaultPoint, Faults};
use super::layout::{
    parse_partition_dir, partition_dir_name, validate_topic_name, DELETE_DIR_SUFFIX,
};
use super::{
    partition_metadata, CleanedPartition, CleanerConfig, LogConfig, PartitionLog, RecoveryHints,
    StorageError,
};
use crate::clock::now_ms;

/// A shared handle to one partition log.
pub type SharedLog = Arc<Mutex<PartitionLog>>;

/// All partition logs of one data directory. See the module docs.
#[derive(Debug)]
pub struct LogManager {
    data_dir: PathBuf,
    logs: RwLock<HashMap<(String, i32), SharedLog>>,
    topic_ids: RwLock<HashMap<String, Uuid>>,
    /// Serialises checkpoint writers so files are never written concurrently.
    checkpoint_lock: Mutex<()>,
    /// Serialises cleaner passes: a clean works on a log without holding
    /// its lock, and two cleans of one log would write the same files.
    cleaner_lock: Mutex<()>,
    /// Storage faults injected by tests, given to every log (nothing in
    /// production builds).
    faults: RwLock<Faults>,
    /// The directory's health, shared by every log in it.
    status: Arc<LogDirStatus>,
}

/// Locks one partition's log (see [`lock`] on poisoning).
pub fn lock_log(log: &SharedLog) -> MutexGuard<'_, PartitionLog> {
    lock(log)
}

/// Locks a mutex even if a panicking thread poisoned it: the log's own
/// state is consistent between calls, so the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogManager {
    /// Opens (creating if needed) the data directory and every partition
    /// log in it, recovering those not closed cleanly.
    ///
    /// Directories are named `<topic>-<partition>`; the topic is everything
    /// before the last '-'. Other entries are ignored, and leftovers of
    /// interrupted topic deletions are removed. Logs open with
    /// `default_config`; apply per-topic settings with
    /// [`PartitionLog::set_config`] afterwards.
    pub fn open(data_dir: &Path, default_config: LogConfig) -> Result<LogManager, StorageError> {
        default_config.validate()?;
        fs::create_dir_all(data_dir).map_err(|e| StorageError::io(data_dir, e))?;
        let recovery_points = read_checkpoint(&data_dir.join(RECOVERY_POINT_FILE));
        let log_starts = read_checkpoint(&data_dir.join(LOG_START_OFFSET_FILE));
        let cleaner_offsets = read_checkpoint(&data_dir.join(CLEANER_OFFSET_FILE));
        let status = Arc::new(LogDirStatus::new(data_dir));
        let mut logs = HashMap::new();
        let mut topic_ids = HashMap::new();
        for entry in fs::read_dir(data_dir).map_err(|e| StorageError::io(data_dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(data_dir, e))?;
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.ends_with(DELETE_DIR_SUFFIX) {
                fs::remove_dir_all(&path).map_err(|e| StorageError::io(&path, e))?;
                continue;
            }
            let Some(key) = parse_partition_dir(&name) else {
                continue;
            };
            let hints = RecoveryHints {
                recovery_point: recovery_points.get(&key).copied(),
                log_start_offset: log_starts.get(&key).copied(),
                cleaner_offset: cleaner_offsets.get(&key).copied(),
            };
            let mut log = PartitionLog::open_with(&path, default_config.clone(), hints)?;
            log.share_dir_status(status.clone());
            let report = log.open_report();
            if report.segments_quarantined > 0 {
                tracing::error!(partition = %name, quarantined = report.segments_quarantined, problems = ?report.problems, "recovery set flushed segments aside: records after the damage are not served; inspect the *.quarantined files");
            } else if !report.problems.is_empty() {
                tracing::warn!(partition = %name, problems = ?report.problems, "recovered partition log");
            }
            if let Some(id) = partition_metadata::read(&path)? {
                topic_ids.insert(key.0.clone(), id);
            }
            logs.insert(key, Arc::new(Mutex::new(log)));
        }
        let manager = LogManager {
            data_dir: data_dir.to_path_buf(),
            logs: RwLock::new(logs),
            topic_ids: RwLock::new(topic_ids),
            checkpoint_lock: Mutex::new(()),
            cleaner_lock: Mutex::new(()),
            faults: RwLock::new(Faults::default()),
            status,
        };
        manager.checkpoint()?;
        Ok(manager)
    }

    /// Routes the writes, fsyncs, rolls and checkpoints of every log, now
    /// and created later, through `faults`, so a test can make them fail.
    #[cfg(any(test, feature = "testing"))]
    pub fn set_faults(&self, faults: std::sync::Arc<super::StorageFaults>) {
        let hook = Faults::installed(faults);
        *self.faults.write().unwrap_or_else(|p| p.into_inner()) = hook.clone();
        for (_, log) in self.snapshot_logs() {
            lock(&log).install_faults(hook.clone());
        }
    }

    /// Whether a storage failure took the data directory offline (every
    /// log in it then fails with [`StorageError::LogDirOffline`]).
    pub fn is_offline(&self) -> bool {
        self.status.is_offline()
    }

    /// Every (topic, partition) with a log, sorted.
    pub fn partitions(&self) -> Vec<(String, i32)> {
        let mut keys: Vec<_> = self
            .logs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// The highest producer id any log holds state for: producer ids handed
    /// out from now on must lie above it, or a new producer would inherit a
    /// stranger's sequences (e.g. in logs copied from another broker).
    pub fn max_producer_id(&self) -> Option<i64> {
        self.snapshot_logs()
            .into_iter()
            .filter_map(|(_, log)| lock(&log).max_producer_id())
            .max()
    }

    /// Creates the log of a partition (or returns it if it already exists)
    /// and records its topic id in `partition.metadata`.
    pub fn create_partition(
        &self,
        topic: &str,
        partition: i32,
        topic_id: Uuid,
        config: LogConfig,
    ) -> Result<SharedLog, StorageError> {
        validate_topic_name(topic)?;
        if partition < 0 {
            return Err(StorageError::InvalidTopic {
                name: topic.to_string(),
                reason: "partition numbers start at 0",
            });
        }
        let mut logs = self.logs.write().unwrap_or_else(|p| p.into_inner());
        let key = (topic.to_string(), partition);
        if let Some(existing) = logs.get(&key) {
            return Ok(existing.clone());
        }
        let dir = self.data_dir.join(partition_dir_name(topic, partition));
        self.status.check()?;
        let mut log = PartitionLog::open(&dir, config)?;
        log.share_dir_status(self.status.clone());
        log.install_faults(
            self.faults
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        );
        partition_metadata::write(&dir, topic_id)?;
        self.topic_ids
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic.to_string(), topic_id);
        let shared = Arc::new(Mutex::new(log));
        logs.insert(key, shared.clone());
        Ok(shared)
    }

    /// The log of a partition, if it exists.
    pub fn get(&self, topic: &str, partition: i32) -> Option<SharedLog> {
        self.logs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(topic.to_string(), partition))
            .cloned()
    }

    /// The topic id recorded for `topic` (from `partition.metadata`).
    pub fn topic_id(&self, topic: &str) -> Option<Uuid> {
        self.topic_ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .copied()
    }

    /// Deletes every partition of `topic`: handles still held elsewhere
    /// fail with [`StorageError::LogDeleted`] from now on, and the
    /// directories are renamed to `*-delete` and removed. Deleting an
    /// unknown topic does nothing.
    ///
    /// Locks each partition's mutex: do not call it while holding one.
    pub fn delete_topic(&self, topic: &str) -> Result<(), StorageError> {
        let removed: Vec<_> = {
            let mut logs = self.logs.write().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<_> = logs.keys().filter(|(t, _)| t == topic).cloned().collect();
            keys.into_iter()
                .filter_map(|key| logs.remove(&key).map(|log| (key, log)))
                .collect()
        };
        self.topic_ids
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(topic);
        let stamp = now_ms();
        for ((topic, partition), log) in removed {
            lock(&log).mark_deleted();
            let name = partition_dir_name(&topic, partition);
            let dir = self.data_dir.join(&name);
            let doomed = self
                .data_dir
                .join(format!("{name}.{stamp}{DELETE_DIR_SUFFIX}"));
            fs::rename(&dir, &doomed).map_err(|e| StorageError::io(&dir, e))?;
            fs::remove_dir_all(&doomed).map_err(|e| StorageError::io(&doomed, e))?;
        }
        checkpoint::sync_dir(&self.data_dir)?;
        self.checkpoint()
    }

    /// Writes the recovery-point, log-start-offset and cleaner-offset
    /// checkpoints of every log. Call it periodically and after DeleteRecords so a crash keeps
    /// moved log start offsets and recovery skips flushed segments.
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        let _guard = lock(&self.checkpoint_lock);
        // An offline directory is written no more: its recovery points stay
        // at the last values known to be good.
        self.status.check()?;
        self.faults
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .check(FaultPoint::Checkpoint)
            .map_err(|e| StorageError::io(self.data_dir.join(RECOVERY_POINT_FILE), e))?;
        let mut recovery_points = Offsets::new();
        let mut log_starts = Offsets::new();
        let mut cleaner_offsets = Offsets::new();
        for (key, log) in self.snapshot_logs() {
            let log = lock(&log);
            recovery_points.insert(key.clone(), log.recovery_point());
            if let Some(offset) = log.cleaner_offset() {
                cleaner_offsets.insert(key.clone(), offset);
            }
            log_starts.insert(key, log.log_start_offset());
        }
        checkpoint::write(&self.data_dir.join(RECOVERY_POINT_FILE), &recovery_points)?;
        checkpoint::write(&self.data_dir.join(LOG_START_OFFSET_FILE), &log_starts)?;
        checkpoint::write(&self.data_dir.join(CLEANER_OFFSET_FILE), &cleaner_offsets)
    }

    /// Flushes every log to disk, then checkpoints.
    #[cfg(test)]
    pub fn flush_all(&self) -> Result<(), StorageError> {
        for (_, log) in self.snapshot_logs() {
            lock(&log).flush()?;
        }
        self.checkpoint()
    }

    /// Flushes every log whose `flush.ms` (or `flush.messages`) is due at
    /// `now_ms`; returns how many were flushed. The broker's maintenance
    /// task calls it, so `flush.ms` holds for logs that stop receiving
    /// appends too.
    pub fn flush_due(&self, now_ms: i64) -> Result<usize, StorageError> {
        self.status.check()?;
        let mut flushed = 0;
        for (_, log) in self.snapshot_logs() {
            if lock(&log).flush_if_due(now_ms)? {
                flushed += 1;
            }
        }
        Ok(flushed)
    }

    /// Applies retention to every log; returns the segments deleted.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, StorageError> {
        self.status.check()?;
        let mut deleted = 0;
        for (_, log) in self.snapshot_logs() {
            deleted += lock(&log).enforce_retention(now_ms)?;
        }
        if deleted > 0 {
            self.checkpoint()?;
        }
        Ok(deleted)
    }

    /// Runs the log cleaner over every log whose `cleanup.policy` includes
    /// `compact` (see [`PartitionLog::clean`]). A partition that fails is
    /// logged once and skipped by later passes; the others go on. Returns
    /// the partitions cleaned and what each pass did.
    ///
    /// A partition's lock is held only to plan its clean and to swap the
    /// cleaned segments in, not while they are built, so its appends and
    /// fetches go on meanwhile. Passes run one at a time (a second caller
    /// waits for the first). Blocks on the disk: call it on a thread that
    /// may.
    pub fn clean_all(
        &self,
        now_ms: i64,
        cleaner: &CleanerConfig,
    ) -> Result<Vec<CleanedPartition>, StorageError> {
        let _pass = lock(&self.cleaner_lock);
        self.status.check()?;
        let mut cleaned = Vec::new();
        for (key, log) in self.snapshot_logs() {
            match PartitionLog::clean_shared(&log, now_ms, cleaner) {
                Ok(Some(outcome)) => cleaned.push((key, outcome)),
                Ok(None) => {}
                // The topic was deleted while its log was being cleaned
                // (the clean removed its copies): nothing failed.
                Err(StorageError::LogDeleted { .. }) => {}
                Err(e) => {
                    // A failed directory fails everything after it.
                    self.status.check()?;
                    tracing::error!(topic = %key.0, partition = key.1, error = %e,
                        "log cleaner failed; the partition is skipped until its configs change");
                }
            }
        }
        // Remember where cleaning stopped, so a restart does not re-read
        // the cleaned part (a failed write keeps the previous checkpoint).
        if !cleaned.is_empty() {
            if let Err(e) = self.checkpoint() {
                tracing::warn!(error = %e, "could not write the cleaner checkpoint");
            }
        }
        Ok(cleaned)
    }

    /// Flushes every log, marks each clean and writes the checkpoints, so
    /// the next open needs no recovery. Logs stay usable (an append
    /// simply makes its log unclean again).
    pub fn close_all(&self) -> Result<(), StorageError> {
        for (_, log) in self.snapshot_logs() {
            lock(&log).shutdown()?;
        }
        self.checkpoint()
    }

    /// A copy of the log map, so no lock on the map is held during I/O.
    fn snapshot_logs(&self) -> Vec<((String, i32), SharedLog)> {
        self.logs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Reads a checkpoint file; a damaged one is logged and ignored (recovery
/// then validates more than needed, which is safe).
fn read_checkpoint(path: &Path) -> Offsets {
    match checkpoint::read(path) {
        Ok(offsets) => offsets,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable checkpoint file");
            Offsets::new()
        }
    }
}
