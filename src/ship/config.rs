//! Settings of the shipper, and how client properties are split between
//! the producer that ships and the consumer that recovers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use durian_producer::{Acks, ProducerConfig};

use super::error::ShipError;

/// Default [`ShipConfig::poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Default [`ShipConfig::checkpoint_interval`].
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Default [`ShipConfig::max_line_bytes`].
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 * 1024;
/// Default [`ShipConfig::recovery_timeout`].
pub const DEFAULT_RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Suffix of the default checkpoint file, appended to the followed path.
pub const CHECKPOINT_SUFFIX: &str = ".durian-ship";

/// The agent's default `batch.size`: 256 KiB rather than the producer
/// library's 1,000,000. Lines of a source share one partition and at most
/// 10 000 of them (about 2 MB) are unacknowledged, so smaller batches keep
/// more requests in flight (see `split_properties`).
pub const DEFAULT_BATCH_SIZE: usize = 256 * 1024;

/// Room left in `max.request.size` for the batch and record overhead,
/// key and headers of a line record.
const RECORD_OVERHEAD: usize = 512;

/// What to ship where.
///
/// ```
/// use std::time::Duration;
/// use durian::ship::ShipConfig;
///
/// let config = ShipConfig::new("/var/log/nginx/access.log", "web_log")
///     .property("bootstrap.servers", "localhost:9092")
///     .property("compression.type", "lz4")
///     .checkpoint_interval(Duration::from_secs(5));
/// assert_eq!(
///     config.checkpoint.to_str(),
///     Some("/var/log/nginx/access.log.durian-ship")
/// );
/// ```
#[derive(Clone, Debug)]
pub struct ShipConfig {
    /// The file to follow.
    pub file: PathBuf,
    /// The topic to ship to (it must exist).
    pub topic: String,
    /// The checkpoint file (default: `file` + `.durian-ship`).
    pub checkpoint: PathBuf,
    /// The source name: the record key, and what tells this shipper's
    /// records from others in the partition (default: `file` as given).
    /// One shipper per source at a time.
    pub source: String,
    /// How often the end of the file is checked for new bytes, rotation
    /// and truncation (default 250 ms).
    pub poll_interval: Duration,
    /// How often the checkpoint is written (default 1 s; also on shutdown).
    pub checkpoint_interval: Duration,
    /// Longest line shipped as one record; longer lines are cut into
    /// pieces of this size (default 256 KiB).
    pub max_line_bytes: usize,
    /// How long recovery may read the partition without progress (default 60 s).
    pub recovery_timeout: Duration,
    /// Client, producer and consumer properties by their Kafka names
    /// (`bootstrap.servers`, `linger.ms`, `fetch.max.bytes`, ...).
    /// `partitioner*` properties are refused: the shipper picks the
    /// partition (one per source).
    pub properties: Vec<(String, String)>,
}

impl ShipConfig {
    /// Ships `file` to `topic` with the defaults.
    pub fn new(file: impl Into<PathBuf>, topic: impl Into<String>) -> ShipConfig {
        let file = file.into();
        ShipConfig {
            checkpoint: default_checkpoint(&file),
            source: file.to_string_lossy().into_owned(),
            file,
            topic: topic.into(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            recovery_timeout: DEFAULT_RECOVERY_TIMEOUT,
            properties: Vec::new(),
        }
    }

    /// Sets a client, producer or consumer property (a later value for
    /// the same key wins).
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.properties.retain(|(k, _)| *k != key);
        self.properties.push((key, value.into()));
        self
    }

    /// Sets several properties, as [`property`](Self::property) does.
    pub fn properties<I, K, V>(self, properties: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        properties
            .into_iter()
            .fold(self, |config, (k, v)| config.property(k, v))
    }

    /// Ships in transactions under `id` (sets `transactional.id`; see
    /// docs/SHIP.md, "Transactional mode"): the agent fences its previous
    /// incarnation at start, recovers with a read_committed scan and
    /// commits a transaction every checkpoint interval, so a produce
    /// request a killed agent left in flight cannot duplicate a line for
    /// read_committed readers. One id per checkpoint.
    pub fn transactional_id(self, id: impl Into<String>) -> Self {
        self.property("transactional.id", id)
    }

    /// Sets `bootstrap.servers`.
    pub fn bootstrap_servers(self, servers: impl Into<String>) -> Self {
        self.property("bootstrap.servers", servers)
    }

    /// Sets the checkpoint file.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = path.into();
        self
    }

    /// Sets the source name.
    pub fn source(mut self, name: impl Into<String>) -> Self {
        self.source = name.into();
        self
    }

    /// Sets the poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the checkpoint interval.
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.checkpoint_interval = interval;
        self
    }

    /// Sets the longest line shipped whole.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Checks the settings and splits the properties into the producer's
    /// config and the consumer's property list.
    pub(crate) fn split_properties(
        &self,
    ) -> Result<(ProducerConfig, Vec<(String, String)>), ShipError> {
        if self.topic.is_empty() {
            return Err(ShipError::Config("the topic name is empty".into()));
        }
        if self.source.is_empty() || self.source.contains(['\n', '\r']) {
            return Err(ShipError::Config(
                "the source name must be one non-empty line".into(),
            ));
        }
        if self.max_line_bytes == 0 || self.poll_interval.is_zero() {
            return Err(ShipError::Config(
                "max_line_bytes and poll_interval must be positive".into(),
            ));
        }
        let is = |list: &[durian_core::config::PropertyDoc], key: &str| {
            list.iter().any(|doc| doc.name == key)
        };
        let mut producer = Vec::new();
        // Every line of a source goes to one partition, so one batch is
        // open at a time; 256 KiB saves a Produce request (and its
        // wake-ups) per 16 KiB of lines, while 1 MB batches would leave
        // only two requests' worth in the 10 000 unacknowledged lines. A
        // `batch.size` among the properties wins.
        if !self
            .properties
            .iter()
            .any(|(key, _)| key.trim() == "batch.size")
        {
            producer.push(("batch.size".to_owned(), DEFAULT_BATCH_SIZE.to_string()));
        }
        // `none`: a scan position deleted under recovery must be an error,
        // not a silent jump to the log start past lines it has to see.
        let mut consumer = vec![
            ("auto.offset.reset".to_owned(), "none".to_owned()),
            ("enable.auto.commit".to_owned(), "false".to_owned()),
        ];
        for (key, value) in &self.properties {
            if key.starts_with("partitioner") {
                return Err(ShipError::Config(format!(
                    "`{key}` cannot be set: the agent puts every line of a source in one \
                     partition (murmur2 of the source name), which file order and exactly-once \
                     recovery rely on; to spread lines over partitions, ship several files or \
                     give agents different source names"
                )));
            }
            let client = is(durian_core::config::CLIENT_PROPERTIES, key);
            let for_producer = client || is(durian_producer::PRODUCER_PROPERTIES, key);
            let for_consumer = client || is(durian_consumer::CONSUMER_PROPERTIES, key);
            if !for_producer && !for_consumer {
                return Err(ShipError::Config(format!(
                    "unknown property `{key}` (neither a client, producer nor consumer property)"
                )));
            }
            if for_producer {
                producer.push((key.clone(), value.clone()));
            }
            if for_consumer && key != "auto.offset.reset" && key != "enable.auto.commit" {
                consumer.push((key.clone(), value.clone()));
            }
        }
        let producer = ProducerConfig::from_properties(producer)
            .map_err(|e| ShipError::Config(e.to_string()))?;
        if producer.transactional_id.is_some() {
            // Lines of an aborted transaction (a killed agent's) are sent
            // again by the restart: the scan must not count them.
            consumer.retain(|(key, _)| key != "isolation.level");
            consumer.push(("isolation.level".to_owned(), "read_committed".to_owned()));
        }
        if !producer.enable_idempotence || producer.acks != Acks::All {
            return Err(ShipError::Config(
                "shipping exactly once needs the idempotent producer: \
                 keep enable.idempotence=true and acks=all"
                    .into(),
            ));
        }
        let room = producer
            .max_request_size
            .saturating_sub(RECORD_OVERHEAD + self.source.len());
        if self.max_line_bytes > room {
            return Err(ShipError::Config(format!(
                "max_line_bytes ({}) does not fit in max.request.size ({}) with the record's \
                 key and headers; lower it or raise max.request.size",
                self.max_line_bytes, producer.max_request_size
            )));
        }
        Ok((producer, consumer))
    }
}

fn default_checkpoint(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(CHECKPOINT_SUFFIX);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn properties_go_to_the_client_that_knows_them() {
        let config = ShipConfig::new("a.log", "t").properties([
            ("bootstrap.servers", "h:1"),
            ("linger.ms", "20"),
            ("fetch.max.bytes", "1000000"),
            ("auto.offset.reset", "latest"),
        ]);
        let (producer, consumer) = config.split_properties().unwrap();
        assert_eq!(producer.linger, Duration::from_millis(20));
        assert!(consumer.contains(&("fetch.max.bytes".into(), "1000000".into())));
        assert!(consumer.contains(&("bootstrap.servers".into(), "h:1".into())));
        assert!(!consumer.iter().any(|(k, _)| k == "linger.ms"));
        // Recovery must read from the checkpoint offset, or fail: never
        // jump to another offset.
        assert!(consumer.contains(&("auto.offset.reset".into(), "none".into())));
        assert!(!consumer.contains(&("auto.offset.reset".into(), "latest".into())));
        assert!(!consumer.contains(&("auto.offset.reset".into(), "earliest".into())));
    }

    #[test]
    fn batches_are_large_unless_batch_size_is_given() {
        let config = ShipConfig::new("a.log", "t").bootstrap_servers("h:1");
        let (producer, _) = config.split_properties().unwrap();
        assert_eq!(producer.batch_size, DEFAULT_BATCH_SIZE);
        let config = config.properties([("batch.size", "16384")]);
        let (producer, _) = config.split_properties().unwrap();
        assert_eq!(producer.batch_size, 16384);
    }

    #[test]
    fn settings_that_break_exactly_once_are_refused() {
        let base = ShipConfig::new("a.log", "t").bootstrap_servers("h:1");
        for (key, value) in [
            ("enable.idempotence", "false"),
            ("no.such.property", "1"),
            ("max.request.size", "1000"),
        ] {
            let error = base.clone().property(key, value).split_properties();
            assert!(matches!(error, Err(ShipError::Config(_))), "{key}={value}");
        }
        assert!(base
            .clone()
            .source("two\nlines")
            .split_properties()
            .is_err());
        assert!(base.max_line_bytes(0).split_properties().is_err());
    }

    #[test]
    fn a_transactional_id_makes_recovery_read_committed() {
        let plain = ShipConfig::new("a.log", "t").bootstrap_servers("h:1");
        let (producer, consumer) = plain.clone().split_properties().unwrap();
        assert_eq!(producer.transactional_id, None);
        assert!(!consumer.iter().any(|(k, _)| k == "isolation.level"));
        let (producer, consumer) = plain
            .property("isolation.level", "read_uncommitted")
            .transactional_id("ship-1")
            .split_properties()
            .unwrap();
        assert_eq!(producer.transactional_id.as_deref(), Some("ship-1"));
        let isolation: Vec<_> = consumer
            .iter()
            .filter(|(k, _)| k == "isolation.level")
            .collect();
        assert_eq!(
            isolation,
            [&("isolation.level".to_owned(), "read_committed".to_owned())]
        );
    }

    #[test]
    fn partitioner_settings_are_refused_with_the_reason() {
        let base = ShipConfig::new("a.log", "t").bootstrap_servers("h:1");
        for (key, value) in [
            ("partitioner", "murmur2_random"),
            ("partitioner.ignore.keys", "true"),
            ("partitioner.adaptive.partitioning.enable", "false"),
        ] {
            match base.clone().property(key, value).split_properties() {
                Err(ShipError::Config(reason)) => assert!(
                    reason.contains(key) && reason.contains("one partition"),
                    "{reason}"
                ),
                other => panic!("{key}={value}: {other:?}"),
            }
        }
    }
}
