//! durian: a pure-Rust Apache Kafka SDK.
//!
//! This facade re-exports the workspace crates.

pub use durian_broker as broker;
pub use durian_core as core;
