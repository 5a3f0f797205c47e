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
//!
//! The public surface is the embedding API ([`Broker`], [`BrokerBuilder`],
//! [`BrokerHandle`]), the settings it takes ([`BrokerConfig`],
//! [`LogConfig`], [`FlushPolicy`], [`GroupConfig`], [`TxnConfig`]) and its
//! errors.
//! Cargo features add more:
//! - `testing`: [`testing::Cluster`], N brokers in one process with fault
//!   injection, for tests of clients (docs/CLUSTER.md);
//! - `fuzzing`: the decoding and recovery entry points the fuzz targets in
//!   `fuzz/` drive (not a stable API).

mod append_signals;
mod background;
mod broker;
mod catalog;
mod clock;
mod config;
mod data_dir;
mod data_lock;
mod fetch_session;
mod framed_log;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod group;
mod handle;
mod handlers;
mod metrics;
mod producer_ids;
mod security;
mod server;
mod server_properties;
mod state;
mod storage;
#[cfg(feature = "testing")]
pub mod testing;
mod topic_config;
mod topology;
mod txn;

pub use broker::{Broker, BrokerBuilder, BrokerError};
pub use catalog::CatalogError;
pub use config::{BrokerConfig, NodeIdentity};
pub use durian_core::security::scram::ScramMechanism;
pub use group::{GroupConfig, GroupError};
pub use handle::BrokerHandle;
pub use metrics::http::serve_page as serve_metrics_page;
pub use security::credentials::{read_plain_users, CredentialError};
pub use security::listener::{
    parse_listeners, ListenerConfig, ListenerError, ListenerInfo, SecurityProtocol,
};
pub use security::sasl::oauthbearer::{
    unsecured_jwt, OAuthBearerValidator, UnsecuredJwtValidator, ValidatedToken,
};
pub use security::sasl::SaslConfig;
pub use security::tls::{ClientAuth, TlsConfig, TlsError};
pub use security::{AclStoreError, AuthorizerConfig, Principal, PrincipalParseError};
pub use server::body_buffers::IDLE_LIMIT_BYTES as IDLE_BODY_BUFFER_LIMIT_BYTES;
pub use server::resources::ResourceUsage;
pub use server_properties::{
    parse_server_properties, read_server_properties, ServerProperty, SERVER_PROPERTIES,
};
pub use storage::{
    CleanOutcome, CleanedPartition, CleanerConfig, CleanupPolicy, DirtyRatio, FlushPolicy,
    LogConfig, StorageError, TxnMarker,
};
#[cfg(feature = "testing")]
pub use storage::{FaultKind, FaultPoint, StorageFaults};
pub use txn::{TxnConfig, TxnLogError};
