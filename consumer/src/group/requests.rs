//! Group protocol requests and the leader's assignment, as pure functions.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;

use crate::assignor::protocol::{
    decode_subscription, encode_assignment, encode_subscription, Subscription,
};
use crate::assignor::{Assignor, MemberSubscription, PartitionRacks};
use crate::config::ConsumerConfig;
use crate::types::TopicPartition;

/// The consumer protocol type of JoinGroup.
pub const PROTOCOL_TYPE: &str = "consumer";

fn s(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

fn millis(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Who this member is in the group right now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberIdentityState {
    /// The member id ("" before the first join).
    pub member_id: String,
    /// The generation of the last completed join (-1 before).
    pub generation: i32,
    /// How many times the membership task has reported partitions lost,
    /// counted after each report is queued: a commit taken before a loss
    /// must not follow the member into a later generation (the lost
    /// partitions may have a new owner by then).
    pub losses: u64,
}

/// A JoinGroup request offering every configured assignor.
pub fn join_request(
    config: &ConsumerConfig,
    group_id: &str,
    member_id: &str,
    topics: &BTreeSet<String>,
    owned: &[TopicPartition],
    generation: i32,
    reason: &str,
) -> Result<JoinGroupRequest, String> {
    let subscription = Subscription {
        topics: topics.iter().cloned().collect(),
        user_data: None,
        owned: owned.to_vec(),
        generation,
        rack: config.client_rack.clone(),
    };
    let metadata = encode_subscription(&subscription)?;
    let protocols = config
        .assignors
        .iter()
        .map(|a| {
            JoinGroupRequestProtocol::default()
                .with_name(s(a.name()))
                .with_metadata(metadata.clone())
        })
        .collect();
    Ok(JoinGroupRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_session_timeout_ms(millis(config.session_timeout))
        .with_rebalance_timeout_ms(millis(config.max_poll_interval))
        .with_member_id(s(member_id))
        .with_group_instance_id(config.group_instance_id.as_deref().map(s))
        .with_protocol_type(s(PROTOCOL_TYPE))
        .with_protocols(protocols)
        .with_reason(Some(s(reason))))
}

/// The leader's work: decode members, run the assignor, encode results.
/// `partition_counts` must cover every topic any member subscribes to;
/// `partition_racks` (the racks of their replicas) may be empty.
pub fn leader_assignments(
    assignor: &dyn Assignor,
    response: &JoinGroupResponse,
    partition_counts: &BTreeMap<String, i32>,
    partition_racks: &PartitionRacks,
) -> Result<Vec<SyncGroupRequestAssignment>, String> {
    let members = member_subscriptions(response)?;
    let result = assignor.assign_with_racks(partition_counts, &members, partition_racks);
    members
        .iter()
        .map(|m| {
            let partitions: Vec<TopicPartition> = result
                .get(&m.member_id)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default();
            Ok(SyncGroupRequestAssignment::default()
                .with_member_id(s(&m.member_id))
                .with_assignment(encode_assignment(&partitions)?))
        })
        .collect()
}

/// Every member's subscription from a leader's JoinGroup response.
pub fn member_subscriptions(
    response: &JoinGroupResponse,
) -> Result<Vec<MemberSubscription>, String> {
    response
        .members
        .iter()
        .map(|m| {
            let sub = decode_subscription(&m.metadata)
                .map_err(|e| format!("member {}: {e}", m.member_id.as_str()))?;
            Ok(MemberSubscription {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|g| g.to_string()),
                topics: sub.topics.into_iter().collect(),
                owned: sub.owned,
                generation: sub.generation,
                rack: sub.rack,
            })
        })
        .collect()
}

/// Topics any member of a leader's JoinGroup response subscribes to.
pub fn all_member_topics(members: &[MemberSubscription]) -> BTreeSet<String> {
    members
        .iter()
        .flat_map(|m| m.topics.iter().cloned())
        .collect()
}

/// A SyncGroup request (the leader passes assignments, followers none).
pub fn sync_request(
    config: &ConsumerConfig,
    group_id: &str,
    identity: &MemberIdentityState,
    protocol_name: &str,
    assignments: Vec<SyncGroupRequestAssignment>,
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_generation_id(identity.generation)
        .with_member_id(s(&identity.member_id))
        .with_group_instance_id(config.group_instance_id.as_deref().map(s))
        .with_protocol_type(Some(s(PROTOCOL_TYPE)))
        .with_protocol_name(Some(s(protocol_name)))
        .with_assignments(assignments)
}

/// A Heartbeat request.
pub fn heartbeat_request(
    config: &ConsumerConfig,
    group_id: &str,
    identity: &MemberIdentityState,
) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_generation_id(identity.generation)
        .with_member_id(s(&identity.member_id))
        .with_group_instance_id(config.group_instance_id.as_deref().map(s))
}

/// A LeaveGroup request: the single member up to v2, the member list from v3.
pub fn leave_request(
    config: &ConsumerConfig,
    group_id: &str,
    member_id: &str,
    reason: &str,
    version: i16,
) -> LeaveGroupRequest {
    let request = LeaveGroupRequest::default().with_group_id(GroupId(s(group_id)));
    if version >= 3 {
        request.with_members(vec![MemberIdentity::default()
            .with_member_id(s(member_id))
            .with_group_instance_id(config.group_instance_id.as_deref().map(s))
            .with_reason((version >= 5).then(|| s(reason)))])
    } else {
        request.with_member_id(s(member_id))
    }
}

/// Partition counts of `topics` from a metadata snapshot (missing topics left out).
pub fn partition_counts(
    metadata: &durian_core::ClusterMetadata,
    topics: &BTreeSet<String>,
) -> BTreeMap<String, i32> {
    topics
        .iter()
        .filter_map(|t| {
            let meta = metadata.topic(t)?;
            (meta.error.is_none() && !meta.partitions.is_empty()).then(|| {
                (
                    t.clone(),
                    i32::try_from(meta.partitions.len()).unwrap_or(i32::MAX),
                )
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::assignor::protocol::decode_assignment;
    use crate::assignor::RangeAssignor;
    use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;

    fn config() -> ConsumerConfig {
        ConsumerConfig::new(
            durian_core::ClientConfig::builder()
                .bootstrap_servers(["h:1"])
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn leader_assigns_from_member_metadata() {
        let topics: BTreeSet<String> = ["t".to_string()].into();
        let join = join_request(&config(), "g", "", &topics, &[], -1, "test").unwrap();
        assert_eq!(join.protocols.len(), 2);
        assert_eq!(join.protocols[0].name.as_str(), "range");
        let metadata = join.protocols[0].metadata.clone();
        let response = JoinGroupResponse::default().with_members(
            ["m1", "m2"]
                .iter()
                .map(|id| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(id))
                        .with_metadata(metadata.clone())
                })
                .collect(),
        );
        let counts: BTreeMap<String, i32> = [("t".to_string(), 4)].into();
        let assignments =
            leader_assignments(&RangeAssignor, &response, &counts, &PartitionRacks::new()).unwrap();
        let decoded: Vec<Vec<TopicPartition>> = assignments
            .iter()
            .map(|a| decode_assignment(&a.assignment).unwrap())
            .collect();
        assert_eq!(
            decoded[0],
            [TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
        );
        assert_eq!(
            decoded[1],
            [TopicPartition::new("t", 2), TopicPartition::new("t", 3)]
        );
    }

    #[test]
    fn leave_request_fits_each_version() {
        use kafka_protocol::protocol::Encodable;
        for version in 0..=5 {
            let request = leave_request(&config(), "g", "m", "closing", version);
            request
                .encode(&mut bytes::BytesMut::new(), version)
                .unwrap();
        }
    }

    #[test]
    fn garbage_member_metadata_is_an_error_not_a_panic() {
        let response =
            JoinGroupResponse::default().with_members(vec![JoinGroupResponseMember::default()
                .with_member_id(s("m"))
                .with_metadata(bytes::Bytes::from_static(&[0, 1, 0xff, 0xff, 0xff, 0x7f]))]);
        assert!(member_subscriptions(&response).is_err());
    }
}
