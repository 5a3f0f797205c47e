//! Broker settings by Kafka's `server.properties` names.
//!
//! `durian broker --config FILE --set KEY=VALUE` and
//! [`crate::BrokerBuilder::properties`] read settings the way a Kafka
//! operator writes them: `log.retention.hours=24`,
//! `socket.request.max.bytes=...`. Kafka's own names are used where Kafka
//! has the setting; limits only durian has are named `durian.*`. An
//! unknown name is an error that lists the known ones, never ignored: a
//! misspelt limit silently left at its default is how brokers fall over.

use std::path::Path;
use std::time::Duration;

use crate::config::BrokerConfig;
use crate::group::GroupConfig;
use crate::txn::TxnConfig;
use crate::BrokerError;

/// One setting `durian broker` accepts by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerProperty {
    /// The property name, Kafka's where Kafka has it.
    pub name: &'static str,
    /// Its default, as it would be written in a properties file.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

const fn property(name: &'static str, default: &'static str, doc: &'static str) -> ServerProperty {
    ServerProperty { name, default, doc }
}

/// Every broker property durian knows, in the order docs/BROKER.md lists them.
pub const SERVER_PROPERTIES: &[ServerProperty] = &[
    property("node.id", "0", "This broker's node id."),
    property("num.partitions", "1", "Partitions of auto-created topics and of CreateTopics with -1."),
    property("auto.create.topics.enable", "true", "Create unknown topics on Metadata and Produce."),
    property("socket.request.max.bytes", "104857600", "Largest accepted request frame."),
    property("queued.max.request.bytes", "536870912", "Request bytes read but not yet processed, over all connections."),
    property("max.connections", "1000", "Most concurrent client connections."),
    property("max.connections.per.ip", "500", "Most concurrent connections from one IP address (Kafka's default is unlimited)."),
    property("connections.max.idle.ms", "600000", "Close connections that send nothing for this long."),
    property("log.retention.check.interval.ms", "300000", "How often retention is enforced."),
    property("log.segment.bytes", "1073741824", "Default `segment.bytes` of topics."),
    property("log.roll.ms", "604800000", "Default `segment.ms` of topics (also `log.roll.hours`)."),
    property("log.retention.ms", "604800000", "Default `retention.ms` of topics, -1 keeps forever (also `log.retention.minutes`, `log.retention.hours`)."),
    property("log.retention.bytes", "-1", "Default `retention.bytes` of topics, -1 is unbounded."),
    property("log.index.interval.bytes", "4096", "Default `index.interval.bytes` of topics."),
    property("log.index.size.max.bytes", "10485760", "Default `segment.index.bytes` of topics."),
    property("message.max.bytes", "1048588", "Default `max.message.bytes` of topics."),
    property("log.message.timestamp.type", "CreateTime", "Default `message.timestamp.type` of topics."),
    property("log.flush.interval.messages", "9223372036854775807", "Default `flush.messages` of topics (1 fsyncs every append)."),
    property("log.flush.interval.ms", "9223372036854775807", "Default `flush.ms` of topics."),
    property("producer.id.expiration.ms", "86400000", "Forget an idempotent producer this long after its last append."),
    property("group.initial.rebalance.delay.ms", "200", "How long a new group waits for more members before its first rebalance (Kafka's default is 3000)."),
    property("group.min.session.timeout.ms", "6000", "Smallest session timeout a member may ask for."),
    property("group.max.session.timeout.ms", "1800000", "Largest session timeout a member may ask for."),
    property("group.coordinator.rebalance.protocols", "classic,consumer", "Group protocols served: `classic` (always) and `consumer` (KIP-848: ConsumerGroupHeartbeat and ConsumerGroupDescribe, advertised only when listed)."),
    property("group.consumer.heartbeat.interval.ms", "5000", "How often consumer-protocol members are told to heartbeat."),
    property("group.consumer.session.timeout.ms", "45000", "A consumer-protocol member that has not heartbeat for this long is removed."),
    property("group.consumer.max.size", "2147483647", "Most members of one consumer-protocol group (GROUP_MAX_SIZE_REACHED beyond)."),
    property("offsets.retention.minutes", "10080", "Committed offsets of a group without members are removed this long after it emptied."),
    property("offsets.retention.check.interval.ms", "600000", "How often expired offsets are removed."),
    property("offset.metadata.max.bytes", "4096", "Longest metadata string of a committed offset."),
    property("transaction.max.timeout.ms", "900000", "Longest `transaction.timeout.ms` a transactional producer may ask for."),
    property("transactional.id.expiration.ms", "604800000", "A transactional id without an open transaction is forgotten this long after its last use."),
    property("transaction.abort.timed.out.transaction.cleanup.interval.ms", "10000", "How often timed-out transactions are aborted."),
    property("max.incremental.fetch.session.cache.slots", "1000", "Most fetch sessions (KIP-227) held at once; 0 answers every fetch in full."),
    property("durian.shutdown.grace.ms", "5000", "How long shutdown waits for in-flight requests."),
    property("durian.max.decompressed.batch.bytes", "67108864", "Most bytes one produced batch may decompress to while its records are checked."),
    property("durian.decompression.budget.bytes", "268435456", "Decompression memory shared by all requests being checked at once."),
    property("durian.decompression.wait.ms", "5000", "How long a compressed batch waits for decompression budget before a retriable refusal."),
    property("durian.request.body.timeout.ms", "30000", "Once a request's length has arrived, the rest must arrive within this long."),
    property("durian.response.write.timeout.ms", "30000", "A response not written within this long closes the connection."),
    property("durian.queued.max.response.bytes", "536870912", "Response bytes built but not yet written, over all connections (responses over 64 KiB; smaller ones never wait)."),
    property("durian.max.auto.create.topics.per.request", "100", "Most topics one request may auto-create."),
    property("durian.max.auto.created.topics", "10000", "Auto-creation stops once the catalog holds this many topics."),
];

/// Kafka names that set a log default, and the topic name they set.
const LOG_DEFAULTS: &[(&str, &str)] = &[
    ("log.segment.bytes", "segment.bytes"),
    ("log.roll.ms", "segment.ms"),
    ("log.retention.ms", "retention.ms"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.index.interval.bytes", "index.interval.bytes"),
    ("log.index.size.max.bytes", "segment.index.bytes"),
    ("message.max.bytes", "max.message.bytes"),
    ("log.message.timestamp.type", "message.timestamp.type"),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
];

impl BrokerConfig {
    /// Applies one setting by its `server.properties` name
    /// ([`SERVER_PROPERTIES`]); an unknown name or a value that does not
    /// parse is a [`BrokerError::Config`] naming both. The group and
    /// transaction coordinators' settings (`group.*`, `offsets.*`,
    /// `offset.metadata.max.bytes`, `transaction*`) live outside
    /// `BrokerConfig`: [`crate::BrokerBuilder::properties`] takes those too.
    ///
    /// ```
    /// use durian_broker::BrokerConfig;
    ///
    /// let mut config = BrokerConfig::new("/tmp/data".into());
    /// config.set_property("log.retention.hours", "24").unwrap();
    /// assert_eq!(config.log_config.retention_ms, Some(24 * 3_600_000));
    /// assert!(config.set_property("max.conections", "10").is_err());
    /// ```
    pub fn set_property(&mut self, name: &str, value: &str) -> Result<(), BrokerError> {
        let value = value.trim();
        if let Some((_, topic_name)) = LOG_DEFAULTS.iter().find(|(kafka, _)| *kafka == name) {
            return self
                .log_config
                .set(topic_name, value)
                .map_err(|e| BrokerError::Config(format!("{name}: {e}")));
        }
        match name {
            "node.id" => self.node_id = number(name, value)?,
            "num.partitions" => {
                self.default_partitions = number(name, value)?;
                if self.default_partitions < 1 {
                    return Err(invalid(name, value, "at least 1"));
                }
            }
            "auto.create.topics.enable" => self.auto_create_topics = boolean(name, value)?,
            "socket.request.max.bytes" => self.socket_request_max_bytes = positive(name, value)?,
            "queued.max.request.bytes" => self.queued_max_request_bytes = positive(name, value)?,
            "max.connections" => self.max_connections = positive(name, value)?,
            "max.connections.per.ip" => self.max_connections_per_ip = positive(name, value)?,
            "connections.max.idle.ms" => self.connections_max_idle = millis(name, value)?,
            "log.retention.check.interval.ms" => {
                self.retention_check_interval = millis(name, value)?
            }
            "log.roll.hours" => self.log_config.segment_ms = hours(name, value)?,
            "log.retention.hours" | "log.retention.minutes" => {
                let amount: i64 = number(name, value)?;
                let unit = if name.ends_with("hours") {
                    3_600_000
                } else {
                    60_000
                };
                self.log_config.retention_ms = if amount < 0 {
                    None
                } else {
                    Some(
                        amount
                            .checked_mul(unit)
                            .ok_or_else(|| invalid(name, value, "smaller"))?,
                    )
                };
            }
            "producer.id.expiration.ms" => {
                self.log_config.producer_id_expiration_ms = number(name, value)?;
                if self.log_config.producer_id_expiration_ms < 1 {
                    return Err(invalid(name, value, "at least 1"));
                }
            }
            "max.incremental.fetch.session.cache.slots" => {
                self.fetch_session_cache_slots = number(name, value)?
            }
            "durian.shutdown.grace.ms" => self.shutdown_grace = millis(name, value)?,
            "durian.max.decompressed.batch.bytes" => {
                self.max_decompressed_batch_bytes = positive(name, value)?
            }
            "durian.decompression.budget.bytes" => {
                self.decompression_budget_bytes = positive(name, value)?
            }
            "durian.decompression.wait.ms" => self.decompression_wait = millis(name, value)?,
            "durian.request.body.timeout.ms" => self.request_body_timeout = millis(name, value)?,
            "durian.response.write.timeout.ms" => {
                self.response_write_timeout = millis(name, value)?
            }
            "durian.queued.max.response.bytes" => {
                self.queued_max_response_bytes = positive(name, value)?
            }
            "durian.max.auto.create.topics.per.request" => {
                self.max_auto_create_topics_per_request = number(name, value)?
            }
            "durian.max.auto.created.topics" => self.max_auto_created_topics = number(name, value)?,
            _ if set_group_property(&mut GroupConfig::default(), name, value).is_some()
                || set_txn_property(&mut TxnConfig::default(), name, value).is_some() =>
            {
                return Err(BrokerError::Config(format!(
                    "`{name}` is a setting of the group or transaction coordinator, not of \
                     BrokerConfig: give it to BrokerBuilder::properties (or `durian broker --set`)"
                )));
            }
            _ => {
                let known: Vec<&str> = SERVER_PROPERTIES.iter().map(|p| p.name).collect();
                return Err(BrokerError::Config(format!(
                    "unknown broker property `{name}`; durian knows {} (also log.roll.hours, \
                     log.retention.minutes, log.retention.hours)",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Applies `name` to the group coordinator's settings if it is one of
/// theirs; `None` when the name belongs elsewhere.
pub(crate) fn set_group_property(
    config: &mut GroupConfig,
    name: &str,
    value: &str,
) -> Option<Result<(), BrokerError>> {
    let value = value.trim();
    let set = |field: &mut Duration, amount: Result<Duration, BrokerError>| {
        amount.map(|amount| *field = amount)
    };
    Some(match name {
        "group.initial.rebalance.delay.ms" => {
            set(&mut config.initial_rebalance_delay, millis(name, value))
        }
        "group.min.session.timeout.ms" => set(&mut config.min_session_timeout, millis(name, value)),
        "group.max.session.timeout.ms" => set(&mut config.max_session_timeout, millis(name, value)),
        "offsets.retention.minutes" => positive(name, value)
            .map(|minutes| config.offsets_retention = Duration::from_secs(minutes as u64 * 60)),
        "offsets.retention.check.interval.ms" => positive(name, value)
            .map(|ms| config.offsets_retention_check_interval = Duration::from_millis(ms as u64)),
        "offset.metadata.max.bytes" => {
            number(name, value).map(|bytes| config.offset_metadata_max_bytes = bytes)
        }
        "group.coordinator.rebalance.protocols" => {
            rebalance_protocols(name, value).map(|consumer| config.consumer_protocol = consumer)
        }
        "group.consumer.heartbeat.interval.ms" => {
            set(&mut config.consumer_heartbeat_interval, millis(name, value))
        }
        "group.consumer.session.timeout.ms" => {
            set(&mut config.consumer_session_timeout, millis(name, value))
        }
        "group.consumer.max.size" => {
            positive(name, value).map(|size| config.consumer_max_size = size)
        }
        _ => return None,
    })
}

/// Applies `name` to the transaction coordinator's settings if it is one
/// of theirs; `None` when the name belongs elsewhere.
pub(crate) fn set_txn_property(
    config: &mut TxnConfig,
    name: &str,
    value: &str,
) -> Option<Result<(), BrokerError>> {
    let value = value.trim();
    let duration = |ms: Result<usize, BrokerError>| ms.map(|ms| Duration::from_millis(ms as u64));
    Some(match name {
        "transaction.max.timeout.ms" => {
            duration(positive(name, value)).map(|d| config.max_timeout = d)
        }
        "transactional.id.expiration.ms" => {
            duration(positive(name, value)).map(|d| config.id_expiration = d)
        }
        "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
            duration(positive(name, value)).map(|d| config.abort_check_interval = d)
        }
        _ => return None,
    })
}

/// Reads a `server.properties` file: `key=value` (or `key: value`) lines,
/// `#` and `!` comments, blank lines skipped. Returns the pairs in file
/// order (a later line wins when applied), or an error naming the line.
pub fn read_server_properties(path: &Path) -> Result<Vec<(String, String)>, BrokerError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BrokerError::Config(format!("cannot read {}: {e}", path.display())))?;
    parse_server_properties(&text)
        .map_err(|e| BrokerError::Config(format!("{}: {e}", path.display())))
}

/// [`read_server_properties`] of text already read.
pub fn parse_server_properties(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some(split) = line.find(['=', ':']) else {
            return Err(format!(
                "line {}: expected key=value, found {line:?}",
                index + 1
            ));
        };
        let (key, value) = (line[..split].trim(), line[split + 1..].trim());
        if key.is_empty() {
            return Err(format!("line {}: a setting without a name", index + 1));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// Parses `group.coordinator.rebalance.protocols`: whether `consumer` is listed. `classic`
/// must be (as in Kafka); `share` and `streams` are not served here.
fn rebalance_protocols(name: &str, value: &str) -> Result<bool, BrokerError> {
    let listed: Vec<&str> = value.split(',').map(str::trim).collect();
    if listed.iter().any(|p| !matches!(*p, "classic" | "consumer")) {
        return Err(invalid(name, value, "a list of `classic` and `consumer`"));
    }
    if !listed.contains(&"classic") {
        return Err(invalid(name, value, "a list that includes `classic`"));
    }
    Ok(listed.contains(&"consumer"))
}

fn invalid(name: &str, value: &str, expected: &str) -> BrokerError {
    BrokerError::Config(format!("{name} = {value:?}: expected {expected}"))
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, BrokerError> {
    value.parse().map_err(|_| invalid(name, value, "a number"))
}

fn positive(name: &str, value: &str) -> Result<usize, BrokerError> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(name, value, "a positive number")),
    }
}

fn millis(name: &str, value: &str) -> Result<Duration, BrokerError> {
    value
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| invalid(name, value, "milliseconds (a non-negative number)"))
}

fn hours(name: &str, value: &str) -> Result<i64, BrokerError> {
    match value.parse::<i64>() {
        Ok(h) if h > 0 => h
            .checked_mul(3_600_000)
            .ok_or_else(|| invalid(name, value, "fewer hours")),
        _ => Err(invalid(name, value, "a positive number of hours")),
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, BrokerError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, value, "true or false")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> BrokerConfig {
        BrokerConfig::new("/nonexistent".into())
    }

    #[test]
    fn every_listed_property_is_accepted_at_its_default() {
        let mut config = config();
        let mut groups = GroupConfig::default();
        let mut txns = TxnConfig::default();
        for property in SERVER_PROPERTIES {
            let (name, value) = (property.name, property.default);
            set_group_property(&mut groups, name, value)
                .or_else(|| set_txn_property(&mut txns, name, value))
                .unwrap_or_else(|| config.set_property(name, value))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(
            groups.min_session_timeout,
            GroupConfig::default().min_session_timeout
        );
        assert_eq!(
            groups.offsets_retention,
            GroupConfig::default().offsets_retention
        );
        assert_eq!(txns.max_timeout, TxnConfig::default().max_timeout);
        assert_eq!(txns.id_expiration, TxnConfig::default().id_expiration);
        assert_eq!(
            txns.abort_check_interval,
            TxnConfig::default().abort_check_interval
        );
        // The defaults written in the table are the built-in ones.
        let fresh = BrokerConfig::new("/nonexistent".into());
        assert_eq!(config.log_config, fresh.log_config);
        assert_eq!(
            config.socket_request_max_bytes,
            fresh.socket_request_max_bytes
        );
        assert_eq!(config.max_connections_per_ip, fresh.max_connections_per_ip);
        assert_eq!(config.decompression_wait, fresh.decompression_wait);
        assert_eq!(
            config.max_auto_created_topics,
            fresh.max_auto_created_topics
        );
        assert_eq!(
            config.fetch_session_cache_slots,
            fresh.fetch_session_cache_slots
        );
    }

    #[test]
    fn kafka_names_reach_the_settings() {
        let mut config = config();
        for (name, value) in [
            ("max.connections", "7"),
            ("max.connections.per.ip", "3"),
            ("socket.request.max.bytes", "2097152"),
            ("connections.max.idle.ms", "1500"),
            ("log.retention.minutes", "90"),
            ("log.segment.bytes", "2097152"),
            ("log.flush.interval.messages", "1"),
            ("durian.request.body.timeout.ms", "2500"),
            ("auto.create.topics.enable", "false"),
        ] {
            config.set_property(name, value).unwrap();
        }
        assert_eq!(config.max_connections, 7);
        assert_eq!(config.max_connections_per_ip, 3);
        assert_eq!(config.socket_request_max_bytes, 2 << 20);
        assert_eq!(config.connections_max_idle, Duration::from_millis(1500));
        assert_eq!(config.log_config.retention_ms, Some(90 * 60_000));
        assert_eq!(config.log_config.segment_bytes, 2 << 20);
        assert_eq!(config.log_config.flush, crate::FlushPolicy::Always);
        assert_eq!(config.request_body_timeout, Duration::from_millis(2500));
        assert!(!config.auto_create_topics);
        config.set_property("log.retention.hours", "-1").unwrap();
        assert_eq!(config.log_config.retention_ms, None);
    }

    #[test]
    fn bad_names_and_values_are_errors_that_say_which() {
        let mut config = config();
        let unknown = config.set_property("max.conections", "10").unwrap_err();
        assert!(unknown.to_string().contains("max.conections"), "{unknown}");
        assert!(unknown.to_string().contains("max.connections"), "{unknown}");
        for (name, value) in [
            ("max.connections", "0"),
            ("max.connections", "many"),
            ("num.partitions", "0"),
            ("auto.create.topics.enable", "yes"),
            ("log.segment.bytes", "10"),
            ("log.roll.hours", "0"),
            ("connections.max.idle.ms", "-5"),
        ] {
            let error = config.set_property(name, value).unwrap_err();
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
    }

    #[test]
    fn properties_files_parse_with_comments_and_both_separators() {
        let pairs = parse_server_properties(
            "# a comment\n! another\n\nmax.connections=10\nlog.retention.hours : 5\n",
        )
        .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("max.connections".to_string(), "10".to_string()),
                ("log.retention.hours".to_string(), "5".to_string()),
            ]
        );
        let error = parse_server_properties("max.connections 10\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }
}
