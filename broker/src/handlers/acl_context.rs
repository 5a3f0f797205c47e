//! What the ACL APIs (CreateAcls, DescribeAcls, DeleteAcls) see of the
//! broker: the authorizer and nothing else, plus the conversions between
//! the wire's codes and durian-core's typed ACLs, and the prologue the
//! two ACL changes (CreateAcls, DeleteAcls) share.

use durian_core::acl::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, PatternType, ResourcePattern, ResourcePatternFilter, ResourceType,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::RequestContext;
use crate::security::{Access, Authorizer};

/// The ACL handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct AclContext<'a> {
    /// The ACLs and the checks against them.
    pub authorizer: &'a Authorizer,
}

impl<'a> AclContext<'a> {
    /// A view over the authorizer of one broker state.
    pub(crate) fn new(authorizer: &'a Authorizer) -> AclContext<'a> {
        AclContext { authorizer }
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
    }
}

/// The items of an ACL change, parsed: each item's ACL or filter (or why
/// it is invalid), in request order, and the valid ones, for the
/// authorizer.
pub(crate) struct ParsedItems<V> {
    /// Per item, in request order: what it asks for, or an
    /// INVALID_REQUEST message.
    pub parsed: Vec<Result<V, String>>,
    /// The valid items, in request order.
    pub valid: Vec<V>,
}

/// The prologue of an ACL change (`verb`: "create" or "delete"): unless
/// the request may ALTER the cluster, every item is answered
/// CLUSTER_AUTHORIZATION_FAILED (as Kafka answers) through `failed`, the
/// per-item result builder; otherwise each item is parsed with `parse`.
pub(crate) fn parse_change<I, V: Clone, R>(
    acls: &AclContext<'_>,
    ctx: &RequestContext,
    verb: &str,
    items: &[I],
    parse: impl Fn(&I) -> Result<V, String>,
    failed: impl Fn(ResponseError, String) -> R,
) -> Result<ParsedItems<V>, Vec<R>> {
    if !acls.access(ctx).cluster(AclOperation::Alter) {
        let why = format!("ALTER on the cluster is required to {verb} ACLs");
        return Err(items
            .iter()
            .map(|_| failed(ResponseError::ClusterAuthorizationFailed, why.clone()))
            .collect());
    }
    let parsed: Vec<Result<V, String>> = items.iter().map(parse).collect();
    let valid = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .cloned()
        .collect();
    Ok(ParsedItems { parsed, valid })
}

/// The wire fields of one ACL or one filter, before their codes are checked.
pub(crate) struct WireAcl<'w> {
    pub resource_type: i8,
    pub resource_name: Option<&'w StrBytes>,
    pub pattern_type: i8,
    pub principal: Option<&'w StrBytes>,
    pub host: Option<&'w StrBytes>,
    pub operation: i8,
    pub permission_type: i8,
}

fn code<T>(value: i8, parse: fn(i8) -> Option<T>, what: &str) -> Result<T, String> {
    parse(value).ok_or_else(|| format!("unknown {what} code {value}"))
}

impl WireAcl<'_> {
    /// The filter these fields describe; a message for INVALID_REQUEST if
    /// a code is unknown.
    pub(crate) fn filter(&self) -> Result<AclBindingFilter, String> {
        let filter = AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: code(self.resource_type, ResourceType::from_code, "resource type")?,
                name: self.resource_name.map(|s| s.to_string()),
                pattern_type: code(self.pattern_type, PatternType::from_code, "pattern type")?,
            },
            entry: AccessControlEntryFilter {
                principal: self.principal.map(|s| s.to_string()),
                host: self.host.map(|s| s.to_string()),
                operation: code(self.operation, AclOperation::from_code, "operation")?,
                permission_type: code(
                    self.permission_type,
                    AclPermissionType::from_code,
                    "permission type",
                )?,
            },
        };
        filter.validate().map_err(|e| e.to_string())?;
        Ok(filter)
    }

    /// The ACL these fields describe, checked as CreateAcls checks it.
    pub(crate) fn binding(&self) -> Result<AclBinding, String> {
        let text = |s: Option<&StrBytes>| s.map(|s| s.to_string()).unwrap_or_default();
        let binding = AclBinding::new(
            ResourcePattern::new(
                code(self.resource_type, ResourceType::from_code, "resource type")?,
                text(self.resource_name),
                code(self.pattern_type, PatternType::from_code, "pattern type")?,
            ),
            AccessControlEntry::new(
                text(self.principal),
                text(self.host),
                code(self.operation, AclOperation::from_code, "operation")?,
                code(
                    self.permission_type,
                    AclPermissionType::from_code,
                    "permission type",
                )?,
            ),
        );
        binding.validate().map_err(|e| e.to_string())?;
        Ok(binding)
    }
}
