//! What the transaction APIs see of the broker: the transaction
//! coordinator (and through it the group coordinator and the marker
//! writer), the topic catalog for existence checks, and the topology for
//! coordination and leadership; nothing else.

use std::sync::Arc;

use kafka_protocol::ResponseError;

use super::RequestContext;
use crate::catalog::TopicCatalog;
use crate::security::{Access, Authorizer};
use crate::topology::Topology;
use crate::txn::TransactionCoordinator;

/// The transaction handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct TxnContext<'a> {
    authorizer: &'a Authorizer,
    /// The transaction coordinator.
    pub transactions: &'a Arc<TransactionCoordinator>,
    catalog: &'a TopicCatalog,
    topology: &'a Topology,
}

impl<'a> TxnContext<'a> {
    /// A view over the given parts of one broker state.
    pub(crate) fn new(
        authorizer: &'a Authorizer,
        transactions: &'a Arc<TransactionCoordinator>,
        catalog: &'a TopicCatalog,
        topology: &'a Topology,
    ) -> TxnContext<'a> {
        TxnContext {
            authorizer,
            transactions,
            catalog,
            topology,
        }
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
    }

    /// Whether `node` coordinates `key` (a transactional id or a group).
    pub fn coordinates(&self, key: &str, node: i32) -> bool {
        self.topology.coordinates(key, node)
    }

    /// Whether `topic`-`partition` exists.
    pub fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.catalog
            .get(topic)
            .is_some_and(|meta| (0..meta.partitions).contains(&partition))
    }

    /// Whether `node` leads `topic`-`partition` (else the error to answer).
    pub fn check_leader(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
    ) -> Result<(), ResponseError> {
        self.topology
            .check_leader(topic, partition, node, -1)
            .map(|_| ())
    }
}
