//! Error responses: a valid response of an API that carries one error code
//! in every per-item error field, shaped for the request's version.
//!
//! Used two ways: the fault layer of the `testing` feature answers a
//! request it was told to fail (`Interception::Fail`, see
//! `server::intercept`) without applying it ([`injected`]), and the
//! handlers answer NOT_COORDINATOR or a partition error when the receiving
//! node does not coordinate the group or lead the partition. Builders exist for Produce, Fetch, ListOffsets,
//! Metadata, FindCoordinator, the group APIs (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups,
//! ListGroups, DeleteGroups, OffsetDelete), InitProducerId, DeleteRecords,
//! OffsetForLeaderEpoch and DescribeCluster. For other APIs `build`
//! returns `None` and the caller closes the connection, which every client
//! treats as a retriable network error.

mod data;
mod groups;
#[cfg(feature = "testing")]
mod injected;
mod leader_epoch;
#[cfg(all(test, feature = "testing"))]
mod tests;

pub use data::*;
pub use groups::*;
#[cfg(feature = "testing")]
pub use injected::*;
pub use leader_epoch::*;
