//! The ACLs arranged for authorization: literal names in a hash map per
//! resource type (one lookup per resource, no allocation), prefixed names
//! in a list per type, and each entry's principal and host pre-parsed so
//! a check compares, never parses.

use std::collections::HashMap;
use std::net::IpAddr;

use durian_core::acl::{
    AclBinding, AclOperation, AclPermissionType, PatternType, ResourceType, WILDCARD,
};

use crate::security::Principal;

/// One access control entry, ready to compare.
#[derive(Debug)]
struct Entry {
    /// The principal's type (`User`).
    principal_type: String,
    /// The principal's name; `None` for `*` (every principal of the type).
    principal_name: Option<String>,
    /// `None`: every host. A host that is not an IP literal matches nothing
    /// (peers are known by address only, as in Kafka).
    host: HostMatch,
    operation: AclOperation,
    permission: AclPermissionType,
}

#[derive(Debug)]
enum HostMatch {
    Any,
    Ip(IpAddr),
    Never,
}

impl Entry {
    fn from_binding(acl: &AclBinding) -> Entry {
        let (kind, name) = acl
            .entry
            .principal
            .split_once(':')
            .unwrap_or(("", acl.entry.principal.as_str()));
        let host = if acl.entry.host == WILDCARD {
            HostMatch::Any
        } else {
            match acl.entry.host.parse::<IpAddr>() {
                Ok(ip) => HostMatch::Ip(ip.to_canonical()),
                Err(_) => HostMatch::Never,
            }
        };
        Entry {
            principal_type: kind.to_string(),
            principal_name: (name != WILDCARD).then(|| name.to_string()),
            host,
            operation: acl.entry.operation,
            permission: acl.entry.permission_type,
        }
    }

    fn applies_to(&self, principal: &Principal, host: IpAddr) -> bool {
        let principal_matches = self.principal_type == principal.principal_type()
            && self
                .principal_name
                .as_deref()
                .is_none_or(|name| name == principal.name());
        let host_matches = match self.host {
            HostMatch::Any => true,
            HostMatch::Ip(ip) => ip == host,
            HostMatch::Never => false,
        };
        principal_matches && host_matches
    }
}

/// What the ACLs say about one request for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// An ALLOW entry applies and no DENY does.
    Allowed,
    /// A DENY entry applies, or ACLs exist for the resource and none allows.
    Denied,
    /// No ACL names the resource at all: `allow.everyone.if.no.acl.found` decides.
    NoAcls,
}

/// Every ACL, indexed for checks.
#[derive(Debug, Default)]
pub(crate) struct AclIndex {
    literal: HashMap<ResourceType, HashMap<String, Vec<Entry>>>,
    prefixed: HashMap<ResourceType, Vec<(String, Entry)>>,
    /// How many ACLs the index holds.
    len: usize,
}

impl AclIndex {
    /// The index of `acls`.
    pub(crate) fn build(acls: &[AclBinding]) -> AclIndex {
        let mut index = AclIndex::default();
        for acl in acls {
            let entry = Entry::from_binding(acl);
            let kind = acl.pattern.resource_type;
            match acl.pattern.pattern_type {
                PatternType::Prefixed => index
                    .prefixed
                    .entry(kind)
                    .or_default()
                    .push((acl.pattern.name.clone(), entry)),
                _ => index
                    .literal
                    .entry(kind)
                    .or_default()
                    .entry(acl.pattern.name.clone())
                    .or_default()
                    .push(entry),
            }
            index.len += 1;
        }
        index
    }

    /// Whether there are no ACLs at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `principal` at `host` may do `operation` on the resource
    /// `kind`/`name`: any applicable DENY wins, then any applicable ALLOW
    /// (with Kafka's implied operations).
    pub(crate) fn check(
        &self,
        principal: &Principal,
        host: IpAddr,
        operation: AclOperation,
        kind: ResourceType,
        name: &str,
    ) -> Verdict {
        let mut found = false;
        let mut allowed = false;
        let mut visit = |entry: &Entry| -> bool {
            found = true;
            if !entry.applies_to(principal, host) {
                return false;
            }
            match entry.permission {
                AclPermissionType::Deny if entry.operation.denies(operation) => return true,
                AclPermissionType::Allow if entry.operation.allows(operation) => allowed = true,
                _ => {}
            }
            false
        };
        if let Some(names) = self.literal.get(&kind) {
            for key in [name, WILDCARD] {
                for entry in names.get(key).map(Vec::as_slice).unwrap_or_default() {
                    if visit(entry) {
                        return Verdict::Denied;
                    }
                }
                if name == WILDCARD {
                    break;
                }
            }
        }
        if let Some(prefixes) = self.prefixed.get(&kind) {
            for (prefix, entry) in prefixes {
                if name.starts_with(prefix.as_str()) && visit(entry) {
                    return Verdict::Denied;
                }
            }
        }
        match (found, allowed) {
            (false, _) => Verdict::NoAcls,
            (true, true) => Verdict::Allowed,
            (true, false) => Verdict::Denied,
        }
    }

    /// Whether some ALLOW entry of `kind` lets `principal` at `host` do
    /// `operation` on at least one resource that no applicable DENY fully
    /// covers (Kafka's `authorizeByResourceType`, used by InitProducerId:
    /// "may this principal write to some topic?").
    pub(crate) fn allows_some(
        &self,
        principal: &Principal,
        host: IpAddr,
        operation: AclOperation,
        kind: ResourceType,
    ) -> bool {
        let denies = |entry: &Entry| {
            entry.permission == AclPermissionType::Deny
                && entry.operation.denies(operation)
                && entry.applies_to(principal, host)
        };
        let allows = |entry: &Entry| {
            entry.permission == AclPermissionType::Allow
                && entry.operation.allows(operation)
                && entry.applies_to(principal, host)
        };
        let literal = self.literal.get(&kind);
        let prefixed = self
            .prefixed
            .get(&kind)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // A DENY on the wildcard denies everything of the type.
        if literal
            .and_then(|names| names.get(WILDCARD))
            .is_some_and(|entries| entries.iter().any(denies))
        {
            return false;
        }
        let denied_prefix = |name: &str| {
            prefixed
                .iter()
                .any(|(prefix, entry)| name.starts_with(prefix.as_str()) && denies(entry))
        };
        let literal_allowed = literal.is_some_and(|names| {
            names.iter().any(|(name, entries)| {
                entries.iter().any(allows)
                    && !entries.iter().any(denies)
                    && (name == WILDCARD || !denied_prefix(name))
            })
        });
        literal_allowed
            || prefixed
                .iter()
                .any(|(prefix, entry)| allows(entry) && !denied_prefix(prefix))
    }
}
