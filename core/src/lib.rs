//! durian-core: the client core shared by durian's producer, consumer and admin
//! client: connections, protocol glue, metadata, configuration, errors and
//! record batches.

pub mod acl;
pub mod backoff;
pub mod broker_pool;
mod client;
pub mod compression;
pub mod config;
pub mod connection;
pub mod coordinator;
pub mod error;
mod group_metadata;
pub mod metadata;
pub mod protocol;
pub mod record;
pub mod retry;
pub mod schema_registry;
pub mod security;
mod topic_partition;
pub mod traffic;
pub mod wire_guard;

pub use client::{Client, SendOptions, Target};
pub use config::ClientConfig;
pub use coordinator::CoordinatorKind;
pub use error::{BatchStage, Error, KafkaCode, KafkaError, Result};
pub use group_metadata::ConsumerGroupMetadata;
pub use metadata::{
    BrokerInfo, ClusterMetadata, MetadataTrigger, PartitionMetadata, TopicMetadata,
};
pub use topic_partition::TopicPartition;
pub use traffic::TrafficClass;
