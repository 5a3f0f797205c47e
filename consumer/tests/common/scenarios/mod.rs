//! Scenarios that take a bootstrap, so that the same case runs against
//! durian's broker (group.rs, assign.rs, ...) and Apache Kafka
//! (kafka_groups.rs) without being written twice.

#![allow(dead_code, clippy::unwrap_used)]

pub mod consumer_protocol;
pub mod groups;
pub mod positions;
pub mod read_committed;
