//! Committed offsets and log offsets: requests, responses, and the calls.
//!
//! ```text
//!  commit:   positions ──offset_commit_request──▶ coordinator ──parse_offset_commit──▶ per-partition errors
//!  fetch:    assigned  ──offset_fetch_request───▶ coordinator ──parse_offset_fetch───▶ committed offsets
//!  reset:    partitions ─list_offsets_request───▶ each leader ──parse_list_offsets───▶ log offsets
//! ```
//!
//! Request builders fill the fields of every version (e.g. OffsetFetch's
//! single group and its v8+ list of groups) because the version is chosen
//! per connection; parsers read whichever the response used.

use std::collections::{BTreeMap, BTreeSet};

use durian_core::{ClusterMetadata, Error as CoreError, KafkaCode, KafkaError};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    BrokerId, GroupId, ListOffsetsRequest, ListOffsetsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::config::IsolationLevel;
use crate::types::{OffsetAndMetadata, TopicPartition};

/// ListOffsets timestamp meaning "the log start offset".
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets timestamp meaning "the high watermark" (or last stable offset).
pub const LATEST_TIMESTAMP: i64 = -1;

/// Who is committing: the generation and member the coordinator knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitIdentity {
    /// The group.
    pub group_id: String,
    /// Generation of the current assignment (-1 outside a group generation).
    pub generation: i32,
    /// Member id ("" outside a group generation).
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// The membership task's loss count when the identity was taken
    /// ([`crate::group::MemberIdentityState::losses`]); not sent.
    pub losses: u64,
    /// The consumer's revocation count when the identity was taken
    /// ([`crate::group::GroupHandle::revocations`]); not sent.
    pub revocations: u64,
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn by_topic<'a, V>(
    entries: impl IntoIterator<Item = (&'a TopicPartition, V)>,
) -> BTreeMap<&'a str, Vec<(i32, V)>> {
    let mut grouped: BTreeMap<&str, Vec<(i32, V)>> = BTreeMap::new();
    for (tp, value) in entries {
        grouped
            .entry(&tp.topic)
            .or_default()
            .push((tp.partition, value));
    }
    grouped
}

/// An OffsetCommit request for `offsets`.
pub fn offset_commit_request(
    identity: &CommitIdentity,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    metadata: &ClusterMetadata,
) -> OffsetCommitRequest {
    let topics = by_topic(offsets.iter())
        .into_iter()
        .map(|(topic, partitions)| {
            let mut entry = OffsetCommitRequestTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(partition, offset)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(partition)
                                .with_committed_offset(offset.offset)
                                .with_committed_leader_epoch(offset.leader_epoch.unwrap_or(-1))
                                .with_committed_metadata(Some(str_bytes(
                                    offset.metadata.as_deref().unwrap_or(""),
                                )))
                        })
                        .collect(),
                );
            if let Some(meta) = metadata.topic(topic) {
                entry = entry.with_topic_id(meta.topic_id);
            }
            entry
        })
        .collect();
    OffsetCommitRequest::default()
        .with_group_id(GroupId(str_bytes(&identity.group_id)))
        .with_generation_id_or_member_epoch(identity.generation)
        .with_member_id(str_bytes(&identity.member_id))
        .with_group_instance_id(identity.group_instance_id.as_deref().map(str_bytes))
        .with_retention_time_ms(-1)
        .with_topics(topics)
}

/// The per-partition errors of an OffsetCommit response (empty on success).
pub fn parse_offset_commit(
    response: &OffsetCommitResponse,
    metadata: &ClusterMetadata,
) -> Vec<(TopicPartition, KafkaCode)> {
    let mut errors = Vec::new();
    for topic in &response.topics {
        let name = topic_name(&topic.name.0, &topic.topic_id, metadata);
        for p in &topic.partitions {
            if p.error_code != 0 {
                errors.push((
                    TopicPartition::new(name.as_str(), p.partition_index),
                    KafkaCode(p.error_code),
                ));
            }
        }
    }
    errors
}

pub(crate) fn topic_name(name: &str, id: &uuid::Uuid, metadata: &ClusterMetadata) -> String {
    if !name.is_empty() {
        return name.to_owned();
    }
    metadata
        .topics
        .values()
        .find(|t| &t.topic_id == id)
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

/// An OffsetFetch request for the committed offsets of `partitions`:
/// one group with its topics up to v7, a list of groups from v8.
pub fn offset_fetch_request(
    group_id: &str,
    partitions: &BTreeSet<TopicPartition>,
    version: i16,
) -> OffsetFetchRequest {
    let grouped = by_topic(partitions.iter().map(|tp| (tp, ())));
    let indexes = |parts: &Vec<(i32, ())>| -> Vec<i32> { parts.iter().map(|(p, _)| *p).collect() };
    if version >= 8 {
        let topics = grouped
            .iter()
            .map(|(topic, parts)| {
                OffsetFetchRequestTopics::default()
                    .with_name(TopicName(str_bytes(topic)))
                    .with_partition_indexes(indexes(parts))
            })
            .collect();
        OffsetFetchRequest::default()
            .with_topics(Some(Vec::new()))
            .with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(str_bytes(group_id)))
                .with_topics(Some(topics))])
            .with_require_stable(true)
    } else {
        let topics = grouped
            .iter()
            .map(|(topic, parts)| {
                OffsetFetchRequestTopic::default()
                    .with_name(TopicName(str_bytes(topic)))
                    .with_partition_indexes(indexes(parts))
            })
            .collect();
        OffsetFetchRequest::default()
            .with_group_id(GroupId(str_bytes(group_id)))
            .with_topics(Some(topics))
            .with_require_stable(version >= 7)
    }
}

/// Committed offsets from an OffsetFetch response: `None` for partitions
/// without a commit. A group-level or partition-level error fails the
/// whole lookup, since a partial answer would start some partitions at the
/// wrong place.
pub fn parse_offset_fetch(
    response: &OffsetFetchResponse,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>, CoreError> {
    let mut out = BTreeMap::new();
    let mut take = |topic: &str,
                    partition: i32,
                    offset: i64,
                    epoch: i32,
                    metadata: Option<&StrBytes>,
                    code: i16| {
        KafkaError::check(code, None)?;
        let value = (offset >= 0).then(|| OffsetAndMetadata {
            offset,
            metadata: metadata.map(|m| m.to_string()).filter(|m| !m.is_empty()),
            leader_epoch: (epoch >= 0).then_some(epoch),
        });
        out.insert(TopicPartition::new(topic, partition), value);
        Ok::<(), CoreError>(())
    };
    if let Some(group) = response.groups.first() {
        KafkaError::check(group.error_code, None)?;
        for topic in &group.topics {
            for p in &topic.partitions {
                take(
                    &topic.name,
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                    p.error_code,
                )?;
            }
        }
    } else {
        KafkaError::check(response.error_code, None)?;
        for topic in &response.topics {
            for p in &topic.partitions {
                take(
                    &topic.name,
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref(),
                    p.error_code,
                )?;
            }
        }
    }
    Ok(out)
}

/// A ListOffsets request asking, per partition, for the offset at
/// `timestamp`, naming the leader epoch the consumer knows (`leader_epoch`,
/// -1 unknown) so a stale leader refuses rather than answers (KIP-320).
pub fn list_offsets_request(
    partitions: &BTreeMap<TopicPartition, i64>,
    isolation: IsolationLevel,
    leader_epoch: impl Fn(&str, i32) -> i32,
) -> ListOffsetsRequest {
    let topics = by_topic(partitions.iter())
        .into_iter()
        .map(|(topic, parts)| {
            ListOffsetsTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partitions(
                    parts
                        .into_iter()
                        .map(|(partition, timestamp)| {
                            ListOffsetsPartition::default()
                                .with_partition_index(partition)
                                .with_current_leader_epoch(leader_epoch(topic, partition))
                                .with_timestamp(*timestamp)
                        })
                        .collect(),
                )
        })
        .collect();
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation.as_i8())
        .with_topics(topics)
}

/// Offsets (and their timestamps) from a ListOffsets response, or the
/// partition's error. An offset of -1 means no record at or after the
/// requested timestamp.
pub fn parse_list_offsets(
    response: &ListOffsetsResponse,
) -> BTreeMap<TopicPartition, Result<(i64, i64), KafkaCode>> {
    let mut out = BTreeMap::new();
    for topic in &response.topics {
        for p in &topic.partitions {
            let result = if p.error_code != 0 {
                Err(KafkaCode(p.error_code))
            } else {
                Ok((p.offset, p.timestamp))
            };
            out.insert(
                TopicPartition::new(topic.name.as_str(), p.partition_index),
                result,
            );
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    };

    #[test]
    fn commit_request_carries_epoch_and_metadata() {
        let identity = CommitIdentity {
            group_id: "g".into(),
            generation: 4,
            member_id: "m".into(),
            group_instance_id: None,
            losses: 0,
            revocations: 0,
        };
        let mut offsets = BTreeMap::new();
        offsets.insert(
            TopicPartition::new("t", 1),
            OffsetAndMetadata {
                offset: 10,
                metadata: Some("note".into()),
                leader_epoch: Some(3),
            },
        );
        let request = offset_commit_request(&identity, &offsets, &ClusterMetadata::default());
        assert_eq!(request.generation_id_or_member_epoch, 4);
        let p = &request.topics[0].partitions[0];
        assert_eq!(
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch
            ),
            (1, 10, 3)
        );
        assert_eq!(p.committed_metadata.as_deref(), Some("note"));
    }

    #[test]
    fn list_offsets_request_names_the_known_leader_epoch() {
        let partitions = BTreeMap::from([(TopicPartition::new("t", 2), EARLIEST_TIMESTAMP)]);
        let request =
            list_offsets_request(&partitions, IsolationLevel::ReadCommitted, |topic, p| {
                if topic == "t" && p == 2 {
                    7
                } else {
                    -1
                }
            });
        let p = &request.topics[0].partitions[0];
        assert_eq!(
            (p.current_leader_epoch, p.timestamp),
            (7, EARLIEST_TIMESTAMP)
        );
    }

    #[test]
    fn offset_fetch_request_fits_each_version() {
        use kafka_protocol::protocol::Encodable;
        let partitions = BTreeSet::from([TopicPartition::new("t", 0), TopicPartition::new("t", 3)]);
        for version in 1..=9 {
            let request = offset_fetch_request("g", &partitions, version);
            let mut buf = bytes::BytesMut::new();
            request.encode(&mut buf, version).unwrap();
        }
        assert_eq!(
            offset_fetch_request("g", &partitions, 8).groups[0]
                .topics
                .as_ref()
                .unwrap()[0]
                .partition_indexes,
            [0, 3]
        );
    }

    #[test]
    fn offset_fetch_distinguishes_none_from_committed() {
        let response =
            OffsetFetchResponse::default().with_topics(vec![OffsetFetchResponseTopic::default()
                .with_name(TopicName(str_bytes("t")))
                .with_partitions(vec![
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(-1),
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(42)
                        .with_committed_leader_epoch(2),
                ])]);
        let parsed = parse_offset_fetch(&response).unwrap();
        assert_eq!(parsed[&TopicPartition::new("t", 0)], None);
        assert_eq!(
            parsed[&TopicPartition::new("t", 1)]
                .as_ref()
                .unwrap()
                .offset,
            42
        );
        assert_eq!(
            parsed[&TopicPartition::new("t", 1)]
                .as_ref()
                .unwrap()
                .leader_epoch,
            Some(2)
        );
        let failing = OffsetFetchResponse::default()
            .with_error_code(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS.0);
        assert!(parse_offset_fetch(&failing).unwrap_err().is_retriable());
    }
}
