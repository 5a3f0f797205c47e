//! DescribeGroups, ListGroups and DeleteGroups: looking at groups and removing them.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::consumer::GroupKind;
use super::heartbeat::NONE;
use super::member::ClientInfo;
use super::offset_record::LogRecord;
use super::state::{Group, GroupState};
use super::GroupCoordinator;

/// READ, DELETE and DESCRIBE (bits 3, 6 and 8): what anyone may do to a group here, as no
/// ACLs exist.
pub(crate) const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

/// A member as DescribeGroups shows it, before any protocol bytes: the
/// same fields for a classic and a consumer-protocol member.
fn described_member(
    id: &str,
    instance_id: Option<&str>,
    client: &ClientInfo,
) -> DescribedGroupMember {
    DescribedGroupMember::default()
        .with_member_id(text(id))
        .with_group_instance_id(instance_id.map(text))
        .with_client_id(text(&client.client_id))
        .with_client_host(text(&client.client_host))
}

/// DescribeGroups' entry for group `id`, whichever protocol it runs.
fn described_group(
    id: &str,
    state: &str,
    protocol_type: &str,
    protocol: &str,
    members: Vec<DescribedGroupMember>,
    include_operations: bool,
) -> DescribedGroup {
    let described = DescribedGroup::default()
        .with_group_id(GroupId(text(id)))
        .with_group_state(text(state))
        .with_protocol_type(text(protocol_type))
        .with_protocol_data(text(protocol))
        .with_members(members);
    if include_operations {
        described.with_authorized_operations(GROUP_OPERATIONS)
    } else {
        described
    }
}

impl Group {
    /// Kafka's group summary: members with metadata and assignment only once Stable.
    fn describe(&self, include_operations: bool) -> DescribedGroup {
        if self.kind == GroupKind::Consumer {
            return self.describe_consumer_group(include_operations);
        }
        let stable = self.state == GroupState::Stable;
        let protocol = self
            .protocol
            .as_deref()
            .filter(|_| stable)
            .unwrap_or_default();
        let members = self
            .members
            .iter()
            .map(|m| {
                let member = described_member(&m.id, m.instance_id.as_deref(), &m.client);
                if stable {
                    member
                        .with_member_metadata(m.metadata_for(protocol))
                        .with_member_assignment(m.assignment.clone())
                } else {
                    member
                }
            })
            .collect();
        described_group(
            &self.id,
            self.state.name(),
            self.protocol_type.as_deref().unwrap_or_default(),
            protocol,
            members,
            include_operations,
        )
    }
}

impl Group {
    /// A consumer-protocol group in DescribeGroups' classic shape: its state name, protocol
    /// type `consumer`, the assignor as protocol, and members without metadata or assignment
    /// bytes (those exist only in the classic protocol).
    fn describe_consumer_group(&self, include_operations: bool) -> DescribedGroup {
        let consumer = &self.consumer;
        let members = consumer
            .members
            .values()
            .map(|m| described_member(&m.id, m.instance_id.as_deref(), &m.client))
            .collect();
        let protocol = if consumer.members.is_empty() {
            ""
        } else {
            consumer.assignor.name()
        };
        described_group(
            &self.id,
            consumer.state_name(),
            "consumer",
            protocol,
            members,
            include_operations,
        )
    }

    /// The state name ListGroups reports for the group's kind.
    fn listed_state(&self) -> &'static str {
        match self.kind {
            GroupKind::Classic => self.state.name(),
            GroupKind::Consumer if self.state == GroupState::Dead => self.state.name(),
            GroupKind::Consumer => self.consumer.state_name(),
        }
    }
}

impl GroupCoordinator {
    /// DescribeGroups (v0-5). Unknown groups are reported in state `Dead` without error, as
    /// Kafka does before v6.
    pub async fn describe_groups(
        &self,
        req: DescribeGroupsRequest,
        version: i16,
    ) -> DescribeGroupsResponse {
        self.ensure_sweeper();
        let include_operations = version >= 3 && req.include_authorized_operations;
        let mut groups = Vec::with_capacity(req.groups.len());
        for group_id in &req.groups {
            let described = if self.shared.is_closed() {
                DescribedGroup::default()
                    .with_group_id(group_id.clone())
                    .with_error_code(ResponseError::NotCoordinator.code())
            } else if let Some(slot) = self.shared.slot(group_id) {
                slot.group.lock().await.describe(include_operations)
            } else {
                DescribedGroup::default()
                    .with_group_id(group_id.clone())
                    .with_group_state(text(GroupState::Dead.name()))
            };
            groups.push(described);
        }
        DescribeGroupsResponse::default().with_groups(groups)
    }

    /// ListGroups (v0-5): every live group; v4+ filters by state name and v5+ by group type
    /// (both case-insensitively).
    pub async fn list_groups(&self, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
        self.ensure_sweeper();
        if self.shared.is_closed() {
            return ListGroupsResponse::default()
                .with_error_code(ResponseError::NotCoordinator.code());
        }
        let wanted_type = |kind: GroupKind| {
            version < 5
                || req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(kind.name()))
        };
        let states: Vec<&StrBytes> = if version >= 4 {
            req.states_filter.iter().collect()
        } else {
            Vec::new()
        };
        let mut listed = Vec::new();
        for (id, slot) in self.shared.snapshot() {
            let group = slot.group.lock().await;
            let state = group.listed_state();
            if group.state == GroupState::Dead
                || !wanted_type(group.kind)
                || !(states.is_empty() || states.iter().any(|s| s.eq_ignore_ascii_case(state)))
            {
                continue;
            }
            listed.push(
                ListedGroup::default()
                    .with_group_id(GroupId(text(&id)))
                    .with_protocol_type(text(group.protocol_type.as_deref().unwrap_or_default()))
                    .with_group_state(text(state))
                    .with_group_type(text(group.kind.name())),
            );
        }
        ListGroupsResponse::default().with_groups(listed)
    }

    /// DeleteGroups (v0-2): deletes groups without members, with all their offsets.
    pub async fn delete_groups(
        &self,
        req: DeleteGroupsRequest,
        version: i16,
    ) -> DeleteGroupsResponse {
        let _ = version;
        self.ensure_sweeper();
        let mut results = Vec::with_capacity(req.groups_names.len());
        for group_id in &req.groups_names {
            let code = self.delete_group(group_id).await;
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(group_id.clone())
                    .with_error_code(code),
            );
        }
        DeleteGroupsResponse::default().with_results(results)
    }

    async fn delete_group(&self, group_id: &str) -> i16 {
        if self.shared.is_closed() {
            return ResponseError::NotCoordinator.code();
        }
        let Some(slot) = self.shared.slot(group_id) else {
            return ResponseError::GroupIdNotFound.code();
        };
        let mut group = slot.group.lock().await;
        match group.state {
            GroupState::Dead => return ResponseError::GroupIdNotFound.code(),
            GroupState::Empty if group.is_empty() => {}
            _ => return ResponseError::NonEmptyGroup.code(),
        }
        let tombstone = LogRecord::GroupTombstone {
            group: group_id.to_owned(),
        };
        if let Err(e) = self.shared.store.write(vec![tombstone]).await {
            tracing::error!(group = %group_id, error = %e, "group deletion could not be written");
            return ResponseError::UnknownServerError.code();
        }
        group.shut(ResponseError::CoordinatorNotAvailable);
        drop(group);
        slot.wake.notify_one();
        self.shared.remove_slot(group_id, &slot);
        NONE
    }
}
