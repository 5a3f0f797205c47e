//! Test support shared by durian's crates (dev-dependency only).
//!
//! Third-party peers are installed by `scripts/install-peers.sh` under
//! `<repo>/.peers/` or named by environment variables. A test that needs a
//! peer asks for it here: when the peer is missing the test is skipped with
//! the install hint, unless `DURIAN_REQUIRE_PEERS=1` (set by CI), in which
//! case it fails, so a missing peer can never pass for a green run.
//!
//! [`kafka`] runs Apache Kafka itself (one KRaft node or a cluster of
//! several) from the jars the install script fetches from Maven Central.
//!
//! [`mock_cluster`] runs librdkafka's fault-injecting mock cluster.
//! [`scripted`] is a fake broker whose answers a test scripts, for the
//! errors and timings a real broker rarely produces on demand.
//!
//! [`wait`] holds the bounded polling tests use to wait on an event
//! instead of sleeping.

pub mod kafka;
pub mod mock_cluster;
pub mod peers;
pub mod scripted;
pub mod tansu;
pub mod wait;

use std::path::PathBuf;

pub use kafka::{KafkaCluster, KafkaOptions, Listener};
pub use mock_cluster::MockCluster;
pub use peers::{confluent_python, kcat};
pub use tansu::Tansu;

/// Whether missing peers must fail tests (`DURIAN_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var("DURIAN_REQUIRE_PEERS").as_deref() == Ok("1")
}

/// The repository root (this crate lives one level below it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Returns `found`, or handles its absence: panics with `hint` when peers
/// are required, else prints a skip message and returns `None`.
pub fn require_peer(found: Option<PathBuf>, hint: &str) -> Option<PathBuf> {
    match found {
        Some(path) => Some(path),
        None if peers_required() => panic!("{hint}"),
        None => {
            eprintln!("skipping: {hint}");
            None
        }
    }
}
