//! One member of a classic group, and the requests it may have parked.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Who sent a request: shown by DescribeGroups and used as the prefix of new member ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The `client_id` of the request header (e.g. `rdkafka`, `consumer-1`).
    pub client_id: String,
    /// The client's address as the broker sees it, conventionally `/host` (e.g. `/127.0.0.1`).
    pub client_host: String,
}

/// A JoinGroup request waiting for its rebalance to complete.
pub(crate) struct ParkedJoin {
    pub reply: oneshot::Sender<JoinGroupResponse>,
    /// The request's version: the response is shaped for it.
    pub version: i16,
}

/// A SyncGroup request waiting for the leader's assignment.
pub(crate) struct ParkedSync {
    pub reply: oneshot::Sender<SyncGroupResponse>,
    pub version: i16,
}

/// The member's view of the join parameters that may change on every JoinGroup.
pub(crate) struct JoinParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client: ClientInfo,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    /// (assignor name, opaque subscription metadata), in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub version: i16,
}

/// A member of a group, known by its member id.
pub(crate) struct Member {
    pub id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    pub client: ClientInfo,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Bytes)>,
    /// What the leader assigned to this member in the current generation (opaque).
    pub assignment: Bytes,
    pub parked_join: Option<ParkedJoin>,
    pub parked_sync: Option<ParkedSync>,
    /// Whether the member sent SyncGroup in the current generation.
    pub synced: bool,
    /// When the member is considered dead unless it heartbeats or parks a request first.
    pub session_deadline: Instant,
}

impl Member {
    /// A member created from a JoinGroup with the given (already assigned) member id.
    pub fn new(id: String, params: &JoinParams, now: Instant) -> Member {
        Member {
            id,
            instance_id: params.instance_id.clone(),
            client: params.client.clone(),
            session_timeout: params.session_timeout,
            rebalance_timeout: params.rebalance_timeout,
            protocols: params.protocols.clone(),
            assignment: Bytes::new(),
            parked_join: None,
            parked_sync: None,
            synced: false,
            session_deadline: now + params.session_timeout,
        }
    }

    /// Takes the timeouts, client and protocols of a newer JoinGroup.
    pub fn update(&mut self, params: &JoinParams) {
        self.client = params.client.clone();
        self.session_timeout = params.session_timeout;
        self.rebalance_timeout = params.rebalance_timeout;
        self.protocols = params.protocols.clone();
    }

    /// Whether a JoinGroup carries exactly the protocols (and metadata) the member has.
    pub fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    /// Whether the member lists the assignor `name`.
    pub fn supports(&self, name: &str) -> bool {
        self.protocols.iter().any(|(p, _)| p == name)
    }

    /// The member's subscription metadata for the assignor `name` (empty if it has none).
    pub fn metadata_for(&self, name: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }

    /// Pushes the session deadline out by one session timeout.
    pub fn touch(&mut self, now: Instant) {
        self.session_deadline = now + self.session_timeout;
    }

    /// Parked requests keep a member alive: the coordinator, not the client, owes a reply.
    pub fn is_parked(&self) -> bool {
        self.parked_join.is_some() || self.parked_sync.is_some()
    }
}

/// A fresh member id: `prefix-<random UUID>`, as Kafka forms them from the client id (or the
/// instance id of a static member).
pub(crate) fn new_member_id(prefix: &str) -> String {
    let bits: u128 = rand::random();
    let hex = format!("{bits:032x}");
    format!(
        "{prefix}-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_member_ids_are_unique_and_prefixed() {
        let a = new_member_id("client");
        let b = new_member_id("client");
        assert_ne!(a, b);
        assert!(a.starts_with("client-"));
        assert_eq!(a.len(), "client-".len() + 36);
    }
}
