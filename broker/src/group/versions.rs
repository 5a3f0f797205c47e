//! The request versions the coordinator answers, per API, as inclusive `(min, max)` ranges.
//!
//! The server's ApiVersions response advertises exactly these. Minimums are where the
//! kafka-protocol crate's decoder starts (OffsetCommit v0-1 and OffsetFetch v0 cannot be
//! decoded by it); maximums are what current clients send and what the coordinator fills
//! correctly. Newer versions belong to the KIP-848 consumer protocol or add fields this
//! coordinator does not produce.

/// JoinGroup (API key 11).
pub const JOIN_GROUP: (i16, i16) = (0, 9);
/// SyncGroup (API key 14).
pub const SYNC_GROUP: (i16, i16) = (0, 5);
/// Heartbeat (API key 12).
pub const HEARTBEAT: (i16, i16) = (0, 4);
/// LeaveGroup (API key 13); v3+ carries a batch of members.
pub const LEAVE_GROUP: (i16, i16) = (0, 5);
/// OffsetCommit (API key 8).
pub const OFFSET_COMMIT: (i16, i16) = (2, 9);
/// OffsetFetch (API key 9); v8+ asks for several groups at once.
pub const OFFSET_FETCH: (i16, i16) = (1, 9);
/// DescribeGroups (API key 15).
pub const DESCRIBE_GROUPS: (i16, i16) = (0, 5);
/// ListGroups (API key 16); v4+ filters by state, v5+ by group type.
pub const LIST_GROUPS: (i16, i16) = (0, 5);
/// DeleteGroups (API key 42).
pub const DELETE_GROUPS: (i16, i16) = (0, 2);
/// OffsetDelete (API key 47).
pub const OFFSET_DELETE: (i16, i16) = (0, 0);
/// ConsumerGroupHeartbeat (API key 68, KIP-848); v1 adds subscribed_topic_regex and
/// client-chosen member ids.
pub const CONSUMER_GROUP_HEARTBEAT: (i16, i16) = (0, 1);
/// ConsumerGroupDescribe (API key 69, KIP-848); v1 adds member_type.
pub const CONSUMER_GROUP_DESCRIBE: (i16, i16) = (0, 1);
