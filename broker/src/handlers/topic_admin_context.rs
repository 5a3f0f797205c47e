//! What the topic admin APIs (CreateTopics, DeleteTopics,
//! CreatePartitions, DescribeConfigs, AlterConfigs,
//! IncrementalAlterConfigs) see of the broker: topic lookups, the
//! serialised topic changes, the broker's settings (config defaults) and
//! the node ids and replication factor the topology reports. No logs
//! except through the topic changes, no groups, no producer ids.

use uuid::Uuid;

use crate::catalog::{TopicCatalog, TopicMeta};
use crate::config::BrokerConfig;
use crate::state::Topics;
use crate::topology::Topology;

/// The topic admin handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct TopicAdminContext<'a> {
    /// Settings the broker was started with (topic config defaults, broker configs).
    pub config: &'a BrokerConfig,
    /// Create, delete, add partitions and replace configs, one change at a time.
    pub topics: Topics<'a>,
    catalog: &'a TopicCatalog,
    topology: &'a Topology,
}

impl<'a> TopicAdminContext<'a> {
    /// A view over the given parts of one broker state.
    pub(crate) fn new(
        config: &'a BrokerConfig,
        topics: Topics<'a>,
        catalog: &'a TopicCatalog,
        topology: &'a Topology,
    ) -> TopicAdminContext<'a> {
        TopicAdminContext {
            config,
            topics,
            catalog,
            topology,
        }
    }

    /// The topic `name`, if it exists.
    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.catalog.get(name)
    }

    /// The topic with id `id`, if it exists.
    pub fn topic_by_id(&self, id: Uuid) -> Option<TopicMeta> {
        self.catalog.get_by_id(id)
    }

    /// Every node id, running or not, in ascending order.
    pub fn node_ids(&self) -> Vec<i32> {
        self.topology.node_ids()
    }

    /// Simulated replicas per partition.
    pub fn replication_factor(&self) -> usize {
        self.topology.replication_factor()
    }
}
