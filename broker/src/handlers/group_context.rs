//! What the group APIs see of the broker: the group coordinator and who
//! coordinates which group, nothing else (no logs, catalog or producer
//! ids), so a group handler cannot reach past its concern.

use super::RequestContext;
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
}

impl<'a> GroupContext<'a> {
    /// A view over the given parts of one broker state.
    pub(crate) fn new(
        authorizer: &'a Authorizer,
        coordinator: &'a GroupCoordinator,
        topology: &'a Topology,
    ) -> GroupContext<'a> {
        GroupContext {
            authorizer,
            coordinator,
            topology,
        }
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
