//! Settings of the group coordinator, with Kafka's property names beside each field.

use std::time::Duration;

/// How the group coordinator times rebalances, bounds sessions and keeps committed offsets.
///
/// The defaults follow Kafka's broker defaults except `initial_rebalance_delay`, which is
/// 200 ms instead of Kafka's 3 s: long enough that consumers started together land in one
/// generation, short enough that a test group has its assignment well under a second.
///
/// ```
/// use std::time::Duration;
/// use durian_broker::GroupConfig;
///
/// let config = GroupConfig {
///     initial_rebalance_delay: Duration::ZERO,
///     ..GroupConfig::default()
/// };
/// assert_eq!(config.min_session_timeout, Duration::from_secs(6));
/// ```
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long a group that was empty waits for more
    /// members before completing its first rebalance. Each new member arriving during the wait
    /// extends it by this much again, bounded by the rebalance timeout.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms`: smaller session timeouts are refused with
    /// INVALID_SESSION_TIMEOUT.
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`: larger session timeouts are refused with
    /// INVALID_SESSION_TIMEOUT.
    pub max_session_timeout: Duration,
    /// `offsets.retention.minutes`: committed offsets of a group without members are removed
    /// once this long has passed since both the commit and the moment the group became empty.
    pub offsets_retention: Duration,
    /// `offsets.retention.check.interval.ms`: how often expired offsets and empty groups without
    /// offsets are swept away.
    pub offsets_retention_check_interval: Duration,
    /// `offset.metadata.max.bytes`: longer commit metadata strings are refused with
    /// OFFSET_METADATA_TOO_LARGE.
    pub offset_metadata_max_bytes: usize,
    /// Whether every offset-log append is fsync'd before the commit is acknowledged. Turning
    /// it off trades durability across power loss for latency; a process crash loses nothing
    /// either way because the write has reached the kernel.
    pub fsync_offset_log: bool,
    /// The offset log is rewritten to its live records when it holds at least this many
    /// superseded records and more superseded than live ones (checked on open and after
    /// appends).
    pub offset_log_compaction_min_dead: u64,
    /// `group.coordinator.rebalance.protocols` includes `consumer`: ConsumerGroupHeartbeat
    /// and ConsumerGroupDescribe (KIP-848) are served and advertised.
    pub consumer_protocol: bool,
    /// `group.consumer.heartbeat.interval.ms`: the interval consumer-protocol members are
    /// told to heartbeat at.
    pub consumer_heartbeat_interval: Duration,
    /// `group.consumer.session.timeout.ms`: a consumer-protocol member that has not
    /// heartbeat for this long is removed.
    pub consumer_session_timeout: Duration,
    /// `group.consumer.max.size`: joining a consumer-protocol group this large is refused
    /// with GROUP_MAX_SIZE_REACHED.
    pub consumer_max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::from_millis(200),
            min_session_timeout: Duration::from_millis(6_000),
            max_session_timeout: Duration::from_millis(1_800_000),
            offsets_retention: Duration::from_secs(7 * 24 * 60 * 60),
            offsets_retention_check_interval: Duration::from_secs(600),
            offset_metadata_max_bytes: 4096,
            fsync_offset_log: true,
            offset_log_compaction_min_dead: 10_000,
            consumer_protocol: true,
            consumer_heartbeat_interval: Duration::from_millis(5_000),
            consumer_session_timeout: Duration::from_millis(45_000),
            consumer_max_size: i32::MAX as usize,
        }
    }
}
