//! What a handler checks with: the authorizer bound to one request's
//! principal and peer address.

use std::net::IpAddr;

use durian_core::acl::{AclOperation, ResourceType, CLUSTER_RESOURCE_NAME};

use super::Authorizer;
use crate::handlers::RequestContext;
use crate::security::Principal;

/// The authorizer, for one request.
#[derive(Clone, Copy)]
pub struct Access<'a> {
    authorizer: &'a Authorizer,
    principal: &'a Principal,
    host: IpAddr,
}

impl<'a> Access<'a> {
    /// Checks for the request `ctx` describes.
    pub fn new(authorizer: &'a Authorizer, ctx: &'a RequestContext) -> Access<'a> {
        Access {
            authorizer,
            principal: authorizer.principal_of(ctx),
            host: ctx.peer.ip(),
        }
    }

    /// Whether the request may do `operation` on `kind`/`name`.
    pub fn allows(&self, operation: AclOperation, kind: ResourceType, name: &str) -> bool {
        self.authorizer
            .authorize(self.principal, self.host, operation, kind, name)
    }

    /// Whether every check of this request passes (see
    /// [`Authorizer::allows_everything`]).
    pub fn allows_everything(&self) -> bool {
        self.authorizer.allows_everything(self.principal)
    }

    /// `operation` on the topic `name`.
    pub fn topic(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::Topic, name)
    }

    /// `operation` on the group `name`.
    pub fn group(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::Group, name)
    }

    /// `operation` on the transactional id `name`.
    pub fn transactional_id(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::TransactionalId, name)
    }

    /// `operation` on the cluster.
    pub fn cluster(&self, operation: AclOperation) -> bool {
        self.allows(operation, ResourceType::Cluster, CLUSTER_RESOURCE_NAME)
    }

    /// `operation` on some resource of `kind` (see [`Authorizer::authorize_any`]).
    pub fn any_of_type(&self, operation: AclOperation, kind: ResourceType) -> bool {
        self.authorizer
            .authorize_any(self.principal, self.host, operation, kind)
    }

    /// The authorized-operations bitfield Kafka reports for `kind`/`name`:
    /// bit `1 << code` for each operation of the type the request may do.
    pub fn operations(&self, kind: ResourceType, name: &str) -> i32 {
        kind.operations()
            .iter()
            .filter(|op| self.allows(**op, kind, name))
            .fold(0, |bits, op| bits | (1 << op.code()))
    }

    /// The bitfield for the cluster.
    pub fn cluster_operations(&self) -> i32 {
        self.operations(ResourceType::Cluster, CLUSTER_RESOURCE_NAME)
    }
}
