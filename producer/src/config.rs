//! Producer settings, by typed field or by Kafka property name.
//!
//! [`ProducerConfig`] embeds the core's [`ClientConfig`] (bootstrap
//! servers, timeouts, `retry.backoff.ms`, ...). [`ProducerConfig::from_properties`]
//! takes the producer's own keys and passes the rest to
//! [`ClientConfig::take_from`]; a key nobody knows is an error.
//! [`PRODUCER_PROPERTIES`] documents every producer key and its default
//! (docs/PRODUCER.md lists the same table).

use std::time::Duration;

use durian_core::compression::Compression;
use durian_core::config::{PropertyDoc, PropertyParser};
use durian_core::{ClientConfig, Error};

use crate::partitioner::PartitionerKind;

/// Acknowledgements the producer asks for (`acks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: the broker sends no response; records are not retried and
    /// offsets are unknown (-1).
    None,
    /// `acks=1`: the leader has written the records.
    Leader,
    /// `acks=all` (or -1): all in-sync replicas have them. The default.
    #[default]
    All,
}

impl Acks {
    /// The value of the `acks` field of a ProduceRequest.
    pub fn wire_value(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Documentation of every producer property.
pub const PRODUCER_PROPERTIES: &[PropertyDoc] = &[
    PropertyDoc {
        name: "acks",
        default: "all",
        doc: "0, 1 or all (-1): how many replicas must have a batch before it counts as written.",
    },
    PropertyDoc {
        name: "enable.idempotence",
        default: "true",
        doc: "Producer id and per-partition sequence numbers, so retries never duplicate or \
              reorder. Requires acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5.",
    },
    PropertyDoc {
        name: "max.in.flight.requests.per.connection",
        default: "5",
        doc: "Produce requests sent to one broker without waiting for their responses.",
    },
    PropertyDoc {
        name: "batch.size",
        default: "1000000",
        doc: "Bytes per partition batch (uncompressed); a batch is sent when full. \
              librdkafka's default (Kafka's Java client has 16384): a batch reserves \
              buffer.memory as it fills, 16 KiB at first, so a large value costs memory \
              only where batches fill.",
    },
    PropertyDoc {
        name: "linger.ms",
        default: "5",
        doc: "How long a batch waits for more records before it is sent anyway.",
    },
    PropertyDoc {
        name: "buffer.memory",
        default: "33554432",
        doc: "Bytes of batches the producer may hold; send blocks when they are in use.",
    },
    PropertyDoc {
        name: "max.block.ms",
        default: "60000",
        doc: "How long send may wait for buffer.memory or for the topic's metadata before failing.",
    },
    PropertyDoc {
        name: "max.request.size",
        default: "1048576",
        doc: "Largest produce request; a record that cannot fit fails alone with this limit named.",
    },
    PropertyDoc {
        name: "compression.type",
        default: "none",
        doc: "Codec of every batch: none, gzip, snappy, lz4 or zstd (all pure Rust).",
    },
    PropertyDoc {
        name: "delivery.timeout.ms",
        default: "120000",
        doc: "Upper bound on a record's whole life from send to acknowledgement, retries included; \
              must be at least linger.ms + request.timeout.ms.",
    },
    PropertyDoc {
        name: "retries",
        default: "2147483647",
        doc: "How often a failed batch is retried (delivery.timeout.ms usually ends retrying first).",
    },
    PropertyDoc {
        name: "partitioner",
        default: "default",
        doc: "How records without a partition are placed: default (the Java client's: murmur2 \
              of the key, sticky for null keys) or one of librdkafka's: random, consistent, \
              consistent_random, murmur2, murmur2_random, fnv1a, fnv1a_random.",
    },
    PropertyDoc {
        name: "partitioner.ignore.keys",
        default: "false",
        doc: "Spread keyed records with the sticky partitioner instead of hashing their keys.",
    },
    PropertyDoc {
        name: "partitioner.adaptive.partitioning.enable",
        default: "true",
        doc: "Sticky partitioner prefers partitions with shorter queues (brokers that keep up).",
    },
    PropertyDoc {
        name: "transactional.id",
        default: "",
        doc: "Makes the producer transactional (empty: not transactional): init_transactions, \
              begin/commit/abort_transaction. Needs enable.idempotence=true; a newer producer \
              with the same id fences this one.",
    },
    PropertyDoc {
        name: "transaction.timeout.ms",
        default: "60000",
        doc: "How long the transaction coordinator lets a transaction stay open before it \
              aborts it; sent with InitProducerId (the broker caps it at \
              transaction.max.timeout.ms).",
    },
];

/// All settings of a producer. Build with [`ProducerConfig::builder`] or
/// [`ProducerConfig::from_properties`]; both validate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Connection settings shared with the other clients.
    pub client: ClientConfig,
    /// `acks`.
    pub acks: Acks,
    /// `enable.idempotence`.
    pub enable_idempotence: bool,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// `batch.size`.
    pub batch_size: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `buffer.memory`.
    pub buffer_memory: usize,
    /// `max.block.ms`.
    pub max_block: Duration,
    /// `max.request.size`.
    pub max_request_size: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// `delivery.timeout.ms`.
    pub delivery_timeout: Duration,
    /// `retries`.
    pub retries: u32,
    /// `partitioner`. A partitioner given to the producer builder
    /// (`ProducerBuilder::partitioner`) replaces it.
    pub partitioner: PartitionerKind,
    /// `partitioner.ignore.keys`.
    pub partitioner_ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable`.
    pub adaptive_partitioning: bool,
    /// `transactional.id`: `Some` makes the producer transactional.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`.
    pub transaction_timeout: Duration,
    /// Use transactions V2 (KIP-890) when the cluster has finalized
    /// `transaction.version` 2 or more (default `true`); `false` keeps V1
    /// (explicit AddPartitionsToTxn) on every cluster. durian's own switch:
    /// no Kafka property sets it.
    pub transaction_v2: bool,
}

impl ProducerConfig {
    /// Defaults around a client config.
    pub fn new(client: ClientConfig) -> Self {
        ProducerConfig {
            client,
            acks: Acks::All,
            enable_idempotence: true,
            max_in_flight: 5,
            // librdkafka's default, chosen by measurement (docs/PRODUCER.md,
            // "Why batch.size is 1,000,000"): fewer, larger Produce requests
            // cost the client and the broker less CPU per record.
            batch_size: 1_000_000,
            linger: Duration::from_millis(5),
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_millis(60_000),
            max_request_size: 1_048_576,
            compression: Compression::None,
            delivery_timeout: Duration::from_millis(120_000),
            retries: i32::MAX as u32,
            partitioner: PartitionerKind::Default,
            partitioner_ignore_keys: false,
            adaptive_partitioning: true,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
            transaction_v2: true,
        }
    }

    /// Builds a config from Kafka property names (producer and client keys).
    ///
    /// ```
    /// let config = durian_producer::ProducerConfig::from_properties([
    ///     ("bootstrap.servers", "localhost:9092"),
    ///     ("linger.ms", "20"),
    ///     ("compression.type", "zstd"),
    /// ]).unwrap();
    /// assert_eq!(config.linger.as_millis(), 20);
    /// ```
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut parser = PropertyParser::new(properties)?;
        let producer = take_producer_keys(&mut parser)?;
        let client = ClientConfig::take_from(&mut parser)?;
        parser.finish()?;
        let config = producer.apply(client);
        config.validate()?;
        Ok(config)
    }

    /// A builder over `client`.
    pub fn builder(client: ClientConfig) -> ProducerConfigBuilder {
        ProducerConfigBuilder {
            config: ProducerConfig::new(client),
        }
    }

    /// Rejects values that cannot work and settings that contradict each other.
    pub fn validate(&self) -> Result<(), Error> {
        self.client.validate()?;
        let positive = [
            ("batch.size", self.batch_size),
            ("buffer.memory", self.buffer_memory),
            ("max.request.size", self.max_request_size),
            ("max.in.flight.requests.per.connection", self.max_in_flight),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::config(name, "must be greater than 0"));
            }
        }
        // The memory budget counts in u32 units (a tokio semaphore).
        if self.buffer_memory > u32::MAX as usize {
            return Err(Error::config("buffer.memory", "must be at most 4294967295"));
        }
        if self.max_request_size > i32::MAX as usize {
            return Err(Error::config("max.request.size", "must fit in an i32"));
        }
        let minimum = self.linger + self.client.request_timeout;
        if self.delivery_timeout < minimum {
            return Err(Error::config(
                "delivery.timeout.ms",
                format!(
                    "must be at least linger.ms + request.timeout.ms = {} ms; lower \
                     request.timeout.ms or raise delivery.timeout.ms",
                    minimum.as_millis()
                ),
            ));
        }
        if self.partitioner_ignore_keys && self.partitioner != PartitionerKind::Default {
            return Err(Error::config(
                "partitioner.ignore.keys",
                format!(
                    "applies to partitioner=default only, not {}",
                    self.partitioner
                ),
            ));
        }
        if let Some(id) = &self.transactional_id {
            if id.is_empty() {
                return Err(Error::config(
                    "transactional.id",
                    "must not be empty (leave it unset for a producer without transactions)",
                ));
            }
            if !self.enable_idempotence {
                return Err(Error::config(
                    "enable.idempotence",
                    "a transactional producer needs idempotence; set enable.idempotence=true \
                     or remove transactional.id",
                ));
            }
        }
        let timeout_ms = self.transaction_timeout.as_millis();
        if timeout_ms == 0 || timeout_ms > i32::MAX as u128 {
            return Err(Error::config(
                "transaction.timeout.ms",
                "must be between 1 and 2147483647",
            ));
        }
        if self.enable_idempotence {
            let conflict = if self.acks != Acks::All {
                Some(("acks", "idempotence needs acks=all"))
            } else if self.max_in_flight > 5 {
                Some((
                    "max.in.flight.requests.per.connection",
                    "idempotence allows at most 5 (the broker remembers 5 batches per producer)",
                ))
            } else if self.retries == 0 {
                Some(("retries", "idempotence needs retries > 0"))
            } else {
                None
            };
            if let Some((property, why)) = conflict {
                return Err(Error::config(
                    property,
                    format!("{why}; set enable.idempotence=false to use this value"),
                ));
            }
        }
        Ok(())
    }
}

/// Producer keys parsed before the client config exists.
#[derive(Default)]
struct ProducerKeys {
    acks: Option<Acks>,
    idempotence: Option<bool>,
    max_in_flight: Option<usize>,
    batch_size: Option<usize>,
    linger: Option<Duration>,
    buffer_memory: Option<usize>,
    max_block: Option<Duration>,
    max_request_size: Option<usize>,
    compression: Option<Compression>,
    delivery_timeout: Option<Duration>,
    retries: Option<u32>,
    partitioner: Option<PartitionerKind>,
    ignore_keys: Option<bool>,
    adaptive: Option<bool>,
    transactional_id: Option<String>,
    transaction_timeout: Option<Duration>,
}

impl ProducerKeys {
    fn apply(self, client: ClientConfig) -> ProducerConfig {
        let mut c = ProducerConfig::new(client);
        c.acks = self.acks.unwrap_or(c.acks);
        c.enable_idempotence = self.idempotence.unwrap_or(c.enable_idempotence);
        c.max_in_flight = self.max_in_flight.unwrap_or(c.max_in_flight);
        c.batch_size = self.batch_size.unwrap_or(c.batch_size);
        c.linger = self.linger.unwrap_or(c.linger);
        c.buffer_memory = self.buffer_memory.unwrap_or(c.buffer_memory);
        c.max_block = self.max_block.unwrap_or(c.max_block);
        c.max_request_size = self.max_request_size.unwrap_or(c.max_request_size);
        c.compression = self.compression.unwrap_or(c.compression);
        c.delivery_timeout = self.delivery_timeout.unwrap_or(c.delivery_timeout);
        c.retries = self.retries.unwrap_or(c.retries);
        c.partitioner = self.partitioner.unwrap_or(c.partitioner);
        c.partitioner_ignore_keys = self.ignore_keys.unwrap_or(c.partitioner_ignore_keys);
        c.adaptive_partitioning = self.adaptive.unwrap_or(c.adaptive_partitioning);
        // Empty means unset, as the documented default says.
        c.transactional_id = self.transactional_id.filter(|id| !id.is_empty());
        c.transaction_timeout = self.transaction_timeout.unwrap_or(c.transaction_timeout);
        c
    }
}

fn take_producer_keys(parser: &mut PropertyParser) -> Result<ProducerKeys, Error> {
    let bytes = "a byte count";
    let acks = match parser.take("acks") {
        None => None,
        Some(raw) => Some(match raw.to_ascii_lowercase().as_str() {
            "0" => Acks::None,
            "1" => Acks::Leader,
            "all" | "-1" => Acks::All,
            _ => {
                return Err(Error::config(
                    "acks",
                    format!("`{raw}` is not 0, 1, all or -1"),
                ))
            }
        }),
    };
    let compression = match parser.take("compression.type") {
        None => None,
        Some(raw) => Some(raw.parse::<Compression>().map_err(|_| {
            Error::config(
                "compression.type",
                format!("`{raw}` is not none, gzip, snappy, lz4 or zstd"),
            )
        })?),
    };
    let partitioner = match parser.take("partitioner") {
        None => None,
        Some(raw) => Some(
            raw.parse::<PartitionerKind>()
                .map_err(|e| Error::config("partitioner", e.to_string()))?,
        ),
    };
    let retries = match parser.take_parsed::<i64>("retries", "an integer")? {
        None => None,
        Some(n) if n < 0 => return Err(Error::config("retries", "must not be negative")),
        Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
    };
    Ok(ProducerKeys {
        acks,
        idempotence: parser.take_bool("enable.idempotence")?,
        max_in_flight: parser.take_parsed("max.in.flight.requests.per.connection", "a count")?,
        batch_size: parser.take_parsed("batch.size", bytes)?,
        linger: parser.take_millis("linger.ms")?,
        buffer_memory: parser.take_parsed("buffer.memory", bytes)?,
        max_block: parser.take_millis("max.block.ms")?,
        max_request_size: parser.take_parsed("max.request.size", bytes)?,
        compression,
        delivery_timeout: parser.take_millis("delivery.timeout.ms")?,
        retries,
        partitioner,
        ignore_keys: parser.take_bool("partitioner.ignore.keys")?,
        adaptive: parser.take_bool("partitioner.adaptive.partitioning.enable")?,
        transactional_id: parser.take("transactional.id"),
        transaction_timeout: parser.take_millis("transaction.timeout.ms")?,
    })
}

/// Typed builder for [`ProducerConfig`]; each setter mirrors one property.
#[derive(Clone, Debug)]
pub struct ProducerConfigBuilder {
    config: ProducerConfig,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name = value;
            self
        }
    )*};
}

impl ProducerConfigBuilder {
    setters! {
        /// `acks`.
        acks: Acks;
        /// `enable.idempotence`.
        enable_idempotence: bool;
        /// `max.in.flight.requests.per.connection`.
        max_in_flight: usize;
        /// `batch.size`.
        batch_size: usize;
        /// `linger.ms`.
        linger: Duration;
        /// `buffer.memory`.
        buffer_memory: usize;
        /// `max.block.ms`.
        max_block: Duration;
        /// `max.request.size`.
        max_request_size: usize;
        /// `compression.type`.
        compression: Compression;
        /// `delivery.timeout.ms`.
        delivery_timeout: Duration;
        /// `retries`.
        retries: u32;
        /// `partitioner`.
        partitioner: PartitionerKind;
        /// `partitioner.ignore.keys`.
        partitioner_ignore_keys: bool;
        /// `partitioner.adaptive.partitioning.enable`.
        adaptive_partitioning: bool;
        /// `transactional.id`.
        transactional_id: Option<String>;
        /// `transaction.timeout.ms`.
        transaction_timeout: Duration;
        /// Transactions V2 when the cluster offers them (durian only).
        transaction_v2: bool;
    }

    /// Validates and returns the config.
    pub fn build(self) -> Result<ProducerConfig, Error> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn property_of(error: Error) -> String {
        match error {
            Error::Config { property, .. } => property,
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn documented_defaults_match_the_code() {
        let base = ProducerConfig::from_properties([("bootstrap.servers", "h:1")]).unwrap();
        for doc in PRODUCER_PROPERTIES {
            let one = ProducerConfig::from_properties([
                ("bootstrap.servers", "h:1"),
                (doc.name, doc.default),
            ])
            .unwrap();
            assert_eq!(one, base, "{}", doc.name);
        }
    }

    #[test]
    fn producer_and_client_keys_are_both_taken() {
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("request.timeout.ms", "2000"),
            ("delivery.timeout.ms", "3000"),
            ("acks", "-1"),
            ("compression.type", "LZ4"),
            ("batch.size", "1000"),
        ])
        .unwrap();
        assert_eq!(config.client.request_timeout, Duration::from_secs(2));
        assert_eq!(config.delivery_timeout, Duration::from_secs(3));
        assert_eq!(config.compression, Compression::Lz4);
        assert_eq!(config.batch_size, 1000);
        let err =
            ProducerConfig::from_properties([("bootstrap.servers", "h:1"), ("lingr.ms", "1")])
                .unwrap_err();
        assert_eq!(property_of(err), "lingr.ms");
    }

    #[test]
    fn partitioner_takes_every_librdkafka_name() {
        for kind in PartitionerKind::ALL {
            let config = ProducerConfig::from_properties([
                ("bootstrap.servers", "h:1"),
                ("partitioner", kind.name()),
            ])
            .unwrap();
            assert_eq!(config.partitioner, kind);
        }
        let err = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("partitioner", "murmur3"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("consistent_random"), "{err}");
        assert_eq!(property_of(err), "partitioner");
        // partitioner.ignore.keys is the Java default's knob only.
        let err = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("partitioner", "fnv1a"),
            ("partitioner.ignore.keys", "true"),
        ])
        .unwrap_err();
        assert_eq!(property_of(err), "partitioner.ignore.keys");
        let mut client = ClientConfig::default();
        client.bootstrap_servers = vec!["h:1".to_owned()];
        let built = ProducerConfig::builder(client)
            .partitioner(PartitionerKind::Murmur2Random)
            .build()
            .unwrap();
        assert_eq!(built.partitioner, PartitionerKind::Murmur2Random);
    }

    #[test]
    fn idempotence_conflicts_are_build_errors() {
        let cases = [
            ("acks", "1", "acks"),
            (
                "max.in.flight.requests.per.connection",
                "6",
                "max.in.flight.requests.per.connection",
            ),
            ("retries", "0", "retries"),
        ];
        for (key, value, property) in cases {
            let err = ProducerConfig::from_properties([("bootstrap.servers", "h:1"), (key, value)])
                .unwrap_err();
            assert_eq!(property_of(err.clone()), property);
            assert!(
                err.to_string().contains("enable.idempotence=false"),
                "{err}"
            );
            ProducerConfig::from_properties([
                ("bootstrap.servers", "h:1"),
                (key, value),
                ("enable.idempotence", "false"),
            ])
            .unwrap();
        }
    }

    #[test]
    fn a_transactional_id_needs_idempotence() {
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("transactional.id", "tx-1"),
            ("transaction.timeout.ms", "30000"),
        ])
        .unwrap();
        assert_eq!(config.transactional_id.as_deref(), Some("tx-1"));
        assert_eq!(config.transaction_timeout, Duration::from_secs(30));
        let err = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("transactional.id", "tx-1"),
            ("enable.idempotence", "false"),
        ])
        .unwrap_err();
        assert_eq!(property_of(err), "enable.idempotence");
        let err = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("transaction.timeout.ms", "0"),
        ])
        .unwrap_err();
        assert_eq!(property_of(err), "transaction.timeout.ms");
    }

    #[test]
    fn bad_values_name_the_property() {
        let cases = [
            ("acks", "2"),
            ("compression.type", "brotli"),
            ("batch.size", "0"),
            ("linger.ms", "-1"),
            ("delivery.timeout.ms", "1000"),
            ("retries", "-3"),
            ("buffer.memory", "8589934592"),
        ];
        for (key, value) in cases {
            let err = ProducerConfig::from_properties([("bootstrap.servers", "h:1"), (key, value)])
                .unwrap_err();
            assert_eq!(property_of(err), key, "{key}={value}");
        }
    }
}
