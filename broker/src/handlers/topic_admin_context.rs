//! What the topic admin APIs (CreateTopics, DeleteTopics,
//! CreatePartitions, DescribeConfigs, AlterConfigs,
//! IncrementalAlterConfigs) see of the broker: topic lookups, the
//! serialised topic changes, the broker's settings (config defaults) and
//! the node ids and replication factor the topology reports. No logs
//! except through the topic changes, no groups, no producer ids.

use super::describe_configs::RESOURCE_TOPIC;
use super::RequestContext;
use crate::security::{Access, Authorizer};
use durian_core::acl::AclOperation;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::catalog::{TopicCatalog, TopicMeta};
use crate::config::BrokerConfig;
use crate::state::Topics;
use crate::topology::Topology;

/// The topic admin handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct TopicAdminContext<'a> {
    authorizer: &'a Authorizer,
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
        authorizer: &'a Authorizer,
        config: &'a BrokerConfig,
        topics: Topics<'a>,
        catalog: &'a TopicCatalog,
        topology: &'a Topology,
    ) -> TopicAdminContext<'a> {
        TopicAdminContext {
            authorizer,
            config,
            topics,
            catalog,
            topology,
        }
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
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

/// Why `operation` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on a config
/// resource is refused, if it is: a topic's configs are checked on the
/// topic (TOPIC_AUTHORIZATION_FAILED), every other resource (brokers,
/// broker loggers) on the cluster (CLUSTER_AUTHORIZATION_FAILED), as Kafka
/// checks them.
pub fn config_refusal(
    access: &Access<'_>,
    operation: AclOperation,
    resource_type: i8,
    name: &str,
) -> Option<(ResponseError, String)> {
    if resource_type == RESOURCE_TOPIC {
        (!access.topic(operation, name)).then(|| {
            (
                ResponseError::TopicAuthorizationFailed,
                format!("{operation} on topic {name} is not allowed"),
            )
        })
    } else {
        (!access.cluster(operation)).then(|| {
            (
                ResponseError::ClusterAuthorizationFailed,
                format!("{operation} on the cluster is not allowed"),
            )
        })
    }
}
