//! Consumer settings: a typed builder and the Kafka property names.
//!
//! [`ConsumerConfig`] embeds the connection-level
//! [`ClientConfig`](durian_core::ClientConfig). Both the builder and
//! [`ConsumerConfig::from_properties`] validate, and an unknown property is
//! an error. [`CONSUMER_PROPERTIES`] lists every consumer property with its
//! default; docs/CONSUMER.md repeats it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use durian_core::config::{PropertyDoc, PropertyParser};
use durian_core::{ClientConfig, Error};

use crate::assignor::{assignor_by_name, Assignor, CooperativeStickyAssignor, RangeAssignor};

/// What to do when a partition has no committed offset, or its position
/// is out of range (`auto.offset.reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// Start from the log start offset.
    Earliest,
    /// Start from the high watermark: only records produced from now on.
    Latest,
    /// Report an error to the application, which must seek.
    None,
}

/// Which records a fetch may return (`isolation.level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Every record, including those of open or aborted transactions.
    ReadUncommitted,
    /// Only records below the last stable offset, and none of aborted
    /// transactions.
    ReadCommitted,
}

impl IsolationLevel {
    /// The protocol's encoding.
    pub fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// Which group membership protocol the consumer speaks (`group.protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup/Heartbeat, with the assignment computed by the
    /// group leader among the members.
    #[default]
    Classic,
    /// KIP-848: ConsumerGroupHeartbeat only; the coordinator computes the
    /// assignment and hands it out member by member.
    Consumer,
}

/// Settings that only the classic protocol uses: Java's consumer refuses
/// them under `group.protocol=consumer`, where the broker decides them.
const CLASSIC_ONLY: [&str; 3] = [
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
];

fn classic_only_error(property: &str) -> Error {
    Error::config(
        property,
        "not supported with group.protocol=consumer: the coordinator decides it \
         (group.consumer.* broker settings; group.remote.assignor picks the assignor)",
    )
}

/// Documentation of every consumer property (besides [`durian_core::config::CLIENT_PROPERTIES`]).
pub const CONSUMER_PROPERTIES: &[PropertyDoc] = &[
    doc("group.id", "", "The consumer group; required by subscribe() and commits."),
    doc("group.protocol", "classic", "Group membership protocol: classic (JoinGroup/SyncGroup, client-side assignors) or consumer (KIP-848 ConsumerGroupHeartbeat, broker-side assignors; needs Kafka 4.0+). Under consumer, partition.assignment.strategy, session.timeout.ms and heartbeat.interval.ms are refused."),
    doc("group.remote.assignor", "", "Under group.protocol=consumer: the broker-side assignor to ask for (uniform, range); empty lets the broker choose."),
    doc("group.instance.id", "", "Static membership id: a restart within session.timeout.ms keeps the partitions without a rebalance."),
    doc("auto.offset.reset", "latest", "Where to start without a committed offset, or after OFFSET_OUT_OF_RANGE: earliest, latest or none (error)."),
    doc("enable.auto.commit", "true", "Commit the positions of records already returned by poll every auto.commit.interval.ms, before a rebalance and on close."),
    doc("auto.commit.interval.ms", "5000", "How often auto-commit runs."),
    doc("session.timeout.ms", "45000", "The coordinator removes the member when no heartbeat arrives for this long."),
    doc("heartbeat.interval.ms", "3000", "Interval between heartbeats; must be below session.timeout.ms."),
    doc("max.poll.interval.ms", "300000", "Longest allowed gap between two poll calls; past it the member leaves the group. Also the rebalance timeout."),
    doc("partition.assignment.strategy", "range,cooperative-sticky", "Assignors offered to the group, preferred first: range, roundrobin, cooperative-sticky (Java class names accepted)."),
    doc("isolation.level", "read_uncommitted", "read_committed hides records of aborted and open transactions."),
    doc("fetch.min.bytes", "1", "The broker waits for this many bytes (or fetch.max.wait.ms) before answering a fetch."),
    doc("fetch.max.wait.ms", "500", "Longest a fetch waits on the broker for fetch.min.bytes."),
    doc("fetch.max.bytes", "52428800", "Upper bound of one fetch response (up to durian.fetch.max.in.flight.per.broker of them in flight per broker, for disjoint partitions)."),
    doc("max.partition.fetch.bytes", "1048576", "Upper bound of the data one partition contributes to a fetch response."),
    doc("max.poll.records", "500", "Most records one poll returns."),
    doc("client.rack", "", "Rack of this consumer, sent with fetches and in the subscription (v3)."),
    doc("durian.fetch.buffer.bytes", "67108864", "Fetch ahead (the next fetch of a partition sent while its records are still being handed out) only while the consumer buffers fewer record bytes than this (the records sections of the fetched batches, decompressed), and the partition fewer than max.partition.fetch.bytes. 0 fetches a partition only once its buffer is empty."),
    doc("durian.fetch.max.in.flight.per.broker", "4", "Fetch requests in flight to one broker at a time (1 to 8), each for other partitions, so the broker prepares one answer while the consumer takes in another; each keeps its own fetch session. A second one goes out only while every fetch to that broker, and it, has records known to be waiting: a long poll, or a first fetch, goes alone. 1 is one fetch per broker, as before."),
    doc("durian.fetch.sessions", "true", "Use fetch sessions (KIP-227): after a full first fetch, tell each broker only the partitions that changed. false sends every fetch in full."),
];

/// Most fetch requests in flight to one broker
/// (`durian.fetch.max.in.flight.per.broker`): more only splits the
/// partitions of a broker into smaller answers.
pub const MAX_FETCHES_IN_FLIGHT: usize = 8;

const fn doc(name: &'static str, default: &'static str, doc: &'static str) -> PropertyDoc {
    PropertyDoc { name, default, doc }
}

/// All settings of a consumer.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Connection-level settings.
    pub client: ClientConfig,
    /// `group.id`.
    pub group_id: Option<String>,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// `group.protocol`.
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor` (`None`: the broker's default).
    pub group_remote_assignor: Option<String>,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval: Duration,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms`.
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy`, preferred first.
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// `isolation.level`.
    pub isolation_level: IsolationLevel,
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: i32,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `client.rack`.
    pub client_rack: Option<String>,
    /// `durian.fetch.sessions`: fetch sessions (KIP-227) with each broker.
    pub fetch_sessions: bool,
    /// `durian.fetch.buffer.bytes`: fetch ahead of buffered records only
    /// while fewer record bytes (fetched batches' records sections,
    /// decompressed) than this are buffered (0: never fetch ahead).
    pub fetch_buffer_bytes: usize,
    /// `durian.fetch.max.in.flight.per.broker`: fetch requests in flight
    /// to one broker at a time, each for other partitions (1 to
    /// [`MAX_FETCHES_IN_FLIGHT`]).
    pub fetch_max_in_flight: usize,
}

impl fmt::Debug for ConsumerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let assignors: Vec<&str> = self.assignors.iter().map(|a| a.name()).collect();
        f.debug_struct("ConsumerConfig")
            .field("client", &self.client)
            .field("group_id", &self.group_id)
            .field("group_instance_id", &self.group_instance_id)
            .field("group_protocol", &self.group_protocol)
            .field("group_remote_assignor", &self.group_remote_assignor)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("enable_auto_commit", &self.enable_auto_commit)
            .field("assignors", &assignors)
            .field("isolation_level", &self.isolation_level)
            .field("auto_commit_interval", &self.auto_commit_interval)
            .field("session_timeout", &self.session_timeout)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("max_poll_interval", &self.max_poll_interval)
            .field("fetch_min_bytes", &self.fetch_min_bytes)
            .field("fetch_max_wait", &self.fetch_max_wait)
            .field("fetch_max_bytes", &self.fetch_max_bytes)
            .field("max_partition_fetch_bytes", &self.max_partition_fetch_bytes)
            .field("max_poll_records", &self.max_poll_records)
            .field("client_rack", &self.client_rack)
            .field("fetch_sessions", &self.fetch_sessions)
            .field("fetch_buffer_bytes", &self.fetch_buffer_bytes)
            .field("fetch_max_in_flight", &self.fetch_max_in_flight)
            .finish()
    }
}

impl ConsumerConfig {
    /// Defaults around a client config.
    pub fn new(client: ClientConfig) -> Self {
        ConsumerConfig {
            client,
            group_id: None,
            group_instance_id: None,
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5_000),
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            assignors: vec![Arc::new(RangeAssignor), Arc::new(CooperativeStickyAssignor)],
            isolation_level: IsolationLevel::ReadUncommitted,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            max_poll_records: 500,
            client_rack: None,
            fetch_sessions: true,
            fetch_buffer_bytes: 64 << 20,
            fetch_max_in_flight: 4,
        }
    }

    /// Builds a config from Kafka property names (consumer and client
    /// properties together); unknown keys are errors.
    ///
    /// ```
    /// let config = durian_consumer::ConsumerConfig::from_properties([
    ///     ("bootstrap.servers", "localhost:9092"),
    ///     ("group.id", "shippers"),
    ///     ("auto.offset.reset", "earliest"),
    /// ]).unwrap();
    /// assert_eq!(config.group_id.as_deref(), Some("shippers"));
    /// ```
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut parser = PropertyParser::new(properties)?;
        let mut config = ConsumerConfig::new(ClientConfig::default());
        config.take_own(&mut parser)?;
        config.client = ClientConfig::take_from(&mut parser)?;
        parser.finish()?;
        config.validate()?;
        Ok(config)
    }

    fn take_own(&mut self, parser: &mut PropertyParser) -> Result<(), Error> {
        self.group_id = parser.take("group.id").filter(|g| !g.is_empty());
        self.group_instance_id = parser.take("group.instance.id").filter(|g| !g.is_empty());
        if let Some(raw) = parser.take("group.protocol") {
            self.group_protocol = match raw.to_ascii_lowercase().as_str() {
                "classic" => GroupProtocol::Classic,
                "consumer" => GroupProtocol::Consumer,
                _ => {
                    return Err(Error::config(
                        "group.protocol",
                        format!("`{raw}` is not classic or consumer"),
                    ))
                }
            };
        }
        self.group_remote_assignor = parser
            .take("group.remote.assignor")
            .filter(|a| !a.is_empty());
        if self.group_protocol == GroupProtocol::Consumer {
            // Refused when present at all, even with the default value,
            // as Java's consumer does.
            for property in CLASSIC_ONLY {
                if parser.take(property).is_some() {
                    return Err(classic_only_error(property));
                }
            }
        }
        if let Some(raw) = parser.take("auto.offset.reset") {
            self.auto_offset_reset = match raw.to_ascii_lowercase().as_str() {
                "earliest" => OffsetReset::Earliest,
                "latest" => OffsetReset::Latest,
                "none" => OffsetReset::None,
                _ => {
                    return Err(Error::config(
                        "auto.offset.reset",
                        format!("`{raw}` is not earliest, latest or none"),
                    ))
                }
            };
        }
        if let Some(value) = parser.take_bool("enable.auto.commit")? {
            self.enable_auto_commit = value;
        }
        let millis: [(&str, &mut Duration); 5] = [
            ("auto.commit.interval.ms", &mut self.auto_commit_interval),
            ("session.timeout.ms", &mut self.session_timeout),
            ("heartbeat.interval.ms", &mut self.heartbeat_interval),
            ("max.poll.interval.ms", &mut self.max_poll_interval),
            ("fetch.max.wait.ms", &mut self.fetch_max_wait),
        ];
        for (name, slot) in millis {
            if let Some(value) = parser.take_millis(name)? {
                *slot = value;
            }
        }
        if let Some(names) = parser.take_list("partition.assignment.strategy") {
            self.assignors = names
                .iter()
                .map(|name| {
                    assignor_by_name(name).ok_or_else(|| {
                        Error::config(
                            "partition.assignment.strategy",
                            format!("unknown assignor `{name}`; use range, roundrobin or cooperative-sticky"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(raw) = parser.take("isolation.level") {
            self.isolation_level = match raw.to_ascii_lowercase().as_str() {
                "read_uncommitted" => IsolationLevel::ReadUncommitted,
                "read_committed" => IsolationLevel::ReadCommitted,
                _ => {
                    return Err(Error::config(
                        "isolation.level",
                        format!("`{raw}` is not read_uncommitted or read_committed"),
                    ))
                }
            };
        }
        let bytes: [(&str, &mut i32); 3] = [
            ("fetch.min.bytes", &mut self.fetch_min_bytes),
            ("fetch.max.bytes", &mut self.fetch_max_bytes),
            (
                "max.partition.fetch.bytes",
                &mut self.max_partition_fetch_bytes,
            ),
        ];
        for (name, slot) in bytes {
            if let Some(value) = parser.take_parsed::<i32>(name, "a byte count")? {
                *slot = value;
            }
        }
        if let Some(value) = parser.take_parsed::<usize>("max.poll.records", "a record count")? {
            self.max_poll_records = value;
        }
        self.client_rack = parser.take("client.rack").filter(|r| !r.is_empty());
        if let Some(value) = parser.take_bool("durian.fetch.sessions")? {
            self.fetch_sessions = value;
        }
        if let Some(value) =
            parser.take_parsed::<usize>("durian.fetch.buffer.bytes", "a byte count")?
        {
            self.fetch_buffer_bytes = value;
        }
        if let Some(value) = parser
            .take_parsed::<usize>("durian.fetch.max.in.flight.per.broker", "a request count")?
        {
            self.fetch_max_in_flight = value;
        }
        Ok(())
    }

    /// Checks the settings for values that cannot work together.
    pub fn validate(&self) -> Result<(), Error> {
        self.client.validate()?;
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return Err(Error::config(
                "heartbeat.interval.ms",
                "must be greater than 0 and below session.timeout.ms",
            ));
        }
        if self.max_poll_interval.is_zero() {
            return Err(Error::config(
                "max.poll.interval.ms",
                "must be greater than 0",
            ));
        }
        if self.enable_auto_commit && self.auto_commit_interval.is_zero() {
            return Err(Error::config(
                "auto.commit.interval.ms",
                "must be greater than 0",
            ));
        }
        if self.assignors.is_empty() {
            return Err(Error::config(
                "partition.assignment.strategy",
                "name at least one assignor",
            ));
        }
        if self.fetch_min_bytes < 0 {
            return Err(Error::config("fetch.min.bytes", "must not be negative"));
        }
        if self.fetch_max_bytes <= 0 || self.max_partition_fetch_bytes <= 0 {
            return Err(Error::config(
                "fetch.max.bytes",
                "fetch.max.bytes and max.partition.fetch.bytes must be greater than 0",
            ));
        }
        if !(1..=MAX_FETCHES_IN_FLIGHT).contains(&self.fetch_max_in_flight) {
            return Err(Error::config(
                "durian.fetch.max.in.flight.per.broker",
                format!("must be 1 to {MAX_FETCHES_IN_FLIGHT}"),
            ));
        }
        if self.max_poll_records == 0 {
            return Err(Error::config("max.poll.records", "must be greater than 0"));
        }
        if self.group_protocol == GroupProtocol::Consumer {
            self.validate_consumer_protocol()?;
        } else if self.group_remote_assignor.is_some() {
            return Err(Error::config(
                "group.remote.assignor",
                "only used with group.protocol=consumer",
            ));
        }
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(Error::config("group.instance.id", "needs group.id"));
        }
        Ok(())
    }

    /// The typed builder cannot tell a setting left alone from one set
    /// to its default, so a classic-only setting that differs from its
    /// default is what is refused here.
    fn validate_consumer_protocol(&self) -> Result<(), Error> {
        let defaults = ConsumerConfig::new(ClientConfig::default());
        let names = |list: &[Arc<dyn Assignor>]| -> Vec<String> {
            list.iter().map(|a| a.name().to_owned()).collect()
        };
        if names(&self.assignors) != names(&defaults.assignors) {
            return Err(classic_only_error(CLASSIC_ONLY[0]));
        }
        if self.session_timeout != defaults.session_timeout {
            return Err(classic_only_error(CLASSIC_ONLY[1]));
        }
        if self.heartbeat_interval != defaults.heartbeat_interval {
            return Err(classic_only_error(CLASSIC_ONLY[2]));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("bootstrap.servers", "h:1")]
    }

    #[test]
    fn every_property_parses_and_is_documented() {
        let doc = include_str!("../../docs/CONSUMER.md");
        for property in CONSUMER_PROPERTIES {
            let row = format!("| `{}` |", property.name);
            assert!(
                doc.contains(&row),
                "docs/CONSUMER.md lacks {}",
                property.name
            );
            if !property.default.is_empty() {
                let mut props = base();
                props.push((property.name, property.default));
                let config = ConsumerConfig::from_properties(props).unwrap();
                let default = ConsumerConfig::from_properties(base()).unwrap();
                assert_eq!(
                    format!("{config:?}"),
                    format!("{default:?}"),
                    "{}",
                    property.name
                );
                assert!(
                    doc.contains(&format!("| `{}` | `{}` |", property.name, property.default)),
                    "{}",
                    property.name
                );
            }
        }
    }

    #[test]
    fn values_are_read_and_checked() {
        let mut props = base();
        props.extend([
            ("group.id", "g"),
            ("group.instance.id", "i"),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1000"),
            (
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin",
            ),
            ("isolation.level", "read_committed"),
            ("max.poll.records", "7"),
            ("client.id", "me"),
            ("durian.fetch.sessions", "false"),
            ("durian.fetch.buffer.bytes", "0"),
            ("durian.fetch.max.in.flight.per.broker", "3"),
        ]);
        let config = ConsumerConfig::from_properties(props).unwrap();
        assert_eq!(config.group_instance_id.as_deref(), Some("i"));
        assert_eq!(config.auto_offset_reset, OffsetReset::Earliest);
        assert!(!config.enable_auto_commit);
        let names: Vec<&str> = config.assignors.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["cooperative-sticky", "roundrobin"]);
        assert_eq!(config.isolation_level, IsolationLevel::ReadCommitted);
        assert_eq!(config.max_poll_records, 7);
        assert_eq!(config.client.client_id, "me");
        assert!(!config.fetch_sessions);
        assert_eq!(config.fetch_buffer_bytes, 0);
        assert_eq!(config.fetch_max_in_flight, 3);

        for (name, value) in [
            ("auto.offset.reset", "smallest"),
            ("heartbeat.interval.ms", "60000"),
            ("partition.assignment.strategy", "sticky"),
            ("max.poll.records", "0"),
            ("linger.ms", "5"),
            ("group.protocol", "streams"),
            ("group.remote.assignor", "uniform"),
            ("durian.fetch.max.in.flight.per.broker", "0"),
            ("durian.fetch.max.in.flight.per.broker", "9"),
        ] {
            let mut props = base();
            props.push((name, value));
            let err = ConsumerConfig::from_properties(props).unwrap_err();
            assert!(
                matches!(&err, Error::Config { property, .. } if property == name),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn the_consumer_protocol_refuses_classic_only_settings() {
        let mut props = base();
        props.extend([
            ("group.id", "g"),
            ("group.protocol", "Consumer"),
            ("group.remote.assignor", "range"),
        ]);
        let config = ConsumerConfig::from_properties(props).unwrap();
        assert_eq!(config.group_protocol, GroupProtocol::Consumer);
        assert_eq!(config.group_remote_assignor.as_deref(), Some("range"));
        for name in CLASSIC_ONLY {
            let value = if name == "partition.assignment.strategy" {
                "range,cooperative-sticky"
            } else {
                "3000"
            };
            let mut props = base();
            props.extend([("group.protocol", "consumer"), (name, value)]);
            let err = ConsumerConfig::from_properties(props).unwrap_err();
            assert!(
                matches!(&err, Error::Config { property, reason } if property == name && reason.contains("group.protocol=consumer")),
                "{name}: {err}"
            );
        }
        let mut typed = ConsumerConfig::new(ClientConfig::default());
        typed.client.bootstrap_servers = vec!["h:1".into()];
        typed.group_protocol = GroupProtocol::Consumer;
        typed.validate().unwrap();
        typed.session_timeout = Duration::from_secs(10);
        let err = typed.validate().unwrap_err();
        assert!(
            matches!(&err, Error::Config { property, .. } if property == "session.timeout.ms"),
            "{err}"
        );
    }
}
