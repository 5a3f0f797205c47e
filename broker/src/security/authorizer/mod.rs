//! The authorizer: Kafka's ACL semantics over the ACLs of the cluster.
//!
//! A request is allowed when its principal is a super user, or when an
//! ALLOW ACL applies to it (principal or `User:*`, host or `*`, the
//! operation, ALL, or an operation implying it) on a LITERAL pattern of
//! the resource's name, the LITERAL `*` pattern, or a PREFIXED pattern the
//! name starts with, and no DENY ACL applies (DENY always wins). When no
//! ACL names the resource at all, `allow.everyone.if.no.acl.found`
//! decides: true by default, so a broker whose listeners do not
//! authenticate behaves as before ACLs existed. Authenticated listeners
//! should set it to false.
//!
//! ```text
//! handler ──Access (principal, peer IP)──▶ Authorizer ──read lock──▶ AclIndex
//!                                              │ no ACLs + allow everyone: true, no lock
//! CreateAcls/DeleteAcls ──write lock──▶ AclStore (meta/acls, atomic) ──▶ new AclIndex
//! ```
//!
//! The ACLs live in the shared broker state, so every node of an
//! in-process cluster sees the same set, and in the data directory, so
//! they survive restarts.

mod access;
mod index;
mod store;

pub use access::Access;
pub use store::AclStoreError;

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use durian_core::acl::{AclBinding, AclBindingFilter, AclOperation, ResourceType};

use super::Principal;
use index::{AclIndex, Verdict};
use store::AclStore;

/// Authorizer settings (`super.users`, `allow.everyone.if.no.acl.found`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthorizerConfig {
    /// Principals allowed everything, whatever the ACLs say (`super.users`).
    pub super_users: Vec<Principal>,
    /// Whether a resource no ACL names is open to everyone
    /// (`allow.everyone.if.no.acl.found`). `None` (the default) decides by
    /// the listeners: true while none authenticates (a broker without
    /// authentication keeps working with no ACLs), false once one does
    /// (SASL, or SSL with required client certificates), as Kafka's
    /// authorizers default to: authenticated principals get only what
    /// ACLs grant.
    pub allow_everyone_if_no_acl_found: Option<bool>,
    /// Test hook: requests whose header `client_id` is the key are
    /// checked as the principal (when the connection is anonymous), so
    /// tests can act as several principals without authentication.
    #[cfg(feature = "testing")]
    pub principal_by_client_id: Vec<(String, Principal)>,
}

/// The broker's ACLs and the rules to check requests against them.
#[derive(Debug)]
pub struct Authorizer {
    config: AuthorizerConfig,
    /// `allow.everyone.if.no.acl.found` as decided at start.
    allow_everyone: bool,
    store: AclStore,
    /// Every ACL, in creation order (what DescribeAcls lists and the file holds).
    acls: Mutex<Vec<AclBinding>>,
    index: RwLock<AclIndex>,
    /// True while there are no ACLs: with allow-everyone, checks return
    /// at once without taking the lock.
    empty: AtomicBool,
}

impl Authorizer {
    /// Loads the ACLs kept in the metadata directory `meta`;
    /// `authenticating` tells whether a listener authenticates clients
    /// (what `allow.everyone.if.no.acl.found` defaults by).
    pub(crate) fn open(
        meta: &Path,
        config: AuthorizerConfig,
        authenticating: bool,
    ) -> Result<Authorizer, AclStoreError> {
        let store = AclStore::new(meta);
        let acls = store.load()?;
        let index = AclIndex::build(&acls);
        Ok(Authorizer {
            allow_everyone: config
                .allow_everyone_if_no_acl_found
                .unwrap_or(!authenticating),
            config,
            store,
            empty: AtomicBool::new(index.is_empty()),
            acls: Mutex::new(acls),
            index: RwLock::new(index),
        })
    }

    /// Whether `principal` at `host` may do `operation` on `kind`/`name`.
    pub fn authorize(
        &self,
        principal: &Principal,
        host: IpAddr,
        operation: AclOperation,
        kind: ResourceType,
        name: &str,
    ) -> bool {
        if self.allow_everyone && self.empty.load(Ordering::Acquire) {
            return true;
        }
        if self.is_super_user(principal) {
            return true;
        }
        let verdict = self
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .check(principal, host.to_canonical(), operation, kind, name);
        match verdict {
            Verdict::Allowed => true,
            Verdict::Denied => false,
            Verdict::NoAcls => self.allow_everyone,
        }
    }

    /// Whether every check of `principal` passes, whatever the operation
    /// and resource: a super user, or no ACLs at all while
    /// allow-everyone decides. Lets a handler skip checking item by item.
    pub fn allows_everything(&self, principal: &Principal) -> bool {
        (self.allow_everyone && self.empty.load(Ordering::Acquire)) || self.is_super_user(principal)
    }

    /// Whether `principal` may do `operation` on some resource of `kind`
    /// (Kafka's `authorizeByResourceType`): a check of an arbitrary name
    /// first (super users, allow-everyone), then any ALLOW not wholly
    /// covered by a DENY.
    pub fn authorize_any(
        &self,
        principal: &Principal,
        host: IpAddr,
        operation: AclOperation,
        kind: ResourceType,
    ) -> bool {
        if self.authorize(principal, host, operation, kind, "hardcode") {
            return true;
        }
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .allows_some(principal, host.to_canonical(), operation, kind)
    }

    fn is_super_user(&self, principal: &Principal) -> bool {
        self.config.super_users.iter().any(|s| s == principal)
    }

    /// Every ACL `filter` selects.
    pub fn describe(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.lock_acls()
            .iter()
            .filter(|acl| filter.matches(acl))
            .cloned()
            .collect()
    }

    /// Adds `new` (already validated) and saves the set; an ACL that
    /// exists already is not added twice. All or nothing: on a storage
    /// error nothing changes.
    pub(crate) fn create(&self, new: &[AclBinding]) -> Result<(), AclStoreError> {
        let mut acls = self.lock_acls();
        let mut next = acls.clone();
        for acl in new {
            if !next.contains(acl) {
                next.push(acl.clone());
            }
        }
        if next.len() == acls.len() {
            return Ok(());
        }
        self.store.save(&next)?;
        self.install(&next);
        *acls = next;
        Ok(())
    }

    /// Removes every ACL any of `filters` selects and saves the set;
    /// returns, per filter, the ACLs it removed.
    pub(crate) fn delete(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Vec<AclBinding>>, AclStoreError> {
        let mut acls = self.lock_acls();
        let removed: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| acls.iter().filter(|acl| f.matches(acl)).cloned().collect())
            .collect();
        let next: Vec<AclBinding> = acls
            .iter()
            .filter(|acl| !filters.iter().any(|f| f.matches(acl)))
            .cloned()
            .collect();
        if next.len() != acls.len() {
            self.store.save(&next)?;
            self.install(&next);
            *acls = next;
        }
        Ok(removed)
    }

    fn install(&self, acls: &[AclBinding]) {
        let index = AclIndex::build(acls);
        let empty = index.is_empty();
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = index;
        self.empty.store(empty, Ordering::Release);
    }

    fn lock_acls(&self) -> std::sync::MutexGuard<'_, Vec<AclBinding>> {
        self.acls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The principal a request is checked as: the connection's, or in
    /// tests the one its client id is mapped to.
    pub(crate) fn principal_of<'a>(
        &'a self,
        ctx: &'a crate::handlers::RequestContext,
    ) -> &'a Principal {
        #[cfg(feature = "testing")]
        if ctx.principal.is_anonymous() {
            if let Some(client_id) = ctx.client_id.as_deref() {
                if let Some((_, principal)) = self
                    .config
                    .principal_by_client_id
                    .iter()
                    .find(|(id, _)| id == client_id)
                {
                    return principal;
                }
            }
        }
        &ctx.principal
    }
}

#[cfg(test)]
mod tests;
