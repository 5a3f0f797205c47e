//! The typed values the admin client takes and returns.
//!
//! Operations on many items (topics, partitions, groups, config resources)
//! return [`ItemResults`]: one `Result` per item, so a failure of one item
//! never hides the answers for the others. [`all_ok`] turns such a map into
//! a single `Result` for callers that want all-or-nothing.

use std::collections::BTreeMap;
use std::fmt;

/// Re-exported so `durian_admin::TopicPartition` names the shared type.
pub use durian_core::TopicPartition;
use durian_core::{Error, Result};
use uuid::Uuid;

/// One result per item, ordered by the item's key.
pub type ItemResults<K, V> = BTreeMap<K, Result<V>>;

/// Returns every value, or the first error (by key order) if any item failed.
///
/// ```
/// use std::collections::BTreeMap;
/// use durian_admin::all_ok;
/// let mut results = BTreeMap::new();
/// results.insert("a".to_owned(), Ok(1));
/// assert_eq!(all_ok(results).unwrap()["a"], 1);
/// ```
pub fn all_ok<K: Ord, V>(results: ItemResults<K, V>) -> Result<BTreeMap<K, V>> {
    results
        .into_iter()
        .map(|(key, result)| result.map(|value| (key, value)))
        .collect()
}

/// A topic to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Partition count; `None` takes the broker's `num.partitions`.
    pub partitions: Option<i32>,
    /// Replication factor; `None` takes the broker's default.
    pub replication_factor: Option<i16>,
    /// Topic config overrides, e.g. `retention.ms`.
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and the default replication factor.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        NewTopic {
            name: name.into(),
            partitions: Some(partitions),
            ..NewTopic::default()
        }
    }

    /// Sets the replication factor.
    pub fn replication_factor(mut self, factor: i16) -> Self {
        self.replication_factor = Some(factor);
        self
    }

    /// Adds a config override.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(name.into(), value.into());
        self
    }
}

/// What the broker reports about a topic it created.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedTopic {
    /// The new topic's id (nil before CreateTopics v7).
    pub topic_id: Uuid,
    /// Partition count (-1 before CreateTopics v5).
    pub partitions: i32,
    /// Replication factor (-1 before CreateTopics v5).
    pub replication_factor: i16,
    /// The effective configs (empty before CreateTopics v5).
    pub configs: Vec<ConfigEntry>,
}

/// A topic as listed by [`crate::Admin::list_topics`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// Topic name.
    pub name: String,
    /// Topic id (nil when the broker predates topic ids).
    pub topic_id: Uuid,
    /// Whether the topic is internal, such as `__consumer_offsets`.
    pub is_internal: bool,
}

/// A topic with its partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Topic id (nil when the broker predates topic ids).
    pub topic_id: Uuid,
    /// Whether the topic is internal.
    pub is_internal: bool,
    /// Partitions, ordered by index.
    pub partitions: Vec<PartitionDescription>,
}

/// One partition of a described topic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionDescription {
    /// Partition index.
    pub partition: i32,
    /// The leader's node id; `None` while there is no leader.
    pub leader: Option<i32>,
    /// The leader epoch (-1 when the broker does not report one).
    pub leader_epoch: i32,
    /// Node ids of all replicas.
    pub replicas: Vec<i32>,
    /// Node ids of the in-sync replicas.
    pub isr: Vec<i32>,
    /// Node ids of offline replicas.
    pub offline_replicas: Vec<i32>,
}

/// The kind of resource a config belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ResourceKind {
    /// A topic, named by its name.
    Topic,
    /// A broker, named by its node id.
    Broker,
}

impl ResourceKind {
    /// The resource type code on the wire.
    pub fn code(self) -> i8 {
        match self {
            ResourceKind::Topic => 2,
            ResourceKind::Broker => 4,
        }
    }

    /// The kind for a wire code, if it is one the admin client handles.
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            2 => Some(ResourceKind::Topic),
            4 => Some(ResourceKind::Broker),
            _ => None,
        }
    }
}

/// A resource whose configs can be described or altered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// Topic or broker.
    pub kind: ResourceKind,
    /// The topic name, or the broker's node id as text.
    pub name: String,
}

impl ConfigResource {
    /// The configs of topic `name`.
    pub fn topic(name: impl Into<String>) -> Self {
        ConfigResource {
            kind: ResourceKind::Topic,
            name: name.into(),
        }
    }

    /// The configs of broker `node_id`.
    pub fn broker(node_id: i32) -> Self {
        ConfigResource {
            kind: ResourceKind::Broker,
            name: node_id.to_string(),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ResourceKind::Topic => write!(f, "topic `{}`", self.name),
            ResourceKind::Broker => write!(f, "broker {}", self.name),
        }
    }
}

/// Where a config value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// An override set on the topic.
    TopicOverride,
    /// A dynamic setting of this broker.
    DynamicBroker,
    /// A dynamic setting shared by all brokers.
    DynamicDefaultBroker,
    /// A setting in the broker's static configuration.
    StaticBroker,
    /// The built-in default.
    Default,
    /// A dynamic logger setting of the broker.
    DynamicBrokerLogger,
    /// A source this client does not know (the raw code).
    Unknown(i8),
}

impl ConfigSource {
    /// The source for a wire code (DescribeConfigs v1+).
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigSource::TopicOverride,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            other => ConfigSource::Unknown(other),
        }
    }
}

/// One config setting of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// Setting name, e.g. `retention.ms`.
    pub name: String,
    /// The value; `None` when unset or sensitive.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether the setting cannot be altered.
    pub read_only: bool,
    /// Whether the value is hidden because it is sensitive.
    pub sensitive: bool,
}

impl ConfigEntry {
    /// A setting that is neither read-only nor sensitive; the flags are
    /// public fields. For tests and mock admin clients: the admin client
    /// builds entries from the broker's answer.
    pub fn new(name: impl Into<String>, value: Option<String>, source: ConfigSource) -> Self {
        ConfigEntry {
            name: name.into(),
            value,
            source,
            read_only: false,
            sensitive: false,
        }
    }
}

/// One change of [`crate::Admin::incremental_alter_configs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Sets `name` to a value.
    Set(String, String),
    /// Removes the override of `name`, going back to the default.
    Delete(String),
    /// Appends a value to the list setting `name`.
    Append(String, String),
    /// Removes a value from the list setting `name`.
    Subtract(String, String),
}

impl AlterConfigOp {
    /// Setting name, operation code on the wire and value.
    pub(crate) fn parts(&self) -> (&str, i8, Option<&str>) {
        match self {
            AlterConfigOp::Set(name, value) => (name, 0, Some(value)),
            AlterConfigOp::Delete(name) => (name, 1, None),
            AlterConfigOp::Append(name, value) => (name, 2, Some(value)),
            AlterConfigOp::Subtract(name, value) => (name, 3, Some(value)),
        }
    }
}

/// A broker as described by [`crate::Admin::describe_cluster`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerNode {
    /// Node id.
    pub node_id: i32,
    /// Host name clients connect to.
    pub host: String,
    /// Port clients connect to.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

/// The cluster as described by [`crate::Admin::describe_cluster`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// Cluster id, if the broker reports one.
    pub cluster_id: Option<String>,
    /// The active controller's node id, if known.
    pub controller_id: Option<i32>,
    /// The brokers, ordered by node id.
    pub brokers: Vec<BrokerNode>,
}

/// Which offset [`crate::Admin::list_offsets`] looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The end offset (high watermark): the offset of the next record.
    Latest,
    /// The record with the largest timestamp (ListOffsets v7+).
    MaxTimestamp,
    /// The first record whose timestamp is at or after this one (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    /// The `timestamp` field of a ListOffsets request.
    pub(crate) fn wire_timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(ms) => ms,
        }
    }
}

/// An offset found by [`crate::Admin::list_offsets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; `None` when no record matches a timestamp lookup.
    pub offset: Option<i64>,
    /// The record's timestamp, when the lookup was by timestamp (-1 otherwise).
    pub timestamp: i64,
    /// The leader epoch of the record, if known.
    pub leader_epoch: Option<i32>,
}

/// A new log start offset set by [`crate::Admin::delete_records`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedRecords {
    /// The partition's log start offset after the deletion.
    pub low_watermark: i64,
}

/// A group as listed by [`crate::Admin::list_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type, `consumer` for consumer groups (empty for offset-only groups).
    pub protocol_type: String,
    /// Group state (ListGroups v4+; empty before).
    pub state: String,
    /// Group type as the broker spells it: `classic`, `consumer`, `share`
    /// or `streams` (ListGroups v5+, Kafka 3.8+; empty before).
    pub group_type: String,
    /// The coordinator that reported the group.
    pub coordinator: i32,
}

/// A group as described by [`crate::Admin::describe_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// Group state: `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Dead`.
    pub state: String,
    /// Protocol type, `consumer` for consumer groups.
    pub protocol_type: String,
    /// The chosen assignor (e.g. `range`) while the group is stable.
    pub protocol: String,
    /// The group's members.
    pub members: Vec<MemberDescription>,
    /// The coordinator's node id.
    pub coordinator: i32,
}

impl GroupDescription {
    /// A group without members, protocol or state (empty strings); the
    /// fields are public to fill in. For tests and mock admin clients.
    pub fn new(group_id: impl Into<String>, coordinator: i32) -> Self {
        GroupDescription {
            group_id: group_id.into(),
            state: String::new(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
            coordinator,
        }
    }
}

/// One member of a described group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// Member id assigned by the coordinator.
    pub member_id: String,
    /// Static membership id, if any.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host as seen by the coordinator.
    pub client_host: String,
    /// The member's partitions, decoded from a consumer-protocol assignment;
    /// empty when the group is not a consumer group or the bytes do not decode.
    pub assignment: Vec<TopicPartition>,
}

impl MemberDescription {
    /// A dynamic member (no `group.instance.id`) with no partitions; the
    /// fields are public to fill in. For tests and mock admin clients.
    pub fn new(
        member_id: impl Into<String>,
        client_id: impl Into<String>,
        client_host: impl Into<String>,
    ) -> Self {
        MemberDescription {
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: client_id.into(),
            client_host: client_host.into(),
            assignment: Vec::new(),
        }
    }
}

/// A committed offset of a group, with the partition's end offset and lag.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupOffsetLag {
    /// The committed offset; `None` when the group has committed nothing here.
    pub committed: Option<i64>,
    /// The metadata string stored with the commit.
    pub metadata: Option<String>,
    /// The leader epoch stored with the commit (OffsetFetch v5+); `None`
    /// when the committer gave none or the broker is older.
    pub leader_epoch: Option<i32>,
    /// The partition's end offset (high watermark), if it could be read.
    pub end_offset: Option<i64>,
    /// `end_offset - committed`, when both are known (never negative).
    pub lag: Option<i64>,
}

/// Where [`crate::Admin::reset_group_offsets`] moves a group's committed
/// offsets. Not the consumer's `auto.offset.reset` policy
/// (`durian_consumer::OffsetReset`): this is an explicit target, which may
/// be a timestamp or an offset, applied once by an administrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetResetTarget {
    /// To each partition's log start offset.
    Earliest,
    /// To each partition's end offset.
    Latest,
    /// To the first record at or after this timestamp (ms since the epoch);
    /// partitions without such a record go to their end offset.
    Timestamp(i64),
    /// To this offset in every partition.
    Offset(i64),
}

/// An error for an item the broker's response did not mention.
pub(crate) fn missing(what: impl fmt::Display) -> Error {
    Error::Protocol(format!(
        "the response does not mention {what}; the broker may not support this request fully"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn all_ok_returns_the_first_error_by_key() {
        let mut results: ItemResults<String, i32> = BTreeMap::new();
        results.insert("b".into(), Err(missing("b")));
        results.insert("a".into(), Ok(1));
        results.insert("c".into(), Err(Error::Shutdown));
        let err = all_ok(results).unwrap_err();
        assert!(err.to_string().contains("mention b"), "{err}");
    }

    #[test]
    fn wire_codes_round_trip() {
        for kind in [ResourceKind::Topic, ResourceKind::Broker] {
            assert_eq!(ResourceKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ResourceKind::from_code(1), None);
        assert_eq!(ConfigSource::from_code(1), ConfigSource::TopicOverride);
        assert_eq!(ConfigSource::from_code(5), ConfigSource::Default);
        assert_eq!(ConfigSource::from_code(42), ConfigSource::Unknown(42));
        assert_eq!(OffsetSpec::Earliest.wire_timestamp(), -2);
        assert_eq!(OffsetSpec::Latest.wire_timestamp(), -1);
        assert_eq!(OffsetSpec::Timestamp(7).wire_timestamp(), 7);
        assert_eq!(AlterConfigOp::Delete("x".into()).parts(), ("x", 1, None));
        assert_eq!(TopicPartition::new("t", 3).to_string(), "t-3");
    }
}
