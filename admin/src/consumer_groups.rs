//! Describing consumer groups of either protocol (KIP-848).
//!
//! ```text
//! [g1, g2] ──ConsumerGroupDescribe──▶ g1: described (consumer protocol)
//!                                     g2: GROUP_ID_NOT_FOUND, or no API 69
//!                                          └──DescribeGroups──▶ g2 (classic)
//! ```
//!
//! Kafka answers ConsumerGroupDescribe for a classic group with
//! GROUP_ID_NOT_FOUND, and brokers before 3.7 lack the API; those groups
//! are described again with DescribeGroups, as Java's admin client does.

use durian_core::{Error, KafkaCode, Result};
use kafka_protocol::messages::consumer_group_describe_response::{Assignment, DescribedGroup};
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};

use crate::groups::{group_id, per_group};
use crate::types::{GroupDescription, ItemResults, TopicPartition};
use crate::Admin;

/// Which membership protocol a described group uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupProtocolKind {
    /// KIP-848: ConsumerGroupHeartbeat, assignment by the coordinator.
    Consumer,
    /// JoinGroup/SyncGroup (described with DescribeGroups).
    Classic,
}

/// A consumer group described by [`Admin::describe_consumer_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupDescription {
    /// Group id.
    pub group_id: String,
    /// The group's protocol.
    pub protocol: GroupProtocolKind,
    /// Group state: `Empty`, `Assigning`, `Reconciling`, `Stable`, `Dead`
    /// (consumer protocol), or the classic states.
    pub state: String,
    /// The group epoch (consumer protocol only).
    pub group_epoch: Option<i32>,
    /// The epoch of the target assignment (consumer protocol only).
    pub assignment_epoch: Option<i32>,
    /// The assignor: the broker-side one (consumer protocol) or the one the
    /// members chose (classic, while stable).
    pub assignor: String,
    /// The members.
    pub members: Vec<ConsumerGroupMember>,
    /// The coordinator's node id.
    pub coordinator: i32,
}

impl ConsumerGroupDescription {
    /// A group without members, state or epochs; the fields are public to
    /// fill in. For tests and mock admin clients.
    pub fn new(group_id: impl Into<String>, protocol: GroupProtocolKind, coordinator: i32) -> Self {
        ConsumerGroupDescription {
            group_id: group_id.into(),
            protocol,
            state: String::new(),
            group_epoch: None,
            assignment_epoch: None,
            assignor: String::new(),
            members: Vec::new(),
            coordinator,
        }
    }
}

/// One member of a [`ConsumerGroupDescription`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupMember {
    /// Member id.
    pub member_id: String,
    /// Static membership id, if any.
    pub group_instance_id: Option<String>,
    /// The member's rack (consumer protocol only).
    pub rack: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host as seen by the coordinator.
    pub client_host: String,
    /// The member epoch (consumer protocol only).
    pub member_epoch: Option<i32>,
    /// Subscribed topic names (consumer protocol only; empty otherwise).
    pub subscribed_topics: Vec<String>,
    /// The subscribed regular expression, if any (consumer protocol only).
    pub subscribed_topic_regex: Option<String>,
    /// The partitions the member owns.
    pub assignment: Vec<TopicPartition>,
    /// The partitions the coordinator wants it to own (consumer protocol
    /// only): differs from `assignment` while the member reconciles.
    pub target_assignment: Option<Vec<TopicPartition>>,
}

impl ConsumerGroupMember {
    /// A dynamic member with no subscription, epoch or partitions; the
    /// fields are public to fill in. For tests and mock admin clients.
    pub fn new(
        member_id: impl Into<String>,
        client_id: impl Into<String>,
        client_host: impl Into<String>,
    ) -> Self {
        ConsumerGroupMember {
            member_id: member_id.into(),
            group_instance_id: None,
            rack: None,
            client_id: client_id.into(),
            client_host: client_host.into(),
            member_epoch: None,
            subscribed_topics: Vec::new(),
            subscribed_topic_regex: None,
            assignment: Vec::new(),
            target_assignment: None,
        }
    }
}

/// A ConsumerGroupDescribe request for `groups`.
pub(crate) fn consumer_group_describe_request(groups: &[String]) -> ConsumerGroupDescribeRequest {
    ConsumerGroupDescribeRequest::default()
        .with_group_ids(groups.iter().map(|g| group_id(g)).collect())
}

fn partitions(assignment: &Assignment) -> Vec<TopicPartition> {
    assignment
        .topic_partitions
        .iter()
        .flat_map(|t| {
            let topic = t.topic_name.0.to_string();
            t.partitions
                .iter()
                .map(move |p| TopicPartition::new(topic.as_str(), *p))
        })
        .collect()
}

fn describe(group: &DescribedGroup, coordinator: i32) -> ConsumerGroupDescription {
    let members = group
        .members
        .iter()
        .map(|m| ConsumerGroupMember {
            member_id: m.member_id.to_string(),
            group_instance_id: m.instance_id.as_ref().map(|i| i.to_string()),
            rack: m.rack_id.as_ref().map(|r| r.to_string()),
            client_id: m.client_id.to_string(),
            client_host: m.client_host.to_string(),
            member_epoch: Some(m.member_epoch),
            subscribed_topics: m
                .subscribed_topic_names
                .iter()
                .map(|t| t.0.to_string())
                .collect(),
            subscribed_topic_regex: m.subscribed_topic_regex.as_ref().map(|r| r.to_string()),
            assignment: partitions(&m.assignment),
            target_assignment: Some(partitions(&m.target_assignment)),
        })
        .collect();
    ConsumerGroupDescription {
        group_id: group.group_id.0.to_string(),
        protocol: GroupProtocolKind::Consumer,
        state: group.group_state.to_string(),
        group_epoch: Some(group.group_epoch),
        assignment_epoch: Some(group.assignment_epoch),
        assignor: group.assignor_name.to_string(),
        members,
        coordinator,
    }
}

/// One result per asked-for group from a ConsumerGroupDescribe response.
pub(crate) fn parse_consumer_group_describe(
    response: &ConsumerGroupDescribeResponse,
    groups: &[String],
    coordinator: i32,
) -> Vec<(String, Result<ConsumerGroupDescription>)> {
    per_group(groups, &response.groups, |_, group| {
        describe(group, coordinator)
    })
}

/// A classic group's DescribeGroups answer in the common shape.
pub(crate) fn from_classic(group: GroupDescription) -> ConsumerGroupDescription {
    ConsumerGroupDescription {
        group_id: group.group_id,
        protocol: GroupProtocolKind::Classic,
        state: group.state,
        group_epoch: None,
        assignment_epoch: None,
        assignor: group.protocol,
        members: group
            .members
            .into_iter()
            .map(|m| ConsumerGroupMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                rack: None,
                client_id: m.client_id,
                client_host: m.client_host,
                member_epoch: None,
                subscribed_topics: Vec::new(),
                subscribed_topic_regex: None,
                assignment: m.assignment,
                target_assignment: None,
            })
            .collect(),
        coordinator: group.coordinator,
    }
}

/// Whether a ConsumerGroupDescribe failure means "ask DescribeGroups".
fn needs_classic(error: &Error) -> bool {
    matches!(error, Error::UnsupportedVersion { .. })
        || error.kafka_code() == Some(KafkaCode::GROUP_ID_NOT_FOUND)
}

impl Admin {
    /// Describes consumer groups of either protocol: state, epochs,
    /// assignor and members with their assignment and (consumer protocol)
    /// target assignment. Groups that ConsumerGroupDescribe does not know
    /// as consumer-protocol groups (GROUP_ID_NOT_FOUND, or a broker without
    /// the API) are described with DescribeGroups instead.
    pub async fn describe_consumer_groups<I, S>(
        &self,
        groups: I,
    ) -> ItemResults<String, ConsumerGroupDescription>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut results = self
            .per_coordinator(
                durian_core::CoordinatorKind::Group,
                groups,
                consumer_group_describe_request,
                parse_consumer_group_describe,
            )
            .await;
        let classic: Vec<String> = results
            .iter()
            .filter(|(_, result)| result.as_ref().is_err_and(needs_classic))
            .map(|(id, _)| id.clone())
            .collect();
        if !classic.is_empty() {
            for (id, result) in self.describe_groups(classic).await {
                results.insert(id, result.map(from_classic));
            }
        }
        results
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::consumer_group_describe_response::{Member, TopicPartitions};
    use kafka_protocol::messages::{GroupId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn s(v: &str) -> StrBytes {
        StrBytes::from_string(v.to_owned())
    }

    fn assignment(topic: &str, parts: &[i32]) -> Assignment {
        Assignment::default().with_topic_partitions(vec![TopicPartitions::default()
            .with_topic_name(TopicName(s(topic)))
            .with_partitions(parts.to_vec())])
    }

    #[test]
    fn a_described_group_keeps_epochs_and_both_assignments() {
        let member = Member::default()
            .with_member_id(s("m1"))
            .with_instance_id(Some(s("i1")))
            .with_member_epoch(7)
            .with_client_id(s("c"))
            .with_client_host(s("/10.0.0.1"))
            .with_subscribed_topic_names(vec![TopicName(s("t"))])
            .with_assignment(assignment("t", &[0]))
            .with_target_assignment(assignment("t", &[0, 1]));
        let response = ConsumerGroupDescribeResponse::default().with_groups(vec![
            DescribedGroup::default()
                .with_group_id(GroupId(s("g")))
                .with_group_state(s("Reconciling"))
                .with_group_epoch(8)
                .with_assignment_epoch(8)
                .with_assignor_name(s("uniform"))
                .with_members(vec![member]),
            DescribedGroup::default()
                .with_group_id(GroupId(s("old")))
                .with_error_code(KafkaCode::GROUP_ID_NOT_FOUND.0),
        ]);
        let groups = ["g".to_owned(), "old".to_owned(), "absent".to_owned()];
        let parsed = parse_consumer_group_describe(&response, &groups, 3);
        let g = parsed[0].1.as_ref().unwrap();
        assert_eq!(g.protocol, GroupProtocolKind::Consumer);
        assert_eq!((g.group_epoch, g.assignment_epoch), (Some(8), Some(8)));
        assert_eq!(g.assignor, "uniform");
        assert_eq!(g.coordinator, 3);
        let m = &g.members[0];
        assert_eq!(m.member_epoch, Some(7));
        assert_eq!(m.group_instance_id.as_deref(), Some("i1"));
        assert_eq!(m.subscribed_topics, ["t"]);
        assert_eq!(m.assignment, [TopicPartition::new("t", 0)]);
        assert_eq!(
            m.target_assignment.as_deref().unwrap(),
            [TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
        );
        let old = parsed[1].1.as_ref().unwrap_err();
        assert!(needs_classic(old), "{old}");
        let absent = parsed[2].1.as_ref().unwrap_err();
        assert!(!needs_classic(absent), "{absent}");
    }

    #[test]
    fn a_classic_group_keeps_its_members() {
        let mut classic = GroupDescription::new("c", 1);
        classic.state = "Stable".into();
        classic.protocol = "range".into();
        let mut member = crate::MemberDescription::new("m", "client", "/h");
        member.assignment = vec![TopicPartition::new("t", 2)];
        classic.members = vec![member];
        let described = from_classic(classic);
        assert_eq!(described.protocol, GroupProtocolKind::Classic);
        assert_eq!(described.assignor, "range");
        assert_eq!(described.group_epoch, None);
        assert_eq!(
            described.members[0].assignment,
            [TopicPartition::new("t", 2)]
        );
        assert_eq!(described.members[0].target_assignment, None);
    }
}
