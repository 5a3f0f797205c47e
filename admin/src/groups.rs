//! Listing, describing and deleting consumer groups.
//!
//! Every broker coordinates some groups, so listing asks every broker and
//! merges the lists. Describing and deleting look up the coordinators of
//! all groups in one FindCoordinator round, then send one request per
//! coordinator:
//!
//! ```text
//! [g1, g2, g3] ──FindCoordinator──▶ {1: [g1, g3], 2: [g2]} ──DescribeGroups ×2──▶ merge
//! ```
//!
//! `NOT_COORDINATOR` and `COORDINATOR_LOAD_IN_PROGRESS` answers are retried
//! (the cached coordinator of the group is forgotten first).

use std::collections::BTreeMap;

use durian_core::error::Invalidates;
use durian_core::{CoordinatorKind, Result, Target};
use futures::future::join_all;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse,
};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::member_assignment::decode_assignment;
use crate::routing::{check, fail_all, per_item, send_versioned, split, unique};
use crate::types::{missing, GroupDescription, GroupListing, ItemResults, MemberDescription};
use crate::Admin;

pub(crate) fn group_id(id: &str) -> GroupId {
    GroupId(StrBytes::from_string(id.to_owned()))
}

/// A group's entry in a describe response: DescribeGroups and
/// ConsumerGroupDescribe answer each group with an id and an error.
pub(crate) trait GroupEntry {
    /// The group id the entry answers for.
    fn entry_id(&self) -> &str;
    /// The entry's error, if any.
    fn entry_error(&self) -> Result<()>;
}

/// Both responses' entries carry the same fields under the same names.
macro_rules! group_entry {
    ($entry:ty) => {
        impl GroupEntry for $entry {
            fn entry_id(&self) -> &str {
                self.group_id.0.as_str()
            }

            fn entry_error(&self) -> Result<()> {
                check(self.error_code, self.error_message.as_ref())
            }
        }
    };
}

group_entry!(DescribedGroup);
group_entry!(kafka_protocol::messages::consumer_group_describe_response::DescribedGroup);

/// One result per asked-for group: its entry in `entries` made into a
/// `T` by `describe`, or the entry's error, or a protocol error when the
/// response left the group out.
pub(crate) fn per_group<G: GroupEntry, T>(
    groups: &[String],
    entries: &[G],
    describe: impl Fn(&str, &G) -> T,
) -> Vec<(String, Result<T>)> {
    groups
        .iter()
        .map(|id| {
            let result = match entries.iter().find(|g| g.entry_id() == id) {
                None => Err(missing(format_args!("group `{id}`"))),
                Some(group) => group.entry_error().map(|()| describe(id, group)),
            };
            (id.clone(), result)
        })
        .collect()
}

/// The groups of one coordinator's ListGroups response.
pub(crate) fn parse_list_groups(
    response: &ListGroupsResponse,
    coordinator: i32,
) -> Result<Vec<GroupListing>> {
    check(response.error_code, None)?;
    Ok(response
        .groups
        .iter()
        .map(|g| GroupListing {
            group_id: g.group_id.0.to_string(),
            protocol_type: g.protocol_type.to_string(),
            state: g.group_state.to_string(),
            group_type: g.group_type.to_string(),
            coordinator,
        })
        .collect())
}

/// A DescribeGroups request for `groups`.
pub(crate) fn describe_groups_request(groups: &[String]) -> DescribeGroupsRequest {
    DescribeGroupsRequest::default().with_groups(groups.iter().map(|g| group_id(g)).collect())
}

/// One description per asked-for group from a DescribeGroups response.
pub(crate) fn parse_describe_groups(
    response: &DescribeGroupsResponse,
    groups: &[String],
    coordinator: i32,
) -> Vec<(String, Result<GroupDescription>)> {
    per_group(groups, &response.groups, |id, group| {
        describe(id, group, coordinator)
    })
}

fn describe(id: &str, group: &DescribedGroup, coordinator: i32) -> GroupDescription {
    let consumer = group.protocol_type.as_str() == "consumer";
    let members = group
        .members
        .iter()
        .map(|m| MemberDescription {
            member_id: m.member_id.to_string(),
            group_instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
            client_id: m.client_id.to_string(),
            client_host: m.client_host.to_string(),
            assignment: consumer
                .then(|| decode_assignment(&m.member_assignment))
                .flatten()
                .unwrap_or_default(),
        })
        .collect();
    GroupDescription {
        group_id: id.to_owned(),
        state: group.group_state.to_string(),
        protocol_type: group.protocol_type.to_string(),
        protocol: group.protocol_data.to_string(),
        members,
        coordinator,
    }
}

/// A DeleteGroups request for `groups`.
pub(crate) fn delete_groups_request(groups: &[String]) -> DeleteGroupsRequest {
    DeleteGroupsRequest::default().with_groups_names(groups.iter().map(|g| group_id(g)).collect())
}

/// One result per asked-for group from a DeleteGroups response.
pub(crate) fn parse_delete_groups(
    response: &DeleteGroupsResponse,
    groups: &[String],
) -> Vec<(String, Result<()>)> {
    groups
        .iter()
        .map(|id| {
            let found = response
                .results
                .iter()
                .find(|r| r.group_id.0.as_str() == id);
            let result = match found {
                None => Err(missing(format_args!("group `{id}`"))),
                Some(r) => check(r.error_code, None),
            };
            (id.clone(), result)
        })
        .collect()
}

impl Admin {
    /// Lists the groups of every broker in the cluster. Fails if any
    /// broker cannot be asked, since the list would be incomplete.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "list_groups"))]
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        self.retrying(|| self.list_groups_once()).await
    }

    async fn list_groups_once(&self) -> Result<Vec<GroupListing>> {
        let mut metadata = self.client.metadata();
        if metadata.brokers.is_empty() {
            metadata = self.client.refresh_metadata("listing groups").await?;
        }
        let requests = metadata.brokers.keys().map(|&node| async move {
            let (_, response) = send_versioned(&self.client, &Target::Broker(node), |_| {
                Ok(ListGroupsRequest::default())
            })
            .await?;
            parse_list_groups(&response, node)
        });
        let mut groups = Vec::new();
        for listed in join_all(requests).await {
            groups.extend(listed?);
        }
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(groups)
    }

    /// Describes groups: state, protocol and members with their assigned
    /// partitions; one result per group.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_groups"))]
    pub async fn describe_groups<I, S>(&self, groups: I) -> ItemResults<String, GroupDescription>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.per_coordinator(
            CoordinatorKind::Group,
            groups,
            describe_groups_request,
            parse_describe_groups,
        )
        .await
    }

    /// Deletes groups and their committed offsets; one result per group
    /// (`NON_EMPTY_GROUP` while a group has members).
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "delete_groups"))]
    pub async fn delete_groups<I, S>(&self, groups: I) -> ItemResults<String, ()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.per_coordinator(
            CoordinatorKind::Group,
            groups,
            delete_groups_request,
            |response, batch, _| parse_delete_groups(response, batch),
        )
        .await
    }

    /// One result per key (duplicates dropped), retried per key: each
    /// round looks up the `kind` coordinators of the pending keys and sends
    /// one request per coordinator, built by `request` from the keys it
    /// coordinates, whose answer `parse` reads (with the coordinator's id);
    /// a request that fails fails its keys. Groups and transactional ids
    /// share this path.
    pub(crate) async fn per_coordinator<I, S, V, R, B, P>(
        &self,
        kind: CoordinatorKind,
        keys: I,
        request: B,
        parse: P,
    ) -> ItemResults<String, V>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        R: Request,
        B: Fn(&[String]) -> R,
        P: Fn(&R::Response, &[String], i32) -> Vec<(String, Result<V>)>,
    {
        let keys = unique(keys.into_iter().map(Into::into));
        let (request, parse) = (&request, &parse);
        per_item(
            &self.client,
            &self.retry_settings(),
            keys,
            |pending| async move {
                self.by_coordinator(kind, pending, |node, batch| async move {
                    let sent = send_versioned(&self.client, &Target::Broker(node), |_| {
                        Ok(request(&batch))
                    })
                    .await;
                    match sent {
                        Ok((_, response)) => parse(&response, &batch, node),
                        Err(error) => fail_all(&batch, &error),
                    }
                })
                .await
            },
        )
        .await
    }

    /// Looks up the `kind` coordinators of `keys` (group ids or
    /// transactional ids), runs `send` once per coordinator concurrently,
    /// and forgets the coordinators of keys whose answer says it moved.
    async fn by_coordinator<V, F, Fut>(
        &self,
        kind: CoordinatorKind,
        keys: Vec<String>,
        send: F,
    ) -> Vec<(String, Result<V>)>
    where
        F: Fn(i32, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Vec<(String, Result<V>)>>,
    {
        let found = match self.client.find_coordinators(kind, &keys).await {
            Ok(found) => found,
            Err(error) => return fail_all(&keys, &error),
        };
        let coordinators: BTreeMap<String, Result<i32>> = found
            .into_iter()
            .map(|(group, broker)| (group, broker.map(|b| b.node_id)))
            .collect();
        let split = split(keys, |key| match coordinators.get(key) {
            Some(Ok(node)) => Ok(*node),
            Some(Err(error)) => Err(error.clone()),
            None => Err(missing(format_args!("the {kind:?} coordinator of `{key}`"))),
        });
        let mut results: Vec<(String, Result<V>)> = split
            .unroutable
            .into_iter()
            .map(|(key, error)| (key, Err(error)))
            .collect();
        let requests = split
            .routed
            .into_iter()
            .map(|(node, batch)| send(node, batch));
        results.extend(join_all(requests).await.into_iter().flatten());
        for (key, result) in &results {
            if let Err(error) = result {
                if error.invalidates() == Invalidates::Coordinator {
                    self.client.invalidate_coordinator(kind, key);
                }
            }
        }
        results
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::KafkaCode;
    use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
    use kafka_protocol::messages::describe_groups_response::DescribedGroupMember;
    use kafka_protocol::messages::list_groups_response::ListedGroup;

    fn text(s: &'static str) -> StrBytes {
        StrBytes::from_static_str(s)
    }

    #[test]
    fn list_groups_tags_the_coordinator_and_checks_errors() {
        let response = ListGroupsResponse::default().with_groups(vec![ListedGroup::default()
            .with_group_id(group_id("g"))
            .with_protocol_type(text("consumer"))
            .with_group_state(text("Empty"))
            .with_group_type(text("classic"))]);
        let groups = parse_list_groups(&response, 3).unwrap();
        assert_eq!(
            (groups[0].group_id.as_str(), groups[0].coordinator),
            ("g", 3)
        );
        assert_eq!(groups[0].state, "Empty");
        assert_eq!(groups[0].group_type, "classic");
        let failed = ListGroupsResponse::default().with_error_code(14);
        assert_eq!(
            parse_list_groups(&failed, 1).unwrap_err().kafka_code(),
            Some(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
    }

    #[test]
    fn describe_decodes_consumer_assignments_and_per_group_errors() {
        // Version 0, one topic "t" with partition 2, no user data.
        let assignment = [
            0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 2, 255, 255, 255, 255,
        ];
        let response = DescribeGroupsResponse::default().with_groups(vec![
            DescribedGroup::default()
                .with_group_id(group_id("g"))
                .with_group_state(text("Stable"))
                .with_protocol_type(text("consumer"))
                .with_protocol_data(text("range"))
                .with_members(vec![DescribedGroupMember::default()
                    .with_member_id(text("m1"))
                    .with_member_assignment(bytes::Bytes::copy_from_slice(&assignment))]),
            DescribedGroup::default()
                .with_group_id(group_id("busy"))
                .with_error_code(14),
        ]);
        let asked = ["g".to_owned(), "busy".to_owned()];
        let results = parse_describe_groups(&response, &asked, 5);
        let g = results[0].1.as_ref().unwrap();
        assert_eq!(
            (g.state.as_str(), g.protocol.as_str(), g.coordinator),
            ("Stable", "range", 5)
        );
        assert_eq!(
            g.members[0].assignment,
            [crate::TopicPartition::new("t", 2)]
        );
        assert_eq!(
            results[1].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
    }

    #[test]
    fn delete_groups_maps_each_group() {
        let request = delete_groups_request(&["a".into(), "b".into()]);
        assert_eq!(request.groups_names.len(), 2);
        let response = DeleteGroupsResponse::default().with_results(vec![
            DeletableGroupResult::default().with_group_id(group_id("a")),
            DeletableGroupResult::default()
                .with_group_id(group_id("b"))
                .with_error_code(68),
        ]);
        let results = parse_delete_groups(&response, &["a".into(), "b".into()]);
        assert!(results[0].1.is_ok());
        assert_eq!(
            results[1].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::NON_EMPTY_GROUP)
        );
    }
}
