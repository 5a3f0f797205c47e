//! Group coordinators: which node coordinates each group (or
//! transactional id), by rendezvous hashing over the running nodes or a
//! pin a cluster's control set.

#[cfg(any(test, feature = "testing"))]
use super::{check_running, TopologyError};
use super::{mix, Topology};

impl Topology {
    /// The node coordinating `key` (a group or transactional id): the
    /// pinned node while it runs, otherwise the running node with the
    /// highest rendezvous hash of the key, so stopping a node only moves
    /// the groups it coordinated. `None` when no node runs.
    pub fn coordinator(&self, key: &str) -> Option<i32> {
        let inner = self.lock();
        if let Some(&pinned) = inner.pinned_coordinators.get(key) {
            if inner.nodes.get(&pinned).is_some_and(|n| n.alive) {
                return Some(pinned);
            }
        }
        inner
            .nodes
            .values()
            .filter(|n| n.alive)
            .max_by_key(|n| mix(self.seed ^ n.address.node_id as u64, key))
            .map(|n| n.address.node_id)
    }

    /// Whether `node` coordinates `key`.
    pub fn coordinates(&self, key: &str, node: i32) -> bool {
        self.coordinator(key) == Some(node)
    }

    /// Pins the coordinator of `key` to `node` (which must run).
    #[cfg(any(test, feature = "testing"))]
    pub fn pin_coordinator(&self, key: &str, node: i32) -> Result<(), TopologyError> {
        let mut inner = self.lock();
        check_running(&inner, node)?;
        inner.pinned_coordinators.insert(key.to_string(), node);
        Ok(())
    }
}
