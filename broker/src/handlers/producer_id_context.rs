//! What InitProducerId sees of the broker: the producer id allocator, the
//! transaction coordinator and who coordinates which transactional id,
//! nothing else.

use std::sync::Arc;

use super::RequestContext;
use crate::producer_ids::ProducerIdAllocator;
use crate::security::{Access, Authorizer};
use crate::topology::Topology;
use crate::txn::TransactionCoordinator;

/// The InitProducerId handler's view of the broker state.
#[derive(Clone, Copy)]
pub struct ProducerIdContext<'a> {
    authorizer: &'a Authorizer,
    /// Hands out producer ids and epochs.
    pub allocator: &'a ProducerIdAllocator,
    /// The transaction coordinator (transactional ids).
    pub transactions: &'a Arc<TransactionCoordinator>,
    topology: &'a Topology,
}

impl<'a> ProducerIdContext<'a> {
    /// A view over the given parts of one broker state.
    pub(crate) fn new(
        authorizer: &'a Authorizer,
        allocator: &'a ProducerIdAllocator,
        transactions: &'a Arc<TransactionCoordinator>,
        topology: &'a Topology,
    ) -> ProducerIdContext<'a> {
        ProducerIdContext {
            authorizer,
            allocator,
            transactions,
            topology,
        }
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
    }

    /// Whether `node` coordinates the transactional id `key`.
    pub fn coordinates(&self, key: &str, node: i32) -> bool {
        self.topology.coordinates(key, node)
    }
}
