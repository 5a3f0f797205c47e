//! durian: a pure-Rust Apache Kafka SDK.
//!
//! This facade re-exports the workspace crates, so one dependency gives the
//! whole SDK:
//!
//! - [`producer`]: serializer → partitioner → accumulator → sender → retries
//! - [`consumer`]: the group consumer (and `assign()` without a group)
//! - [`admin`]: topics, configs, groups, offsets
//! - [`broker`]: durian's own Kafka-protocol broker, embeddable in tests
//! - [`core`]: connections, metadata, errors, config, record batches
#![doc = include_str!("../README.md")]

pub use durian_admin as admin;
pub use durian_broker as broker;
pub use durian_consumer as consumer;
pub use durian_core as core;
pub use durian_producer as producer;
pub mod ship;
