//! Test support for users of durian (and durian's own tests): an
//! in-process multi-broker [`Cluster`] with fault controls, on durian's
//! real storage.
//!
//! ```text
//!            ┌── node 0: 127.0.0.1:p0 ──┐
//!  clients ──┼── node 1: 127.0.0.1:p1 ──┼──► faults (hooks, rules) ──► handlers ──► one shared state:
//!            └── node 2: 127.0.0.1:p2 ──┘                                catalog, logs, groups,
//!                                                                        producer ids, topology
//! ```
//!
//! Every node is a real listener speaking the Kafka protocol; all nodes
//! serve one shared data state. The [`crate::topology::Topology`] decides
//! which node leads each partition (with a leader epoch and a list of
//! simulated replicas) and which coordinates each group, and the handlers
//! enforce it: a node that does not lead a partition answers
//! NOT_LEADER_OR_FOLLOWER, one that does not coordinate a group answers
//! NOT_COORDINATOR, exactly as a real cluster would after a change.
//!
//! What is simulated and what is not:
//! - There is no replication. Replicas are names in the topology; all
//!   read and write one shared log. ISR is "the replicas whose node runs",
//!   and acks=all is satisfied by the leader's append. Nothing is ever
//!   truncated on a leader change, so an append accepted by an old leader
//!   in the instant of a move stays (a real cluster might lose it).
//! - Stopping a node closes its listener and drops its connections; its
//!   data stays (the log is shared), so a stop is a network-level crash,
//!   not a disk-level one. Process crashes are the reliability suite's
//!   business (a `durian broker` child process and SIGKILL).
//! - Leaders do not move back to a restarted node by themselves.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use durian_broker::testing::Cluster;
//! use kafka_protocol::messages::ApiKey;
//! use kafka_protocol::ResponseError;
//!
//! let cluster = Cluster::builder().nodes(3).seed(42).start().await?;
//! cluster.create_topic("events", 6).await?;
//! let bootstrap = cluster.bootstrap(); // "127.0.0.1:p0,127.0.0.1:p1,127.0.0.1:p2"
//!
//! cluster.move_leader("events", 0, 2)?;          // epoch bumped
//! cluster.stop_broker(1).await?;                 // connections dropped, leaders re-elected
//! cluster.start_broker(1).await?;                // same port
//! cluster.move_coordinator("my-group", 0)?;      // old coordinator says NOT_COORDINATOR
//! cluster.kill_connections(0)?;
//! cluster.faults().on(2).api(ApiKey::Produce).fail_next(3, ResponseError::NotLeaderOrFollower);
//! cluster.faults().on(0).api(ApiKey::Produce).drop_response_next(1);
//! cluster.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! docs/CLUSTER.md describes every control.

mod cluster;
mod faults;
mod node;
pub mod reference;

pub use crate::server::intercept::RequestInfo;
pub use crate::topology::Placement;
pub use cluster::{Cluster, ClusterBuilder, ClusterError};
pub use faults::{Fault, FaultTarget, Faults, HookId, RequestLog, RuleId, Times};
