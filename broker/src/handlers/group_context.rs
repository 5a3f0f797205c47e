//! What the group APIs see of the broker: the group coordinator and who
//! coordinates which group, nothing else (no logs, catalog or producer
//! ids), so a group handler cannot reach past its concern; and the
//! per-topic READ check the offset APIs (OffsetCommit, OffsetDelete) share.

use std::future::Future;

use durian_core::acl::AclOperation;

use super::RequestContext;
use crate::catalog::TopicCatalog;
use crate::group::consumer::assignor::{TopicInfo, TopicsMeta};
use crate::group::GroupCoordinator;
use crate::security::{Access, Authorizer};
use crate::topology::Topology;

/// The group handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct GroupContext<'a> {
    authorizer: &'a Authorizer,
    /// Every group's membership, generations and committed offsets.
    pub coordinator: &'a GroupCoordinator,
    topology: &'a Topology,
    catalog: &'a TopicCatalog,
}

impl<'a> GroupContext<'a> {
    /// A view over the given parts of one broker state.
    pub(crate) fn new(
        authorizer: &'a Authorizer,
        coordinator: &'a GroupCoordinator,
        topology: &'a Topology,
        catalog: &'a TopicCatalog,
    ) -> GroupContext<'a> {
        GroupContext {
            authorizer,
            coordinator,
            topology,
            catalog,
        }
    }

    /// Every topic's id and partition count, for consumer-protocol subscriptions.
    pub(crate) fn topics(&self) -> TopicsMeta {
        self.catalog
            .list()
            .into_iter()
            .map(|t| {
                let info = TopicInfo {
                    id: t.id,
                    partitions: t.partitions,
                };
                (t.name, info)
            })
            .collect()
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
    }

    /// Whether `node` coordinates `group`; the others answer NOT_COORDINATOR.
    pub fn coordinates(&self, group: &str, node: i32) -> bool {
        self.topology.coordinates(group, node)
    }
}

/// Serves a group request topic by topic, as Kafka authorizes it: topics
/// the request may not READ are answered by `refuse` (with
/// TOPIC_AUTHORIZATION_FAILED) and added to the reply's topics
/// (`reply_topics`), the rest go to `serve` (the coordinator), which is not
/// called when every topic was refused. When nothing can be refused (see
/// [`Access::allows_everything`]) every topic goes to `serve` unsplit.
pub(crate) async fn serve_readable_topics<T, Reply, ReplyTopic, Served>(
    access: &Access<'_>,
    topics: Vec<T>,
    name: fn(&T) -> &str,
    refuse: impl FnOnce(Vec<T>) -> Vec<ReplyTopic>,
    serve: impl FnOnce(Vec<T>) -> Served,
    reply_topics: fn(&mut Reply) -> &mut Vec<ReplyTopic>,
) -> Reply
where
    Served: Future<Output = Reply>,
    Reply: Default,
{
    if access.allows_everything() {
        return serve(topics).await;
    }
    let (allowed, denied): (Vec<_>, Vec<_>) = topics
        .into_iter()
        .partition(|t| access.topic(AclOperation::Read, name(t)));
    if denied.is_empty() {
        return serve(allowed).await;
    }
    let refused = refuse(denied);
    let mut reply = if allowed.is_empty() {
        Reply::default()
    } else {
        serve(allowed).await
    };
    reply_topics(&mut reply).extend(refused);
    reply
}
