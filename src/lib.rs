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

/// The pages of `docs/`, compiled here only so that `cargo test --doc`
/// builds and runs the Rust examples in them (against the embedded broker
/// where they need one): an example that no longer compiles or no longer
/// does what its page says fails the test suite. Blocks marked `ignore` are
/// excerpts of internal code; `no_run` ones need a real cluster.
#[cfg(doctest)]
mod doc_pages {
    macro_rules! pages {
        ($($name:ident => $file:literal),* $(,)?) => {
            $(
                #[doc = include_str!(concat!("../docs/", $file))]
                struct $name;
            )*
        };
    }
    pages! {
        Admin => "ADMIN.md",
        Architecture => "ARCHITECTURE.md",
        Broker => "BROKER.md",
        Cli => "CLI.md",
        Cluster => "CLUSTER.md",
        Config => "CONFIG.md",
        Consumer => "CONSUMER.md",
        Core => "CORE.md",
        Groups => "GROUPS.md",
        Interop => "INTEROP.md",
        Observability => "OBSERVABILITY.md",
        Performance => "PERFORMANCE.md",
        Producer => "PRODUCER.md",
        Records => "RECORDS.md",
        Reliability => "RELIABILITY.md",
        Security => "SECURITY.md",
        Ship => "SHIP.md",
        Storage => "STORAGE.md",
        Testing => "TESTING.md",
        WireGuard => "WIRE_GUARD.md",
    }
}
