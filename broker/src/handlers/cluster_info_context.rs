//! What the cluster-describing APIs (Metadata, DescribeCluster,
//! FindCoordinator) see of the broker: the cluster id, the brokers,
//! placements and coordinators the topology reports, topic lookups, and
//! auto-creation (Metadata may create a missing topic). No logs, groups
//! or producer ids.

use super::RequestContext;
use crate::security::{Access, Authorizer};
use uuid::Uuid;

use crate::catalog::{TopicCatalog, TopicMeta};
use crate::state::{AutoCreateBudget, TopicError, Topics};
use crate::topology::{BrokerAddress, Placement, Topology};

/// The cluster-describing handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct ClusterInfoContext<'a> {
    authorizer: &'a Authorizer,
    cluster_id: &'a str,
    catalog: &'a TopicCatalog,
    topology: &'a Topology,
    topics: Topics<'a>,
}

impl<'a> ClusterInfoContext<'a> {
    /// A view over the given parts of one broker state.
    pub(crate) fn new(
        authorizer: &'a Authorizer,
        cluster_id: &'a str,
        catalog: &'a TopicCatalog,
        topology: &'a Topology,
        topics: Topics<'a>,
    ) -> ClusterInfoContext<'a> {
        ClusterInfoContext {
            authorizer,
            cluster_id,
            catalog,
            topology,
            topics,
        }
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &'a str {
        self.cluster_id
    }

    /// Every topic.
    pub fn topics(&self) -> Vec<TopicMeta> {
        self.catalog.list()
    }

    /// The topic `name`, if it exists.
    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.catalog.get(name)
    }

    /// Whether the broker creates unknown topics on use.
    pub fn auto_creates(&self) -> bool {
        self.topics.auto_creates()
    }

    /// The topic with id `id`, if it exists.
    pub fn topic_by_id(&self, id: Uuid) -> Option<TopicMeta> {
        self.catalog.get_by_id(id)
    }

    /// The topic `name`, auto-created as the broker's settings and `allow` permit.
    pub async fn topic_or_auto_create(
        &self,
        name: &str,
        allow: bool,
        budget: &mut AutoCreateBudget,
    ) -> Result<TopicMeta, TopicError> {
        self.topics.topic_or_auto_create(name, allow, budget).await
    }

    /// How many topics one request may auto-create.
    pub fn auto_create_budget(&self) -> AutoCreateBudget {
        self.topics.auto_create_budget()
    }

    /// The running brokers, in node id order.
    pub fn live_brokers(&self) -> Vec<BrokerAddress> {
        self.topology.live_brokers()
    }

    /// How to reach `node_id`, running or not.
    pub fn broker(&self, node_id: i32) -> Option<BrokerAddress> {
        self.topology.broker(node_id)
    }

    /// The controller node id (-1 if none runs).
    pub fn controller(&self) -> i32 {
        self.topology.controller()
    }

    /// The leader and replicas of `topic`-`partition`.
    pub fn placement(&self, topic: &str, partition: i32) -> Placement {
        self.topology.placement(topic, partition)
    }

    /// The node coordinating `key` (a group or transactional id), if any.
    pub fn coordinator(&self, key: &str) -> Option<i32> {
        self.topology.coordinator(key)
    }
}
