//! durian-consumer: Kafka's group consumer in pure Rust.
//!
//! ```text
//!  Consumer::poll ──▶ Fetcher (up to 4 fetches in flight per broker, bounded buffers)
//!       │    ▲                      │
//!       │    └── records ◀──────────┘
//!       ├──▶ group task (JoinGroup / SyncGroup / Heartbeat, assignors) ──events──▶ RebalanceListener
//!       └──▶ commits (OffsetCommit / OffsetFetch) to the group coordinator
//! ```
//!
//! Start with [`Consumer::builder`] or [`Consumer::from_properties`], then
//! [`Consumer::subscribe`] (group) or [`Consumer::assign`] (no group), and
//! call [`Consumer::poll`] in a loop. docs/CONSUMER.md describes delivery
//! semantics, rebalancing and every setting.

mod api;
pub mod assignor;
pub mod config;
mod consumer;
pub mod deserializer;
pub mod error;
mod fetcher;
mod group;
pub mod listener;
mod metrics;
#[cfg(feature = "testing")]
mod mock;
mod offsets;
#[cfg(feature = "otel")]
pub mod otel;
pub mod schema_registry;
mod spans;
mod typed;
mod types;
mod versioned;

pub use api::ConsumerApi;
pub use assignor::{Assignor, CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor};
pub use config::{
    ConsumerConfig, GroupProtocol, IsolationLevel, OffsetReset, CONSUMER_PROPERTIES,
    MAX_FETCHES_IN_FLIGHT,
};
pub use consumer::{Consumer, ConsumerBuilder, PollBatch};
/// The header type of [`ConsumerRecord::headers`].
pub use durian_core::record::RecordHeader;
pub use durian_core::ConsumerGroupMetadata;
pub use error::{ConsumerError, Result};
pub use listener::{NoopListener, RebalanceListener};
pub use metrics::ConsumerMetrics;
/// A consumer without a broker for tests (cargo feature `testing`).
#[cfg(feature = "testing")]
pub use mock::{MockConsumer, MockConsumerHandle};
pub use typed::{
    RecordDeserializationError, TypedConsumer, TypedPollBatch, TypedRecord, TypedResult,
};
pub use types::{ConsumerRecord, OffsetAndMetadata, TopicPartition};
