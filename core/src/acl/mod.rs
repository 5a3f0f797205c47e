//! Access control lists as Kafka defines them: a resource pattern (what),
//! an access control entry (who, from where, which operation, allow or
//! deny), and the filters DescribeAcls and DeleteAcls select them with.
//!
//! Shared by the admin client (which sends and receives them) and
//! durian's broker (whose authorizer evaluates them), so both read the
//! same wire codes the same way. Every enum keeps Kafka's wire code
//! ([`ResourceType::code`] and friends) and its Kafka name for printing
//! and parsing (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, `ALLOW`).

mod filter;
mod kinds;

pub use filter::{AccessControlEntryFilter, AclBindingFilter, ResourcePatternFilter};
pub use kinds::{AclOperation, AclPermissionType, PatternType, ResourceType};

use std::fmt;

/// The name of the single cluster resource, as Kafka spells it.
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";

/// The resource name (LITERAL pattern) and principal name that match
/// every resource or every principal of a type.
pub const WILDCARD: &str = "*";

/// A set of resources: a type, a name and how the name matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePattern {
    /// Which kind of resource.
    pub resource_type: ResourceType,
    /// The name (`*` with LITERAL: every resource of the type).
    pub name: String,
    /// LITERAL (the name itself) or PREFIXED (every name starting with it).
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    /// A pattern of `resource_type` named `name` matching by `pattern_type`.
    pub fn new(
        resource_type: ResourceType,
        name: impl Into<String>,
        pattern_type: PatternType,
    ) -> Self {
        ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type,
        }
    }

    /// The cluster resource (`kafka-cluster`, LITERAL).
    pub fn cluster() -> Self {
        Self::new(
            ResourceType::Cluster,
            CLUSTER_RESOURCE_NAME,
            PatternType::Literal,
        )
    }
}

/// Who may (or may not) do what, from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessControlEntry {
    /// The principal, `Type:name` (`User:alice`; `User:*` for every user).
    pub principal: String,
    /// The client IP address the entry applies to, or `*` for every host.
    pub host: String,
    /// The operation allowed or denied.
    pub operation: AclOperation,
    /// ALLOW or DENY.
    pub permission_type: AclPermissionType,
}

impl AccessControlEntry {
    /// An entry for `principal` from `host`.
    pub fn new(
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: AclOperation,
        permission_type: AclPermissionType,
    ) -> Self {
        AccessControlEntry {
            principal: principal.into(),
            host: host.into(),
            operation,
            permission_type,
        }
    }
}

/// One ACL: a resource pattern and an access control entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// What the entry applies to.
    pub pattern: ResourcePattern,
    /// Who, from where, which operation, allow or deny.
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// A binding of `entry` to `pattern`.
    pub fn new(pattern: ResourcePattern, entry: AccessControlEntry) -> Self {
        AclBinding { pattern, entry }
    }

    /// Whether the binding can be stored, as Kafka checks a CreateAcls
    /// creation: concrete resource type, pattern type, operation and
    /// permission (no ANY/MATCH), a `Type:name` principal, a host, and
    /// the cluster resource named `kafka-cluster`.
    pub fn validate(&self) -> Result<(), InvalidAcl> {
        let fail = |why: &str| Err(InvalidAcl(format!("{self}: {why}")));
        if self.pattern.resource_type == ResourceType::Any {
            return fail("the resource type must not be ANY");
        }
        if !matches!(
            self.pattern.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return fail("the pattern type must be LITERAL or PREFIXED");
        }
        if self.pattern.name.is_empty() {
            return fail("the resource name must not be empty");
        }
        if self.pattern.resource_type == ResourceType::Cluster
            && self.pattern.name != CLUSTER_RESOURCE_NAME
        {
            return fail("the cluster resource is named kafka-cluster");
        }
        if self.entry.operation == AclOperation::Any {
            return fail("the operation must not be ANY");
        }
        if self.entry.permission_type == AclPermissionType::Any {
            return fail("the permission type must be ALLOW or DENY");
        }
        match self.entry.principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
            _ => return fail("the principal must be Type:name, e.g. User:alice"),
        }
        if self.entry.host.is_empty() {
            return fail("the host must be an IP address or *");
        }
        Ok(())
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission_type
        )
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.pattern, self.entry)
    }
}

/// An ACL that cannot be stored (Kafka answers INVALID_REQUEST).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ACL {0}")]
pub struct InvalidAcl(pub String);

/// A name that is not one of Kafka's names for the enum, or a wire code
/// this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownAclName {
    /// Which enum (resource type, pattern type, operation, permission type).
    pub what: &'static str,
    /// What was given.
    pub value: String,
}
