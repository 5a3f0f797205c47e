//! durian-broker: durian's own Kafka-protocol broker.
//!
//! ```text
//!  clients ──TCP──► server (frames, dispatch) ──► handlers/<api>.rs
//!                                                   │        │
//!                                   catalog + storage (logs)  group coordinator
//! ```
//!
//! Start one with [`Broker::builder`]; see `docs/BROKER.md` for the APIs
//! and versions served, limits and what is not supported yet.

pub mod append_signals;
mod background;
pub mod broker;
pub mod catalog;
pub mod config;
mod data_dir;
pub mod group;
pub mod handle;
pub mod handlers;
pub mod producer_ids;
pub mod server;
pub mod state;
pub mod storage;
pub mod testing;
pub mod topic_config;
pub mod topology;

pub use broker::{Broker, BrokerBuilder, BrokerError};
pub use config::{BrokerConfig, NodeIdentity};
pub use handle::BrokerHandle;
