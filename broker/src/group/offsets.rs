//! Committed offsets in memory, backed by the offset log.
//!
//! ```text
//! commit ──► OffsetStore::write ──► spawn_blocking ──► OffsetLog::append (+fsync)
//!                                                   └► in-memory map updated
//! ```
//!
//! The map changes only after the log append succeeded, while the log lock is still held,
//! so what OffsetFetch returns is always what a restart would replay, in the same order.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::GroupError;
use super::offset_log::OffsetLog;
use super::offset_record::{CommittedOffset, LogRecord};

/// Topic name and partition index.
pub(crate) type PartitionKey = (String, i32);

/// What the store keeps for one group.
#[derive(Debug, Default, Clone)]
pub(crate) struct StoredGroup {
    pub offsets: BTreeMap<PartitionKey, CommittedOffset>,
    /// Protocol type and generation last written with a member's commit.
    pub meta: Option<(String, i32)>,
}

/// The current offsets and group metadata: what a replay of the log would produce.
#[derive(Default)]
struct LiveSet {
    groups: HashMap<String, StoredGroup>,
}

/// The durable committed-offset store shared by every group of a coordinator.
///
/// Two locks, always taken log first: the log lock orders appends (and is held across the
/// fsync); the live-set lock is held only for map updates and reads, so OffsetFetch never
/// waits for a disk sync.
pub(crate) struct OffsetStore {
    log: Mutex<OffsetLog>,
    live: Mutex<LiveSet>,
    compaction_min_dead: u64,
}

/// Each update under these locks is one insert or remove, so a poisoned lock still guards
/// consistent data and is taken over rather than propagated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl OffsetStore {
    /// Opens the log in `dir`, replays it and compacts it if mostly superseded.
    pub fn open(dir: &Path, fsync: bool, compaction_min_dead: u64) -> Result<Self, GroupError> {
        let (log, replay) = OffsetLog::open(dir, fsync)?;
        let quarantined = replay
            .quarantined
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if replay.damage_before_end {
            tracing::error!(
                dir = %dir.display(),
                truncated_bytes = replay.truncated_bytes,
                quarantined = %quarantined,
                "offset log is damaged before its end: commits after the damaged frame are \
                 not restored; the cut bytes are kept in the quarantine file"
            );
        } else if replay.truncated_bytes > 0 {
            tracing::warn!(
                dir = %dir.display(),
                truncated_bytes = replay.truncated_bytes,
                quarantined = %quarantined,
                "offset log ended in an incomplete or corrupt frame (torn write?); truncated it"
            );
        }
        let mut live = LiveSet::default();
        for record in replay.records {
            live.apply(record);
        }
        let store = OffsetStore {
            log: Mutex::new(log),
            live: Mutex::new(live),
            compaction_min_dead,
        };
        store.maybe_compact(&mut lock(&store.log))?;
        Ok(store)
    }

    /// Routes the offset log's appends through `faults` (tests).
    #[cfg(feature = "testing")]
    pub fn set_faults(&self, faults: crate::storage::Faults) {
        lock(&self.log).set_faults(faults);
    }

    /// Makes `records` durable and then visible. Runs the file I/O on the blocking pool.
    pub async fn write(self: &Arc<Self>, records: Vec<LogRecord>) -> Result<(), GroupError> {
        if records.is_empty() {
            return Ok(());
        }
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.write_blocking(records))
            .await
            .unwrap_or_else(|join_error| {
                Err(GroupError::io(
                    "offset log writer",
                    std::io::Error::other(join_error.to_string()),
                ))
            })
    }

    fn write_blocking(&self, records: Vec<LogRecord>) -> Result<(), GroupError> {
        let mut log = lock(&self.log);
        log.append(&records)?;
        {
            let mut live = lock(&self.live);
            for record in records {
                live.apply(record);
            }
        }
        if let Err(e) = self.maybe_compact(&mut log) {
            // The appended records are durable in the old log; compaction can wait.
            tracing::warn!(error = %e, "offset log compaction failed; will retry after later commits");
        }
        Ok(())
    }

    /// Rewrites the log to the live set when most of it is superseded.
    fn maybe_compact(&self, log: &mut OffsetLog) -> Result<(), GroupError> {
        let records = {
            let live = lock(&self.live);
            let count = live.record_count();
            let dead = log.record_count().saturating_sub(count);
            if dead < self.compaction_min_dead.max(1) || dead <= count {
                return Ok(());
            }
            tracing::debug!(live = count, dead, "compacting the offset log");
            live.records()
        };
        log.rewrite(&records)
    }

    /// Forces the log to disk (blocking).
    pub fn sync(&self) -> Result<(), GroupError> {
        lock(&self.log).sync()
    }

    /// The committed offset of one partition.
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<CommittedOffset> {
        let live = lock(&self.live);
        let stored = live.groups.get(group)?;
        stored.offsets.get(&(topic.to_owned(), partition)).cloned()
    }

    /// Every committed offset of `group`, ordered by topic and partition.
    pub fn all(&self, group: &str) -> Vec<(PartitionKey, CommittedOffset)> {
        let live = lock(&self.live);
        live.groups
            .get(group)
            .map(|stored| {
                stored
                    .offsets
                    .iter()
                    .map(|(key, offset)| (key.clone(), offset.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `group` has any committed offset.
    pub fn has_offsets(&self, group: &str) -> bool {
        let live = lock(&self.live);
        live.groups
            .get(group)
            .is_some_and(|stored| !stored.offsets.is_empty())
    }

    /// The protocol type and generation last persisted for `group`.
    pub fn meta(&self, group: &str) -> Option<(String, i32)> {
        let live = lock(&self.live);
        live.groups
            .get(group)
            .and_then(|stored| stored.meta.clone())
    }

    /// Every group with stored state, with that state.
    pub fn groups(&self) -> Vec<(String, StoredGroup)> {
        let live = lock(&self.live);
        live.groups
            .iter()
            .map(|(id, stored)| (id.clone(), stored.clone()))
            .collect()
    }
}

impl LiveSet {
    fn apply(&mut self, record: LogRecord) {
        match record {
            LogRecord::Commit {
                group,
                topic,
                partition,
                offset,
            } => {
                let stored = self.groups.entry(group).or_default();
                stored.offsets.insert((topic, partition), offset);
            }
            LogRecord::OffsetTombstone {
                group,
                topic,
                partition,
            } => {
                if let Some(stored) = self.groups.get_mut(&group) {
                    stored.offsets.remove(&(topic, partition));
                }
            }
            LogRecord::GroupTombstone { group } => {
                self.groups.remove(&group);
            }
            LogRecord::GroupMeta {
                group,
                protocol_type,
                generation,
            } => {
                let stored = self.groups.entry(group).or_default();
                stored.meta = Some((protocol_type, generation));
            }
        }
    }

    /// How many records a freshly compacted log would hold.
    fn record_count(&self) -> u64 {
        self.groups
            .values()
            .map(|stored| stored.offsets.len() as u64 + u64::from(stored.meta.is_some()))
            .sum()
    }

    /// The records of a freshly compacted log.
    fn records(&self) -> Vec<LogRecord> {
        let mut live = Vec::new();
        for (group, stored) in &self.groups {
            if let Some((protocol_type, generation)) = &stored.meta {
                live.push(LogRecord::GroupMeta {
                    group: group.clone(),
                    protocol_type: protocol_type.clone(),
                    generation: *generation,
                });
            }
            for ((topic, partition), offset) in &stored.offsets {
                live.push(LogRecord::Commit {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                    offset: offset.clone(),
                });
            }
        }
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(group: &str, partition: i32, offset: i64) -> LogRecord {
        LogRecord::Commit {
            group: group.into(),
            topic: "t".into(),
            partition,
            offset: CommittedOffset {
                offset,
                leader_epoch: -1,
                metadata: None,
                commit_timestamp_ms: 1,
            },
        }
    }

    #[tokio::test]
    async fn group_offset_store_applies_tombstones_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Arc::new(OffsetStore::open(dir.path(), false, 10_000).expect("open"));
            store
                .write(vec![
                    commit("a", 0, 5),
                    commit("a", 1, 6),
                    commit("b", 0, 7),
                ])
                .await
                .expect("write");
            store
                .write(vec![LogRecord::OffsetTombstone {
                    group: "a".into(),
                    topic: "t".into(),
                    partition: 1,
                }])
                .await
                .expect("tombstone");
            store
                .write(vec![LogRecord::GroupTombstone { group: "b".into() }])
                .await
                .expect("group tombstone");
        }
        let store = OffsetStore::open(dir.path(), false, 10_000).expect("reopen");
        assert_eq!(store.get("a", "t", 0).map(|o| o.offset), Some(5));
        assert_eq!(store.get("a", "t", 1), None);
        assert!(!store.has_offsets("b"));
        assert_eq!(store.groups().len(), 1);
    }

    #[tokio::test]
    async fn group_offset_store_compacts_when_mostly_superseded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(OffsetStore::open(dir.path(), false, 4).expect("open"));
        for offset in 0..20 {
            store
                .write(vec![commit("a", 0, offset)])
                .await
                .expect("write");
        }
        let size = std::fs::metadata(dir.path().join("offsets.log"))
            .expect("metadata")
            .len();
        // 20 frames of ~40 bytes each would be ~800 bytes; compaction keeps it near a few.
        assert!(size < 400, "log was not compacted: {size} bytes");
        drop(store);
        let store = OffsetStore::open(dir.path(), false, 4).expect("reopen");
        assert_eq!(store.get("a", "t", 0).map(|o| o.offset), Some(19));
    }
}
