//! OffsetCommit, OffsetFetch and OffsetDelete.
//!
//! Commits are checked against the group's membership and generation under the group lock
//! and acknowledged only after the offset log has them; fetches read the store directly.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::consumer::GroupKind;
use super::error::GroupError;
use super::heartbeat::NONE;
use super::offset_record::{CommittedOffset, LogRecord};
use super::state::{Group, GroupState};
use super::subscription;
use super::GroupCoordinator;
use crate::clock::now_ms;

/// Requested partitions per topic; `None` asks for every committed partition of the group.
type TopicSelection = Option<Vec<(String, Vec<i32>)>>;
/// Fetched offsets per topic and partition (`None`: nothing committed).
type FetchedOffsets = Vec<(String, Vec<(i32, Option<CommittedOffset>)>)>;

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

impl Group {
    /// Why a commit from `member_id` at `generation` (a member epoch in a consumer-protocol
    /// group) must be refused, if it must.
    fn commit_error(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        version: i16,
    ) -> Option<ResponseError> {
        if self.state == GroupState::Dead {
            return Some(ResponseError::CoordinatorNotAvailable);
        }
        if self.kind == GroupKind::Consumer {
            return self.consumer_commit_error(member_id, generation, version);
        }
        if self.is_fenced(member_id, instance_id) {
            return Some(ResponseError::FencedInstanceId);
        }
        if generation < 0 && self.state == GroupState::Empty {
            // A "simple" commit: the group only uses the broker to store offsets.
            return None;
        }
        if self.member(member_id).is_none() {
            return Some(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Some(ResponseError::IllegalGeneration);
        }
        if self.state == GroupState::CompletingRebalance {
            // The member has its JoinGroup response but no assignment yet.
            return Some(ResponseError::RebalanceInProgress);
        }
        None
    }

    /// Kafka's checks of a commit to a consumer-protocol group: epoch -1 commits while it has
    /// no members; otherwise the member must exist, use OffsetCommit v9+ and send its
    /// current member epoch.
    fn consumer_commit_error(
        &self,
        member_id: &str,
        epoch: i32,
        version: i16,
    ) -> Option<ResponseError> {
        if epoch < 0 && self.consumer.members.is_empty() {
            return None;
        }
        let Some(member) = self.consumer.members.get(member_id) else {
            return Some(ResponseError::UnknownMemberId);
        };
        if version < 9 {
            return Some(ResponseError::UnsupportedVersion);
        }
        (epoch != member.epoch()).then_some(ResponseError::StaleMemberEpoch)
    }

    /// OffsetFetch v9's member check in a consumer-protocol group: a request naming a
    /// member (or an epoch) must come from a current member at its current epoch.
    fn fetch_error(&self, member_id: Option<&str>, epoch: i32) -> Option<ResponseError> {
        if self.kind != GroupKind::Consumer || (member_id.is_none() && epoch < 0) {
            return None;
        }
        let Some(member) = member_id.and_then(|id| self.consumer.members.get(id)) else {
            return Some(ResponseError::UnknownMemberId);
        };
        (epoch != member.epoch()).then_some(ResponseError::StaleMemberEpoch)
    }

    /// Topics the members subscribe to; `None` when a subscription cannot be read, which
    /// callers must treat as "possibly subscribed to anything".
    fn subscribed_topics(&self) -> Option<std::collections::HashSet<String>> {
        subscription::union_of(
            self.members
                .iter()
                .flat_map(|m| m.protocols.iter().map(|(_, metadata)| metadata.as_ref())),
        )
    }
}

fn commit_response(req: &OffsetCommitRequest, codes: &[i16]) -> OffsetCommitResponse {
    let mut codes = codes.iter().copied();
    let topics = req
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(codes.next().unwrap_or(NONE))
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

impl GroupCoordinator {
    /// OffsetCommit (v2-9). Members commit with their generation; a commit with generation
    /// -1 (assign()-mode consumers, admin tools) is accepted while the group has no members.
    pub async fn offset_commit(
        &self,
        req: OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        self.ensure_sweeper();
        let partitions: usize = req.topics.iter().map(|t| t.partitions.len()).sum();
        let reject_all =
            |code: ResponseError| commit_response(&req, &vec![code.code(); partitions]);
        if self.shared.is_closed() {
            return reject_all(ResponseError::NotCoordinator);
        }
        let group_id = req.group_id.0.to_string();
        let generation = req.generation_id_or_member_epoch;
        let slot = if generation < 0 {
            match self.shared.slot_or_create(&group_id) {
                Some(slot) => Some(slot),
                None => return reject_all(ResponseError::NotCoordinator),
            }
        } else {
            self.shared.slot(&group_id)
        };
        let Some(slot) = slot else {
            // Unknown group with a real generation: the member's group is long gone.
            return reject_all(ResponseError::IllegalGeneration);
        };
        let mut group = slot.group.lock().await;
        let instance_id = req.group_instance_id.as_deref();
        if let Some(error) = group.commit_error(&req.member_id, instance_id, generation, version) {
            return reject_all(error);
        }
        let timestamp = now_ms();
        let max_metadata = self.shared.config.offset_metadata_max_bytes;
        let mut records = Vec::with_capacity(partitions + 1);
        let mut codes = Vec::with_capacity(partitions);
        for topic in &req.topics {
            for p in &topic.partitions {
                let metadata = p
                    .committed_metadata
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                if metadata.len() > max_metadata {
                    codes.push(ResponseError::OffsetMetadataTooLarge.code());
                    continue;
                }
                codes.push(NONE);
                records.push(LogRecord::Commit {
                    group: group_id.clone(),
                    topic: topic.name.0.to_string(),
                    partition: p.partition_index,
                    offset: CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: Some(metadata),
                        commit_timestamp_ms: timestamp,
                    },
                });
            }
        }
        if let Some(protocol_type) = group.protocol_type.clone() {
            // A consumer-protocol group persists its group epoch in the generation's place,
            // so after a restart its epochs go on from there.
            let generation = match group.kind {
                GroupKind::Classic => group.generation,
                GroupKind::Consumer => group.consumer.group_epoch,
            };
            let current = Some((protocol_type.clone(), generation));
            if !records.is_empty() && self.shared.store.meta(&group_id) != current {
                records.push(LogRecord::GroupMeta {
                    group: group_id.clone(),
                    protocol_type,
                    generation,
                });
            }
        }
        if let Err(e) = self.shared.store.write(records).await {
            tracing::error!(group = %group_id, error = %e, "offset commit could not be written");
            // Kafka answers a storage failure of the offsets log with
            // NOT_COORDINATOR: the client looks the coordinator up again
            // and retries, instead of failing the commit for good.
            let code = match e {
                GroupError::Io { .. } => ResponseError::NotCoordinator.code(),
                _ => ResponseError::UnknownServerError.code(),
            };
            for slot in codes.iter_mut().filter(|c| **c == NONE) {
                *slot = code;
            }
        }
        // Committing proves the member alive, as a heartbeat would.
        if let Some(member) = group.member_mut(&req.member_id) {
            member.touch(Instant::now());
        }
        drop(group);
        slot.wake.notify_one();
        commit_response(&req, &codes)
    }

    /// Looks up committed offsets of one group.
    fn fetch_offsets(&self, group_id: &str, topics: TopicSelection) -> Result<FetchedOffsets, i16> {
        if self.shared.is_closed() {
            return Err(ResponseError::NotCoordinator.code());
        }
        let store = &self.shared.store;
        let Some(topics) = topics else {
            let mut by_topic: BTreeMap<String, Vec<(i32, Option<CommittedOffset>)>> =
                BTreeMap::new();
            for ((topic, partition), offset) in store.all(group_id) {
                by_topic
                    .entry(topic)
                    .or_default()
                    .push((partition, Some(offset)));
            }
            return Ok(by_topic.into_iter().collect());
        };
        Ok(topics
            .into_iter()
            .map(|(topic, partitions)| {
                let offsets = partitions
                    .into_iter()
                    .map(|p| (p, store.get(group_id, &topic, p)))
                    .collect();
                (topic, offsets)
            })
            .collect())
    }

    /// OffsetFetch (v1-9): committed offsets, -1 for partitions without one; null topics
    /// (v2+) means every partition the group committed. v8+ asks for several groups.
    pub async fn offset_fetch(&self, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        self.ensure_sweeper();
        if version >= 8 {
            let mut groups = Vec::with_capacity(req.groups.len());
            for g in &req.groups {
                let topics = g.topics.as_ref().map(|topics| {
                    topics
                        .iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let member_error = match self.shared.slot(&g.group_id.0) {
                    Some(slot) if version >= 9 => slot
                        .group
                        .lock()
                        .await
                        .fetch_error(g.member_id.as_deref(), g.member_epoch),
                    _ => None,
                };
                let fetched = match member_error {
                    Some(error) => Err(error.code()),
                    None => self.fetch_offsets(&g.group_id.0, topics),
                };
                let (topics, code) = match fetched {
                    Ok(fetched) => (topics_v8(fetched), NONE),
                    Err(code) => (Vec::new(), code),
                };
                groups.push(
                    OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_topics(topics)
                        .with_error_code(code),
                );
            }
            return OffsetFetchResponse::default().with_groups(groups);
        }
        let requested: TopicSelection = req.topics.as_ref().map(|topics| {
            topics
                .iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                .collect()
        });
        match self.fetch_offsets(&req.group_id.0, requested.clone()) {
            Ok(fetched) => OffsetFetchResponse::default().with_topics(topics_v1(fetched, NONE)),
            Err(code) => {
                // v1 has no top-level error code: repeat it on every requested partition.
                let echoed = requested
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(topic, partitions)| {
                        (topic, partitions.into_iter().map(|p| (p, None)).collect())
                    })
                    .collect();
                let topics = if version < 2 {
                    topics_v1(echoed, code)
                } else {
                    Vec::new()
                };
                OffsetFetchResponse::default()
                    .with_error_code(code)
                    .with_topics(topics)
            }
        }
    }

    /// OffsetDelete (v0): removes committed offsets of an empty group, or of topics an
    /// active consumer group does not subscribe to.
    pub async fn offset_delete(
        &self,
        req: OffsetDeleteRequest,
        version: i16,
    ) -> OffsetDeleteResponse {
        let _ = version;
        self.ensure_sweeper();
        let top_error =
            |code: ResponseError| OffsetDeleteResponse::default().with_error_code(code.code());
        if self.shared.is_closed() {
            return top_error(ResponseError::NotCoordinator);
        }
        let group_id = req.group_id.0.to_string();
        let Some(slot) = self.shared.slot(&group_id) else {
            return top_error(ResponseError::GroupIdNotFound);
        };
        let group = slot.group.lock().await;
        let subscribed = match group.state {
            GroupState::Dead => return top_error(ResponseError::GroupIdNotFound),
            _ if !group.consumer.members.is_empty() => Some(group.consumer.subscribed_topics()),
            GroupState::Empty => Some(Default::default()),
            _ if group.protocol_type.as_deref() == Some("consumer") => group.subscribed_topics(),
            _ => return top_error(ResponseError::NonEmptyGroup),
        };
        let mut tombstones = Vec::new();
        let mut topics = Vec::with_capacity(req.topics.len());
        for topic in &req.topics {
            let name = topic.name.0.to_string();
            let in_use = subscribed.as_ref().is_none_or(|s| s.contains(&name));
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in &topic.partitions {
                let code = if in_use {
                    ResponseError::GroupSubscribedToTopic.code()
                } else {
                    if self
                        .shared
                        .store
                        .get(&group_id, &name, p.partition_index)
                        .is_some()
                    {
                        tombstones.push(LogRecord::OffsetTombstone {
                            group: group_id.clone(),
                            topic: name.clone(),
                            partition: p.partition_index,
                        });
                    }
                    NONE
                };
                partitions.push(
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code),
                );
            }
            topics.push(
                OffsetDeleteResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions),
            );
        }
        if let Err(e) = self.shared.store.write(tombstones).await {
            tracing::error!(group = %group_id, error = %e, "offset deletion could not be written");
            return top_error(ResponseError::UnknownServerError);
        }
        drop(group);
        OffsetDeleteResponse::default().with_topics(topics)
    }
}

fn topics_v1(fetched: FetchedOffsets, code: i16) -> Vec<OffsetFetchResponseTopic> {
    fetched
        .into_iter()
        .map(|(topic, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|(index, offset)| {
                    let (offset, epoch, metadata) = unpack(offset);
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(index)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(epoch)
                        .with_metadata(Some(metadata))
                        .with_error_code(code)
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(topic_name(&topic))
                .with_partitions(partitions)
        })
        .collect()
}

fn topics_v8(fetched: FetchedOffsets) -> Vec<OffsetFetchResponseTopics> {
    fetched
        .into_iter()
        .map(|(topic, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|(index, offset)| {
                    let (offset, epoch, metadata) = unpack(offset);
                    OffsetFetchResponsePartitions::default()
                        .with_partition_index(index)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(epoch)
                        .with_metadata(Some(metadata))
                })
                .collect();
            OffsetFetchResponseTopics::default()
                .with_name(topic_name(&topic))
                .with_partitions(partitions)
        })
        .collect()
}

/// Offset, leader epoch and metadata as OffsetFetch reports them; -1/-1/"" when none.
fn unpack(offset: Option<CommittedOffset>) -> (i64, i32, StrBytes) {
    match offset {
        Some(o) => (
            o.offset,
            o.leader_epoch,
            StrBytes::from_string(o.metadata.unwrap_or_default()),
        ),
        None => (-1, -1, StrBytes::default()),
    }
}
