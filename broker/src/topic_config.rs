//! Topic-level settings: which Kafka topic configs the broker understands,
//! how they turn into a storage [`LogConfig`], and how they are described
//! (value, default, source) to DescribeConfigs.

use std::collections::BTreeMap;

use crate::storage::{FlushPolicy, LogConfig, StorageError};

/// DescribeConfigs `config_source`: set on the topic.
pub const SOURCE_TOPIC: i8 = 1;
/// DescribeConfigs `config_source`: set in the broker's static config.
pub const SOURCE_STATIC_BROKER: i8 = 4;
/// DescribeConfigs `config_source`: the built-in default.
pub const SOURCE_DEFAULT: i8 = 5;

/// DescribeConfigs `config_type` values (v3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigType {
    /// true/false.
    Boolean = 1,
    /// Free text.
    String = 2,
    /// 32-bit integer.
    Int = 3,
    /// 64-bit integer.
    Long = 5,
    /// Floating point number.
    Double = 6,
    /// Comma-separated list.
    List = 7,
}

/// One topic config the broker accepts.
struct TopicConfigDef {
    name: &'static str,
    config_type: ConfigType,
    /// The value a topic gets without an override, from the broker's log defaults.
    default: fn(&LogConfig) -> String,
    /// Values other than these are rejected; `None` lets storage validate.
    allowed: Option<&'static [&'static str]>,
    /// Whether the storage engine applies the setting (else it is recorded only).
    applies_to_storage: bool,
}

const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        name: "cleanup.policy",
        config_type: ConfigType::List,
        default: |c| c.cleanup_policy.name().to_string(),
        // delete, compact or both: parsed by the storage settings.
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "delete.retention.ms",
        config_type: ConfigType::Long,
        default: |c| c.delete_retention_ms.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "min.cleanable.dirty.ratio",
        config_type: ConfigType::Double,
        default: |c| c.min_cleanable_dirty_ratio.get().to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "min.compaction.lag.ms",
        config_type: ConfigType::Long,
        default: |c| c.min_compaction_lag_ms.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "max.compaction.lag.ms",
        config_type: ConfigType::Long,
        default: |c| c.max_compaction_lag_ms.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "compression.type",
        config_type: ConfigType::String,
        default: |_| "producer".to_string(),
        // Batches are stored as the producer compressed them.
        allowed: Some(&["producer"]),
        applies_to_storage: false,
    },
    TopicConfigDef {
        name: "retention.ms",
        config_type: ConfigType::Long,
        default: |c| c.retention_ms.unwrap_or(-1).to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "retention.bytes",
        config_type: ConfigType::Long,
        default: |c| c.retention_bytes.map_or(-1, |b| b as i64).to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "segment.bytes",
        config_type: ConfigType::Int,
        default: |c| c.segment_bytes.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "segment.ms",
        config_type: ConfigType::Long,
        default: |c| c.segment_ms.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "segment.index.bytes",
        config_type: ConfigType::Int,
        default: |c| c.segment_index_bytes.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "index.interval.bytes",
        config_type: ConfigType::Int,
        default: |c| c.index_interval_bytes.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "max.message.bytes",
        config_type: ConfigType::Int,
        default: |c| c.max_message_bytes.to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "message.timestamp.type",
        config_type: ConfigType::String,
        default: |c| match c.message_timestamp_type {
            durian_core::record::TimestampType::LogAppendTime => "LogAppendTime".to_string(),
            _ => "CreateTime".to_string(),
        },
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "flush.messages",
        config_type: ConfigType::Long,
        default: |c| match (c.flush, c.flush_messages) {
            (FlushPolicy::Always, _) => "1".to_string(),
            (FlushPolicy::PageCache, Some(every)) => every.to_string(),
            (FlushPolicy::PageCache, None) => i64::MAX.to_string(),
        },
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "flush.ms",
        config_type: ConfigType::Long,
        default: |c| c.flush_ms.unwrap_or(i64::MAX).to_string(),
        allowed: None,
        applies_to_storage: true,
    },
    TopicConfigDef {
        name: "min.insync.replicas",
        config_type: ConfigType::Int,
        default: |_| "1".to_string(),
        // One node: the only replica is always in sync.
        allowed: Some(&["1"]),
        applies_to_storage: false,
    },
];

/// One described config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Property name.
    pub name: String,
    /// Effective value.
    pub value: String,
    /// Where the value comes from (`SOURCE_*`).
    pub source: i8,
    /// Value type for DescribeConfigs v3+.
    pub config_type: ConfigType,
    /// Whether AlterConfigs may change it.
    pub read_only: bool,
}

/// A topic config override the broker refuses (INVALID_CONFIG); the
/// message says what is accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TopicConfigError {
    /// Not a topic config this broker knows.
    #[error("unknown or unsupported topic config {0:?}")]
    Unknown(String),
    /// Values are stored one per line in the catalog.
    #[error("value of {0} contains a line break")]
    LineBreak(String),
    /// A value outside the few this broker implements.
    #[error("{name}={value} is not supported by this broker; accepted: {}", accepted.join(", "))]
    Unsupported {
        /// The config.
        name: String,
        /// The refused value.
        value: String,
        /// The values accepted.
        accepted: &'static [&'static str],
    },
    /// The value does not parse, or the resulting log settings are unusable.
    #[error(transparent)]
    Invalid(#[from] StorageError),
    /// A value above a limit of the broker itself: a topic may not raise
    /// what the broker bounds (a batch larger than a request could never
    /// arrive, and limits derived from it would be unbounded).
    #[error("{name}={value} exceeds the broker's {limit_name}={limit}")]
    AboveBrokerLimit {
        /// The config.
        name: String,
        /// The refused value.
        value: u64,
        /// The broker setting that bounds it.
        limit_name: &'static str,
        /// That setting's value.
        limit: u64,
    },
}

/// Broker settings that bound topic configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicLimits {
    /// `socket.request.max.bytes`: the ceiling of `max.message.bytes`.
    pub socket_request_max_bytes: usize,
}

/// Checks one topic config override; the error says what is accepted.
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), TopicConfigError> {
    let def = TOPIC_CONFIGS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| TopicConfigError::Unknown(name.to_string()))?;
    if value.contains('\n') || value.contains('\r') {
        return Err(TopicConfigError::LineBreak(name.to_string()));
    }
    if let Some(allowed) = def.allowed {
        if !allowed.contains(&value) {
            return Err(TopicConfigError::Unsupported {
                name: name.to_string(),
                value: value.to_string(),
                accepted: allowed,
            });
        }
    }
    if def.applies_to_storage {
        LogConfig::default().set(name, value)?;
    }
    Ok(())
}

/// Checks a whole set of overrides, including how they combine and the
/// broker limits they may not exceed.
pub fn validate_topic_configs(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
    limits: TopicLimits,
) -> Result<(), TopicConfigError> {
    for (name, value) in overrides {
        validate_topic_config(name, value)?;
    }
    let config = log_config_for(defaults, overrides)?;
    if overrides.contains_key("max.message.bytes")
        && config.max_message_bytes > limits.socket_request_max_bytes
    {
        return Err(TopicConfigError::AboveBrokerLimit {
            name: "max.message.bytes".to_string(),
            value: config.max_message_bytes as u64,
            limit_name: "socket.request.max.bytes",
            limit: limits.socket_request_max_bytes as u64,
        });
    }
    Ok(())
}

/// The storage settings of a topic: the broker defaults with the topic's overrides applied.
pub fn log_config_for(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, TopicConfigError> {
    let mut config = defaults.clone();
    for (name, value) in overrides {
        let applies = TOPIC_CONFIGS
            .iter()
            .any(|d| d.name == name && d.applies_to_storage);
        if applies {
            // Minimums were checked when the override came in
            // (validate_topic_config); stored ones older than them still load.
            config.apply_stored(name, value)?;
        }
    }
    Ok(config)
}

/// Every topic config with its effective value and source.
pub fn describe_topic_configs(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<ConfigEntry> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| match overrides.get(def.name) {
            Some(value) => ConfigEntry {
                name: def.name.to_string(),
                value: value.clone(),
                source: SOURCE_TOPIC,
                config_type: def.config_type,
                read_only: false,
            },
            None => ConfigEntry {
                name: def.name.to_string(),
                value: (def.default)(defaults),
                source: SOURCE_DEFAULT,
                config_type: def.config_type,
                read_only: false,
            },
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn overrides_reach_the_log_config() {
        let config = log_config_for(
            &LogConfig::default(),
            &map(&[("retention.ms", "1234"), ("cleanup.policy", "delete")]),
        )
        .unwrap();
        assert_eq!(config.retention_ms, Some(1234));
    }

    #[test]
    fn new_overrides_meet_kafkas_minimums_but_stored_ones_still_load() {
        let err = validate_topic_config("segment.bytes", "128")
            .unwrap_err()
            .to_string();
        assert!(err.contains("1048576"), "{err}");
        // A topic stored before the minimum was enforced keeps opening.
        let config =
            log_config_for(&LogConfig::default(), &map(&[("segment.bytes", "128")])).unwrap();
        assert_eq!(config.segment_bytes, 128);
    }

    #[test]
    fn unsupported_values_are_rejected_with_a_reason() {
        let err = validate_topic_config("compression.type", "gzip")
            .unwrap_err()
            .to_string();
        assert!(err.contains("accepted: producer"), "{err}");
        assert!(validate_topic_config("no.such.config", "1").is_err());
        assert!(validate_topic_config("retention.ms", "soon").is_err());
        assert!(validate_topic_config("retention.ms", "1\nx=y").is_err());
    }

    #[test]
    fn compaction_configs_are_validated_and_described() {
        for ok in ["compact", "delete", "compact,delete", "delete,compact"] {
            validate_topic_config("cleanup.policy", ok).unwrap();
        }
        for bad in ["", "compact,compact", "remove"] {
            assert!(
                validate_topic_config("cleanup.policy", bad).is_err(),
                "{bad}"
            );
        }
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "0.01").is_ok());
        assert!(validate_topic_config("delete.retention.ms", "-1").is_err());
        assert!(validate_topic_config("max.compaction.lag.ms", "0").is_err());
        let overrides = map(&[
            ("cleanup.policy", "delete,compact"),
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "5"),
        ]);
        let limits = TopicLimits {
            socket_request_max_bytes: 100 << 20,
        };
        assert!(validate_topic_configs(&LogConfig::default(), &overrides, limits).is_err());
        let config = log_config_for(
            &LogConfig::default(),
            &map(&[("cleanup.policy", "compact")]),
        )
        .unwrap();
        assert!(config.cleanup_policy.compact && !config.cleanup_policy.delete);
        let entries = describe_topic_configs(&LogConfig::default(), &BTreeMap::new());
        let value = |name: &str| {
            entries
                .iter()
                .find(|e| e.name == name)
                .map(|e| e.value.clone())
                .unwrap()
        };
        assert_eq!(value("cleanup.policy"), "delete");
        assert_eq!(value("delete.retention.ms"), "86400000");
        assert_eq!(value("min.cleanable.dirty.ratio"), "0.5");
        assert_eq!(value("min.compaction.lag.ms"), "0");
        assert_eq!(value("max.compaction.lag.ms"), i64::MAX.to_string());
    }

    #[test]
    fn max_message_bytes_may_not_exceed_the_request_limit() {
        let limits = TopicLimits {
            socket_request_max_bytes: 100 << 20,
        };
        let defaults = LogConfig::default();
        let err = validate_topic_configs(
            &defaults,
            &map(&[("max.message.bytes", "2147483647")]),
            limits,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("socket.request.max.bytes=104857600"), "{err}");
        validate_topic_configs(
            &defaults,
            &map(&[("max.message.bytes", "104857600")]),
            limits,
        )
        .unwrap();
    }

    #[test]
    fn describe_marks_overrides_and_defaults() {
        let entries = describe_topic_configs(&LogConfig::default(), &map(&[("retention.ms", "5")]));
        let retention = entries.iter().find(|e| e.name == "retention.ms").unwrap();
        assert_eq!(
            (retention.value.as_str(), retention.source),
            ("5", SOURCE_TOPIC)
        );
        let segment = entries.iter().find(|e| e.name == "segment.bytes").unwrap();
        assert_eq!(segment.source, SOURCE_DEFAULT);
        assert_eq!(segment.value, (1u64 << 30).to_string());
    }
}
