//! A group's committed offsets: reading them with the lag behind each
//! partition's end, and moving them (explicitly, or reset to earliest,
//! latest or a timestamp).
//!
//! ```text
//! list:  OffsetFetch (coordinator) ──▶ committed ─┐
//!        ListOffsets latest (leaders) ──▶ end ────┴─▶ lag = end − committed
//! reset: ListOffsets (leaders) ──▶ targets ──▶ OffsetCommit (coordinator, generation −1)
//! ```
//!
//! Offsets are moved with a "simple" commit (generation −1, no member id),
//! which a coordinator accepts only while the group has no members: stop
//! the consumers first, as with Kafka's own tools (`UNKNOWN_MEMBER_ID`
//! otherwise).

use std::collections::BTreeMap;

use durian_core::{CoordinatorKind, Result, Target};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::groups::group_id;
use crate::offsets::per_asked_partition;
use crate::routing::{check, fail_all, per_item, send_versioned, unique};
use crate::topics::topic_name;
use crate::types::{
    missing, GroupOffsetLag, ItemResults, ListedOffset, OffsetResetTarget, OffsetSpec,
    TopicPartition,
};
use crate::Admin;

/// The first OffsetFetch version that batches groups.
const BATCHED_OFFSET_FETCH: i16 = 8;

/// A committed offset as read by OffsetFetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Committed {
    pub offset: Option<i64>,
    pub metadata: Option<String>,
    /// The leader epoch the commit named (OffsetFetch v5+; -1 on the wire
    /// when the committer gave none).
    pub leader_epoch: Option<i32>,
}

fn partitions_by_topic(partitions: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics.entry(&tp.topic).or_default().push(tp.partition);
    }
    topics
}

/// An OffsetFetch request for `group` at `version`: the given partitions,
/// or every partition the group committed when `None`.
pub(crate) fn offset_fetch_request(
    group: &str,
    partitions: Option<&[TopicPartition]>,
    version: i16,
) -> OffsetFetchRequest {
    let topics = partitions.map(partitions_by_topic);
    if version >= BATCHED_OFFSET_FETCH {
        let topics = topics.map(|topics| {
            topics
                .into_iter()
                .map(|(topic, indexes)| {
                    OffsetFetchRequestTopics::default()
                        .with_name(topic_name(topic))
                        .with_partition_indexes(indexes)
                })
                .collect()
        });
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(group))
            .with_topics(topics)])
    } else {
        let topics = topics.map(|topics| {
            topics
                .into_iter()
                .map(|(topic, indexes)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(topic_name(topic))
                        .with_partition_indexes(indexes)
                })
                .collect()
        });
        OffsetFetchRequest::default()
            .with_group_id(group_id(group))
            .with_topics(topics)
    }
}

/// One partition of an OffsetFetch answer: error code, offset, leader
/// epoch and metadata.
type Row = (TopicPartition, i16, i64, i32, Option<StrBytes>);

/// The group's committed offsets from an OffsetFetch response; a
/// group-level error fails the whole answer.
pub(crate) fn parse_offset_fetch(
    response: &OffsetFetchResponse,
    group: &str,
    version: i16,
) -> Result<ItemResults<TopicPartition, Committed>> {
    let rows: Vec<Row> = if version >= BATCHED_OFFSET_FETCH {
        let found = response
            .groups
            .iter()
            .find(|g| g.group_id.0.as_str() == group)
            .ok_or_else(|| missing(format_args!("group `{group}`")))?;
        check(found.error_code, None)?;
        found
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
                    (
                        tp,
                        p.error_code,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.clone(),
                    )
                })
            })
            .collect()
    } else {
        check(response.error_code, None)?;
        response
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
                    (
                        tp,
                        p.error_code,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.clone(),
                    )
                })
            })
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|(tp, code, offset, leader_epoch, metadata)| {
            let committed = check(code, None).map(|()| Committed {
                offset: (offset >= 0).then_some(offset),
                metadata: metadata.map(|m| m.to_string()),
                leader_epoch: (leader_epoch >= 0).then_some(leader_epoch),
            });
            (tp, committed)
        })
        .collect())
}

/// Committed offsets joined with end offsets; partitions absent from the
/// OffsetFetch answer count as "nothing committed".
pub(crate) fn join_lag(
    partitions: Option<&[TopicPartition]>,
    committed: ItemResults<TopicPartition, Committed>,
    ends: &ItemResults<TopicPartition, ListedOffset>,
) -> ItemResults<TopicPartition, GroupOffsetLag> {
    let mut committed = committed;
    if let Some(partitions) = partitions {
        for tp in partitions {
            committed.entry(tp.clone()).or_insert(Ok(Committed {
                offset: None,
                metadata: None,
                leader_epoch: None,
            }));
        }
    }
    committed
        .into_iter()
        .map(|(tp, result)| {
            let joined = result.map(|c| {
                let end_offset = ends
                    .get(&tp)
                    .and_then(|e| e.as_ref().ok())
                    .and_then(|e| e.offset);
                let lag = match (c.offset, end_offset) {
                    (Some(committed), Some(end)) => Some((end - committed).max(0)),
                    _ => None,
                };
                GroupOffsetLag {
                    committed: c.offset,
                    metadata: c.metadata,
                    leader_epoch: c.leader_epoch,
                    end_offset,
                    lag,
                }
            });
            (tp, joined)
        })
        .collect()
}

/// A simple OffsetCommit (generation −1, no member) of `offsets` for `group`.
pub(crate) fn simple_commit_request(
    group: &str,
    offsets: &[(TopicPartition, i64)],
) -> OffsetCommitRequest {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset) in offsets {
        topics.entry(&tp.topic).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(*offset),
        );
    }
    OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(topic, partitions)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(topic))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// One result per asked-for partition from an OffsetCommit response.
pub(crate) fn parse_offset_commit(
    response: &OffsetCommitResponse,
    asked: &[TopicPartition],
) -> Vec<(TopicPartition, Result<()>)> {
    per_asked_partition(
        asked,
        &response.topics,
        |t| (t.name.0.as_str(), &t.partitions),
        |p| (p.partition_index, p.error_code),
        |_| (),
    )
}

fn coordinator(group: &str) -> Target {
    Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: group.to_owned(),
    }
}

impl Admin {
    /// A group's committed offsets with each partition's end offset and
    /// lag: for `partitions`, or every partition the group committed when
    /// `None`. Group-level failures (e.g. the coordinator cannot be
    /// reached) are the outer error; partition-level ones are per item.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "list_group_offsets", messaging.consumer.group.name = group))]
    pub async fn list_group_offsets(
        &self,
        group: &str,
        partitions: Option<Vec<TopicPartition>>,
    ) -> Result<ItemResults<TopicPartition, GroupOffsetLag>> {
        let partitions = partitions.map(unique);
        let committed = self.committed_offsets(group, partitions.as_deref()).await?;
        let wanted: Vec<TopicPartition> = match &partitions {
            Some(partitions) => partitions.clone(),
            None => committed.keys().cloned().collect(),
        };
        let ends = self
            .list_offsets(wanted.into_iter().map(|tp| (tp, OffsetSpec::Latest)))
            .await;
        Ok(join_lag(partitions.as_deref(), committed, &ends))
    }

    /// Sets a group's committed offsets; one result per partition. The
    /// group must have no active members.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "alter_group_offsets", messaging.consumer.group.name = group))]
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> ItemResults<TopicPartition, ()> {
        let offsets: BTreeMap<TopicPartition, i64> = offsets.into_iter().collect();
        let partitions: Vec<TopicPartition> = offsets.keys().cloned().collect();
        let offsets = &offsets;
        let target = coordinator(group);
        let target = &target;
        per_item(
            &self.client,
            &self.retry_settings(),
            partitions,
            |pending| async move {
                let batch: Vec<(TopicPartition, i64)> = pending
                    .iter()
                    .filter_map(|tp| offsets.get(tp).map(|o| (tp.clone(), *o)))
                    .collect();
                let sent = send_versioned(&self.client, target, |_| {
                    Ok(simple_commit_request(group, &batch))
                })
                .await;
                let results = match sent {
                    Ok((_, response)) => parse_offset_commit(&response, &pending),
                    Err(error) => fail_all(&pending, &error),
                };
                if let Some(error) = results.iter().find_map(|(_, r)| r.as_ref().err()) {
                    self.client.report_error(target, error);
                }
                results
            },
        )
        .await
    }

    /// Moves a group's offsets for `partitions` (every committed partition
    /// when `None`) to the earliest, latest, a timestamp's or a fixed
    /// offset; one result per partition with the offset committed.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "reset_group_offsets", messaging.consumer.group.name = group))]
    pub async fn reset_group_offsets(
        &self,
        group: &str,
        partitions: Option<Vec<TopicPartition>>,
        to: OffsetResetTarget,
    ) -> Result<ItemResults<TopicPartition, i64>> {
        let partitions = match partitions {
            Some(partitions) => unique(partitions),
            None => self
                .committed_offsets(group, None)
                .await?
                .into_keys()
                .collect(),
        };
        let mut targets = self.reset_targets(partitions, to).await;
        let ready: Vec<(TopicPartition, i64)> = targets
            .iter()
            .filter_map(|(tp, target)| target.as_ref().ok().map(|o| (tp.clone(), *o)))
            .collect();
        for (tp, committed) in self.alter_group_offsets(group, ready).await {
            if let Err(error) = committed {
                targets.insert(tp, Err(error));
            }
        }
        Ok(targets)
    }

    /// The offset each partition should be reset to.
    async fn reset_targets(
        &self,
        partitions: Vec<TopicPartition>,
        to: OffsetResetTarget,
    ) -> ItemResults<TopicPartition, i64> {
        let spec = match to {
            OffsetResetTarget::Offset(offset) => {
                return partitions.into_iter().map(|tp| (tp, Ok(offset))).collect()
            }
            OffsetResetTarget::Earliest => OffsetSpec::Earliest,
            OffsetResetTarget::Latest => OffsetSpec::Latest,
            OffsetResetTarget::Timestamp(ms) => OffsetSpec::Timestamp(ms),
        };
        let found = self
            .list_offsets(partitions.into_iter().map(|tp| (tp, spec)))
            .await;
        // No record at or after the timestamp: the partition's end, as
        // Kafka's reset tool does, so the group skips nothing it could read.
        let past_the_end: Vec<TopicPartition> = found
            .iter()
            .filter(|(_, r)| matches!(r, Ok(ListedOffset { offset: None, .. })))
            .map(|(tp, _)| tp.clone())
            .collect();
        let ends = self
            .list_offsets(past_the_end.into_iter().map(|tp| (tp, OffsetSpec::Latest)))
            .await;
        found
            .into_iter()
            .map(|(tp, listed)| {
                let offset = match listed {
                    Ok(ListedOffset {
                        offset: Some(offset),
                        ..
                    }) => Ok(offset),
                    Ok(_) => match ends.get(&tp) {
                        Some(Ok(ListedOffset {
                            offset: Some(end), ..
                        })) => Ok(*end),
                        Some(Err(error)) => Err(error.clone()),
                        _ => Err(missing(format_args!("the end offset of {tp}"))),
                    },
                    Err(error) => Err(error),
                };
                (tp, offset)
            })
            .collect()
    }

    /// The committed offsets of `group`, retried while the coordinator
    /// is loading or moving.
    async fn committed_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<ItemResults<TopicPartition, Committed>> {
        let target = coordinator(group);
        self.retrying(|| async {
            let (version, response) = send_versioned(&self.client, &target, |version| {
                Ok(offset_fetch_request(group, partitions, version))
            })
            .await?;
            let parsed = parse_offset_fetch(&response, group, version);
            if let Err(error) = &parsed {
                self.client.report_error(&target, error);
            }
            parsed
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::{Error, KafkaCode};
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    };

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    #[test]
    fn fetch_request_shape_follows_the_version() {
        let asked = [tp("a", 0), tp("a", 1), tp("b", 0)];
        let old = offset_fetch_request("g", Some(&asked), 7);
        assert_eq!(old.group_id.0.as_str(), "g");
        let topics = old.topics.clone().unwrap();
        assert_eq!(topics[0].partition_indexes, [0, 1]);
        assert!(old.groups.is_empty());
        let new = offset_fetch_request("g", None, 8);
        assert_eq!(new.groups[0].group_id.0.as_str(), "g");
        assert!(new.groups[0].topics.is_none());
        // Each shape must encode at its own version: the crate refuses
        // fields the version lacks.
        use kafka_protocol::protocol::Encodable;
        let mut buf = bytes::BytesMut::new();
        new.encode(&mut buf, 8).unwrap();
        old.encode(&mut buf, 7).unwrap();
        assert!(new.encode(&mut buf, 7).is_err());
    }

    #[test]
    fn fetch_response_of_both_shapes_parses_alike() {
        let old =
            OffsetFetchResponse::default().with_topics(vec![OffsetFetchResponseTopic::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(5)
                        .with_committed_leader_epoch(4),
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(-1),
                ])]);
        let new =
            OffsetFetchResponse::default().with_groups(vec![OffsetFetchResponseGroup::default()
                .with_group_id(group_id("g"))
                .with_topics(vec![OffsetFetchResponseTopics::default()
                    .with_name(topic_name("a"))
                    .with_partitions(vec![
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(0)
                            .with_committed_offset(5)
                            .with_committed_leader_epoch(4),
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(1)
                            .with_committed_offset(-1),
                    ])])]);
        let a = parse_offset_fetch(&old, "g", 7).unwrap();
        let b = parse_offset_fetch(&new, "g", 8).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[&tp("a", 0)].as_ref().unwrap().offset, Some(5));
        assert_eq!(a[&tp("a", 1)].as_ref().unwrap().offset, None);
        // -1 on the wire (the default) is "no epoch given".
        assert_eq!(a[&tp("a", 0)].as_ref().unwrap().leader_epoch, Some(4));
        assert_eq!(a[&tp("a", 1)].as_ref().unwrap().leader_epoch, None);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let loading = OffsetFetchResponse::default().with_error_code(14);
        assert_eq!(
            parse_offset_fetch(&loading, "g", 7)
                .unwrap_err()
                .kafka_code(),
            Some(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
        assert!(parse_offset_fetch(&loading, "other", 8).is_err());
    }

    #[test]
    fn lag_is_end_minus_committed_and_unknown_when_either_is_missing() {
        let mut committed: ItemResults<TopicPartition, Committed> = BTreeMap::new();
        let at = |offset| {
            Ok(Committed {
                offset,
                metadata: None,
                leader_epoch: None,
            })
        };
        committed.insert(tp("a", 0), at(Some(3)));
        committed.insert(tp("a", 1), at(None));
        committed.insert(tp("a", 2), at(Some(9)));
        let mut ends: ItemResults<TopicPartition, ListedOffset> = BTreeMap::new();
        let end = |offset| {
            Ok(ListedOffset {
                offset: Some(offset),
                timestamp: -1,
                leader_epoch: None,
            })
        };
        ends.insert(tp("a", 0), end(10));
        ends.insert(tp("a", 1), end(4));
        ends.insert(tp("a", 2), Err(Error::Shutdown));
        ends.insert(tp("a", 3), end(7));
        let asked = [tp("a", 0), tp("a", 1), tp("a", 2), tp("a", 3)];
        let joined = join_lag(Some(&asked), committed, &ends);
        let lag = |p| joined[&tp("a", p)].as_ref().unwrap().lag;
        assert_eq!(
            [lag(0), lag(1), lag(2), lag(3)],
            [Some(7), None, None, None]
        );
        assert_eq!(joined[&tp("a", 3)].as_ref().unwrap().end_offset, Some(7));
    }

    #[test]
    fn simple_commit_has_no_generation_and_maps_results() {
        let request = simple_commit_request("g", &[(tp("a", 0), 4), (tp("a", 1), 6)]);
        assert_eq!(request.generation_id_or_member_epoch, -1);
        assert!(request.member_id.is_empty());
        assert_eq!(request.topics[0].partitions[1].committed_offset, 6);
        let response =
            OffsetCommitResponse::default().with_topics(vec![OffsetCommitResponseTopic::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    OffsetCommitResponsePartition::default().with_partition_index(0),
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(1)
                        .with_error_code(25),
                ])]);
        let results = parse_offset_commit(&response, &[tp("a", 0), tp("a", 1)]);
        assert!(results[0].1.is_ok());
        assert_eq!(
            results[1].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::UNKNOWN_MEMBER_ID)
        );
    }
}
