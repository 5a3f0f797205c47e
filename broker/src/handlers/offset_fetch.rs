//! OffsetFetch (key 9), versions from `group::versions::OFFSET_FETCH`.
//!
//! Returns committed offsets for one group (v1–v7) or several (v8+).
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR for groups the receiving node does not
//! coordinate (in a multi-node cluster). With `require_stable` (v7+), a
//! partition with an offset staged by an open transaction
//! (TxnOffsetCommit) answers UNSTABLE_OFFSET_COMMIT, offset -1, as Kafka:
//! the consumer retries until the transaction ends.
//!
//! Authorization, as Kafka: DESCRIBE on the group (else
//! GROUP_AUTHORIZATION_FAILED) and on each topic: a named topic the
//! principal may not DESCRIBE gets TOPIC_AUTHORIZATION_FAILED, and a
//! request for every topic leaves such topics out.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::OFFSET_FETCH;
use crate::security::Access;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_FETCH.0, OFFSET_FETCH.1);

/// Answers OffsetFetch through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: OffsetFetchRequest,
    ctx: &RequestContext,
) -> OffsetFetchResponse {
    let version = ctx.version;
    let code = ResponseError::NotCoordinator.code();
    let denied = ResponseError::GroupAuthorizationFailed.code();
    let access = groups.access(ctx);
    let described = |group: &str| access.group(AclOperation::Describe, group);
    let here = |group: &str| groups.coordinates(group, ctx.node_id);
    if version < 8 {
        if !described(&request.group_id.0) {
            return error_reply::offset_fetch(&request, version, denied);
        }
        if !here(&request.group_id.0) {
            return error_reply::offset_fetch(&request, version, code);
        }
        let all_topics = request.topics.is_none();
        let stable = version >= 7 && request.require_stable;
        let group = request.group_id.0.to_string();
        let mut response = groups.coordinator.offset_fetch(request, version).await;
        if stable {
            for topic in &mut response.topics {
                for p in &mut topic.partitions {
                    if groups.coordinator.has_pending_txn_offset(
                        &group,
                        &topic.name.0,
                        p.partition_index,
                    ) {
                        p.error_code = ResponseError::UnstableOffsetCommit.code();
                        p.committed_offset = -1;
                    }
                }
            }
        }
        response.topics = visible(
            &access,
            all_topics,
            response.topics,
            |t| &t.name.0,
            |p| {
                p.error_code = ResponseError::TopicAuthorizationFailed.code();
                p.committed_offset = -1;
            },
        );
        return response;
    }
    // v8+ batches groups: serve the ones coordinated here, refuse the rest,
    // and answer in the order asked.
    let (mine, foreign): (Vec<_>, Vec<_>) = request
        .groups
        .iter()
        .cloned()
        .partition(|g| described(&g.group_id.0) && here(&g.group_id.0));
    let mut served = groups
        .coordinator
        .offset_fetch(request.clone().with_groups(mine), version)
        .await;
    let mut answered = std::mem::take(&mut served.groups);
    for group in &mut answered {
        if request.require_stable {
            for topic in &mut group.topics {
                for p in &mut topic.partitions {
                    if groups.coordinator.has_pending_txn_offset(
                        &group.group_id.0,
                        &topic.name.0,
                        p.partition_index,
                    ) {
                        p.error_code = ResponseError::UnstableOffsetCommit.code();
                        p.committed_offset = -1;
                    }
                }
            }
        }
        let all_topics = request
            .groups
            .iter()
            .find(|g| g.group_id == group.group_id)
            .is_none_or(|g| g.topics.is_none());
        let topics = std::mem::take(&mut group.topics);
        group.topics = visible(
            &access,
            all_topics,
            topics,
            |t| &t.name.0,
            |p| {
                p.error_code = ResponseError::TopicAuthorizationFailed.code();
                p.committed_offset = -1;
            },
        );
    }
    answered.extend(foreign.iter().map(|g| {
        let code = if described(&g.group_id.0) {
            code
        } else {
            denied
        };
        error_reply::offset_fetch_group(g, code)
    }));
    let groups = request
        .groups
        .iter()
        .filter_map(|g| {
            let at = answered.iter().position(|a| a.group_id == g.group_id)?;
            Some(answered.swap_remove(at))
        })
        .collect();
    served.with_groups(groups)
}

/// The topics of an answer the principal may see: all of them with
/// DESCRIBE; the others are dropped when the request asked for every
/// topic, and otherwise kept with `deny` applied to each partition
/// (TOPIC_AUTHORIZATION_FAILED), as Kafka answers.
fn visible<T: HasPartitions>(
    access: &Access<'_>,
    all_topics: bool,
    topics: Vec<T>,
    name: impl Fn(&T) -> &StrBytes,
    deny: impl Fn(&mut T::Partition),
) -> Vec<T> {
    topics
        .into_iter()
        .filter_map(|mut topic| {
            if access.topic(AclOperation::Describe, name(&topic)) {
                return Some(topic);
            }
            if all_topics {
                return None;
            }
            topic.partitions_mut().iter_mut().for_each(&deny);
            Some(topic)
        })
        .collect()
}

/// The two shapes of OffsetFetch topic answers (before and from v8).
trait HasPartitions {
    type Partition;
    fn partitions_mut(&mut self) -> &mut Vec<Self::Partition>;
}

impl HasPartitions for OffsetFetchResponseTopic {
    type Partition = OffsetFetchResponsePartition;
    fn partitions_mut(&mut self) -> &mut Vec<Self::Partition> {
        &mut self.partitions
    }
}

impl HasPartitions for OffsetFetchResponseTopics {
    type Partition = OffsetFetchResponsePartitions;
    fn partitions_mut(&mut self) -> &mut Vec<Self::Partition> {
        &mut self.partitions
    }
}
