//! Per-partition log settings, with Kafka's defaults and property names.

use durian_core::record::TimestampType;

use super::StorageError;

/// When appended bytes are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushPolicy {
    /// Leave writes in the OS page cache; fsync only when a segment rolls,
    /// on [`flush`](super::PartitionLog::flush) and on close. This is Kafka's
    /// default: durability comes from replication, and a crash loses at most
    /// the unflushed tail, which recovery truncates cleanly.
    #[default]
    PageCache,
    /// fsync the segment after every append before acknowledging it
    /// (Kafka's `flush.messages=1`). Much slower, survives power loss.
    Always,
}

/// Settings of one partition log. `Default` gives Kafka's broker defaults.
///
/// ```
/// use durian_broker::LogConfig;
/// let mut config = LogConfig::default();
/// config.set("retention.ms", "-1").unwrap();
/// assert_eq!(config.retention_ms, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll to a new segment once the active one would exceed this size
    /// (`segment.bytes`, default 1 GiB).
    pub segment_bytes: u64,
    /// Roll once the active segment's first batch is this old
    /// (`segment.ms`, default 7 days).
    pub segment_ms: i64,
    /// Delete whole segments whose newest timestamp is older than this
    /// (`retention.ms`, default 7 days; `None` keeps them forever, Kafka's -1).
    pub retention_ms: Option<i64>,
    /// Delete the oldest segments while the log is larger than this
    /// (`retention.bytes`, default `None` = unbounded).
    pub retention_bytes: Option<u64>,
    /// Add an offset/time index entry after at least this many log bytes
    /// (`index.interval.bytes`, default 4096).
    pub index_interval_bytes: u32,
    /// Largest size of one index file; a full index rolls the segment
    /// (`segment.index.bytes`, default 10 MiB).
    pub segment_index_bytes: u32,
    /// Largest accepted record batch (`max.message.bytes`, default 1048588).
    pub max_message_bytes: usize,
    /// When appends reach the disk (`flush.messages`: 1 = Always).
    pub flush: FlushPolicy,
    /// Whose clock stamps the batches (`message.timestamp.type`).
    pub message_timestamp_type: TimestampType,
    /// With [`FlushPolicy::PageCache`]: fsync once this many records are
    /// unflushed (`flush.messages` above 1). `None` (default, Kafka's
    /// `Long.MAX_VALUE`): never on a count.
    pub flush_messages: Option<u64>,
    /// With [`FlushPolicy::PageCache`]: fsync once the oldest unflushed
    /// append is this old, checked at appends and by the broker's
    /// maintenance task (`flush.ms`). `None` (default, Kafka's
    /// `Long.MAX_VALUE`): never on time.
    pub flush_ms: Option<i64>,
    /// Forget an idempotent producer this long after its last append
    /// (Kafka's broker setting `producer.id.expiration.ms`, default 1 day),
    /// checked with retention; its next batch is then accepted with any
    /// sequence, as for an unknown producer.
    pub producer_id_expiration_ms: i64,
    /// `cleanup.policy`: what happens to old records (default delete only).
    pub cleanup_policy: CleanupPolicy,
    /// Keep a tombstone (a keyed record with a null value) this long after
    /// the newest timestamp of its segment before the cleaner may drop it
    /// (`delete.retention.ms`, default 1 day).
    pub delete_retention_ms: i64,
    /// Clean a compacted log once dirty bytes / all bytes reach this
    /// (`min.cleanable.dirty.ratio`, default 0.5).
    pub min_cleanable_dirty_ratio: DirtyRatio,
    /// Never clean a segment whose newest record is younger than this
    /// (`min.compaction.lag.ms`, default 0).
    pub min_compaction_lag_ms: i64,
    /// Clean regardless of the dirty ratio once the oldest dirty segment's
    /// newest record is this old (`max.compaction.lag.ms`, default
    /// `Long.MAX_VALUE`: never forced).
    pub max_compaction_lag_ms: i64,
}

/// `cleanup.policy`: delete old segments, compact the log by key, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// `delete`: retention.ms / retention.bytes delete old segments.
    pub delete: bool,
    /// `compact`: the log cleaner keeps the latest record per key.
    pub compact: bool,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        CleanupPolicy {
            delete: true,
            compact: false,
        }
    }
}

impl CleanupPolicy {
    /// Parses Kafka's comma-separated list (`delete`, `compact`, or both
    /// in either order; each at most once).
    pub fn parse(value: &str) -> Result<CleanupPolicy, StorageError> {
        let mut policy = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for item in value.split(',').map(str::trim) {
            let slot = match item {
                "delete" => &mut policy.delete,
                "compact" => &mut policy.compact,
                _ => {
                    return Err(bad_value(
                        "cleanup.policy",
                        value,
                        "delete, compact or compact,delete",
                    ))
                }
            };
            if *slot {
                return Err(bad_value(
                    "cleanup.policy",
                    value,
                    "each policy at most once",
                ));
            }
            *slot = true;
        }
        Ok(policy)
    }

    /// Kafka's spelling of the policy, as DescribeConfigs shows it.
    pub fn name(&self) -> &'static str {
        match (self.compact, self.delete) {
            (true, true) => "compact,delete",
            (true, false) => "compact",
            _ => "delete",
        }
    }
}

/// A ratio in `[0, 1]` (`min.cleanable.dirty.ratio`); compared by value so
/// [`LogConfig`] stays `Eq`.
#[derive(Debug, Clone, Copy)]
pub struct DirtyRatio(f64);

impl DirtyRatio {
    /// The ratio, or an error outside `[0, 1]` (NaN included).
    pub fn new(ratio: f64) -> Result<DirtyRatio, StorageError> {
        if (0.0..=1.0).contains(&ratio) {
            Ok(DirtyRatio(ratio))
        } else {
            Err(StorageError::InvalidConfig(format!(
                "min.cleanable.dirty.ratio = {ratio} must be between 0 and 1"
            )))
        }
    }

    /// The ratio as a number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for DirtyRatio {
    fn default() -> Self {
        DirtyRatio(0.5)
    }
}

impl PartialEq for DirtyRatio {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for DirtyRatio {}

/// Kafka's smallest `segment.bytes` for a topic (1 MiB). Only the property
/// names ([`LogConfig::set`]) enforce it; the struct itself accepts down to
/// 128 bytes, like Kafka's internal `internal.segment.bytes`, for tests.
pub(crate) const KAFKA_MIN_SEGMENT_BYTES: u64 = 1024 * 1024;
/// Kafka's smallest `segment.ms`.
const KAFKA_MIN_SEGMENT_MS: i64 = 1;
/// Kafka's smallest `flush.messages`.
const KAFKA_MIN_FLUSH_MESSAGES: i64 = 1;
/// Kafka's smallest `flush.ms`.
const KAFKA_MIN_FLUSH_MS: i64 = 0;

/// Smallest accepted `segment.bytes`: room for at least one batch header.
const MIN_SEGMENT_BYTES: u64 = 128;
/// Smallest accepted `segment.index.bytes`: one time index entry.
const MIN_INDEX_BYTES: u32 = 12;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: Some(7 * 24 * 60 * 60 * 1000),
            retention_bytes: None,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            max_message_bytes: 1_048_588,
            flush: FlushPolicy::PageCache,
            message_timestamp_type: TimestampType::CreateTime,
            flush_messages: None,
            flush_ms: None,
            producer_id_expiration_ms: 86_400_000,
            cleanup_policy: CleanupPolicy::default(),
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: DirtyRatio::default(),
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

impl LogConfig {
    /// Checks that the values can be used; called by `PartitionLog::open`.
    pub(crate) fn validate(&self) -> Result<(), StorageError> {
        if self.segment_bytes < MIN_SEGMENT_BYTES || self.segment_bytes > i32::MAX as u64 {
            return Err(StorageError::InvalidConfig(format!(
                "segment.bytes = {} must be between {MIN_SEGMENT_BYTES} and {} (positions are 32-bit)",
                self.segment_bytes,
                i32::MAX
            )));
        }
        if self.segment_ms <= 0 {
            return Err(StorageError::InvalidConfig(format!(
                "segment.ms = {} must be positive",
                self.segment_ms
            )));
        }
        if self.segment_index_bytes < MIN_INDEX_BYTES {
            return Err(StorageError::InvalidConfig(format!(
                "segment.index.bytes = {} must be at least {MIN_INDEX_BYTES}",
                self.segment_index_bytes
            )));
        }
        if self.max_message_bytes == 0 {
            return Err(StorageError::InvalidConfig(
                "max.message.bytes must be positive".to_string(),
            ));
        }
        if self.delete_retention_ms < 0 || self.min_compaction_lag_ms < 0 {
            return Err(StorageError::InvalidConfig(
                "delete.retention.ms and min.compaction.lag.ms must not be negative".to_string(),
            ));
        }
        if self.max_compaction_lag_ms < 1 {
            return Err(StorageError::InvalidConfig(
                "max.compaction.lag.ms must be at least 1".to_string(),
            ));
        }
        // Kafka refuses the same conflict.
        if self.min_compaction_lag_ms > self.max_compaction_lag_ms {
            return Err(StorageError::InvalidConfig(format!(
                "min.compaction.lag.ms = {} exceeds max.compaction.lag.ms = {}",
                self.min_compaction_lag_ms, self.max_compaction_lag_ms
            )));
        }
        Ok(())
    }

    /// Applies one topic setting by its Kafka property name, e.g. from a
    /// CreateTopics or AlterConfigs request.
    ///
    /// Known names: `segment.bytes`, `segment.ms`, `retention.ms`,
    /// `retention.bytes`, `index.interval.bytes`, `segment.index.bytes`,
    /// `max.message.bytes`, `flush.messages` (1 = fsync every append, N =
    /// fsync every N records, `Long.MAX_VALUE` = never), `flush.ms`,
    /// `message.timestamp.type`, `cleanup.policy`, `delete.retention.ms`,
    /// `min.cleanable.dirty.ratio`, `min.compaction.lag.ms`,
    /// `max.compaction.lag.ms`. Unknown names and unparsable values are
    /// errors, never ignored; values below Kafka's minimum
    /// (`segment.bytes` 1 MiB, `segment.ms` 1, `flush.messages` 1,
    /// `flush.ms` 0, and durian's `segment.index.bytes` 12, above Kafka's 4:
    /// one time index entry) are refused with INVALID_CONFIG naming it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), StorageError> {
        check_kafka_minimum(name, value)?;
        self.apply_stored(name, value)
    }

    /// [`set`](Self::set) without Kafka's minimums, for topic overrides
    /// read back from the catalog: a topic stored before the minimums were
    /// enforced must still open. New overrides always go through `set`.
    pub(crate) fn apply_stored(&mut self, name: &str, value: &str) -> Result<(), StorageError> {
        match name {
            "segment.bytes" => self.segment_bytes = parse(name, value)?,
            "segment.ms" => self.segment_ms = parse(name, value)?,
            "retention.ms" => self.retention_ms = parse_optional(name, value)?,
            "retention.bytes" => {
                self.retention_bytes = parse_optional::<i64>(name, value)?.map(|v| v as u64)
            }
            "index.interval.bytes" => self.index_interval_bytes = parse(name, value)?,
            "segment.index.bytes" => self.segment_index_bytes = parse(name, value)?,
            "max.message.bytes" => self.max_message_bytes = parse(name, value)?,
            "flush.messages" => {
                let every: i64 = parse(name, value)?;
                self.flush = if every == 1 {
                    FlushPolicy::Always
                } else {
                    FlushPolicy::PageCache
                };
                self.flush_messages = (every > 1 && every < i64::MAX).then_some(every as u64);
            }
            "flush.ms" => {
                let ms: i64 = parse(name, value)?;
                self.flush_ms = (ms < i64::MAX).then_some(ms);
            }
            "cleanup.policy" => self.cleanup_policy = CleanupPolicy::parse(value)?,
            "delete.retention.ms" => self.delete_retention_ms = parse(name, value)?,
            "min.cleanable.dirty.ratio" => {
                self.min_cleanable_dirty_ratio = DirtyRatio::new(parse(name, value)?)?
            }
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = parse(name, value)?,
            "max.compaction.lag.ms" => self.max_compaction_lag_ms = parse(name, value)?,
            "message.timestamp.type" => {
                self.message_timestamp_type = match value {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(bad_value(name, value, "CreateTime or LogAppendTime")),
                }
            }
            _ => {
                return Err(StorageError::InvalidConfig(format!(
                    "unknown log setting {name:?}"
                )))
            }
        }
        self.validate()
    }

    /// Most index entries one segment's offset index may hold.
    pub(crate) fn max_offset_index_entries(&self) -> usize {
        (self.segment_index_bytes / 8) as usize
    }

    /// Most index entries one segment's time index may hold.
    pub(crate) fn max_time_index_entries(&self) -> usize {
        (self.segment_index_bytes / 12) as usize
    }
}

/// Refuses values below Kafka's minimum for the settings that have one
/// (Kafka's `LogConfig` definitions), naming the minimum.
fn check_kafka_minimum(name: &str, value: &str) -> Result<(), StorageError> {
    let minimum = match name {
        "segment.bytes" => KAFKA_MIN_SEGMENT_BYTES as i64,
        "segment.ms" => KAFKA_MIN_SEGMENT_MS,
        "segment.index.bytes" => i64::from(MIN_INDEX_BYTES),
        "flush.messages" => KAFKA_MIN_FLUSH_MESSAGES,
        "flush.ms" => KAFKA_MIN_FLUSH_MS,
        _ => return Ok(()),
    };
    let parsed: i64 = parse(name, value)?;
    if parsed < minimum {
        return Err(StorageError::InvalidConfig(format!(
            "{name} = {value} is below the minimum of {minimum}"
        )));
    }
    Ok(())
}

fn bad_value(name: &str, value: &str, expected: &str) -> StorageError {
    StorageError::InvalidConfig(format!("{name} = {value:?}: expected {expected}"))
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, StorageError> {
    value
        .trim()
        .parse()
        .map_err(|_| bad_value(name, value, "a non-negative number in range"))
}

/// Parses a Kafka "-1 means unlimited" setting.
fn parse_optional<T: std::str::FromStr + Default + PartialOrd>(
    name: &str,
    value: &str,
) -> Result<Option<T>, StorageError> {
    if value.trim() == "-1" {
        return Ok(None);
    }
    let parsed: T = parse(name, value)?;
    if parsed < T::default() {
        return Err(bad_value(name, value, "-1 or a non-negative number"));
    }
    Ok(Some(parsed))
}
