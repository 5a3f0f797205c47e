//! What this broker serves and accepts, as data for documentation checks
//! (docs/BROKER.md's API table, docs/CONFIG.md's topic configs): the tests
//! that keep those documents true read it from here.

pub use crate::handlers::api_table_markdown;
pub use crate::topic_config::{
    describe_topic_configs, validate_topic_config, ConfigEntry, ConfigType, TopicConfigError,
};
