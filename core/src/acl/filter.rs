//! Filters selecting ACLs, as DescribeAcls and DeleteAcls send them.

use super::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, InvalidAcl, PatternType,
    ResourcePattern, ResourceType, WILDCARD,
};

/// Selects resource patterns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePatternFilter {
    /// The type, or ANY.
    pub resource_type: ResourceType,
    /// The name; `None` matches every name.
    pub name: Option<String>,
    /// LITERAL or PREFIXED (that type, equal name), ANY (any type, equal
    /// name) or MATCH (every pattern that applies to the named resource).
    pub pattern_type: PatternType,
}

/// Selects access control entries; `None` and ANY match everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessControlEntryFilter {
    /// The principal (`User:alice`), or every principal.
    pub principal: Option<String>,
    /// The host, or every host.
    pub host: Option<String>,
    /// The operation, or ANY.
    pub operation: AclOperation,
    /// ALLOW, DENY or ANY.
    pub permission_type: AclPermissionType,
}

/// Selects ACLs: both parts must match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBindingFilter {
    /// Which resource patterns.
    pub pattern: ResourcePatternFilter,
    /// Which entries.
    pub entry: AccessControlEntryFilter,
}

impl ResourcePatternFilter {
    /// Every pattern.
    pub fn any() -> Self {
        ResourcePatternFilter {
            resource_type: ResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
        }
    }

    /// Whether `pattern` is selected (Kafka's `ResourcePatternFilter.matches`).
    pub fn matches(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != pattern.pattern_type
        {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type != PatternType::Match {
            return *name == pattern.name;
        }
        match pattern.pattern_type {
            PatternType::Literal => *name == pattern.name || pattern.name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&pattern.name),
            _ => false,
        }
    }
}

impl AccessControlEntryFilter {
    /// Every entry.
    pub fn any() -> Self {
        AccessControlEntryFilter {
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        }
    }

    /// Whether `entry` is selected.
    pub fn matches(&self, entry: &AccessControlEntry) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| *p == entry.principal)
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && (self.operation == AclOperation::Any || self.operation == entry.operation)
            && (self.permission_type == AclPermissionType::Any
                || self.permission_type == entry.permission_type)
    }
}

impl AclBindingFilter {
    /// Every ACL.
    pub fn any() -> Self {
        AclBindingFilter {
            pattern: ResourcePatternFilter::any(),
            entry: AccessControlEntryFilter::any(),
        }
    }

    /// The filter selecting exactly `binding`.
    pub fn exact(binding: &AclBinding) -> Self {
        AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: binding.pattern.resource_type,
                name: Some(binding.pattern.name.clone()),
                pattern_type: binding.pattern.pattern_type,
            },
            entry: AccessControlEntryFilter {
                principal: Some(binding.entry.principal.clone()),
                host: Some(binding.entry.host.clone()),
                operation: binding.entry.operation,
                permission_type: binding.entry.permission_type,
            },
        }
    }

    /// Whether `binding` is selected.
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.pattern.matches(&binding.pattern) && self.entry.matches(&binding.entry)
    }

    /// Whether a broker accepts the filter: every field may be ANY or
    /// absent, but a principal, when given, must be `Type:name`.
    pub fn validate(&self) -> Result<(), InvalidAcl> {
        if let Some(principal) = &self.entry.principal {
            match principal.split_once(':') {
                Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
                _ => {
                    return Err(InvalidAcl(format!(
                        "principal filter `{principal}` is not Type:name"
                    )))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(name: &str, pattern_type: PatternType) -> AclBinding {
        AclBinding::new(
            ResourcePattern::new(ResourceType::Topic, name, pattern_type),
            AccessControlEntry::new("User:a", "*", AclOperation::Read, AclPermissionType::Allow),
        )
    }

    fn filter(name: Option<&str>, pattern_type: PatternType) -> AclBindingFilter {
        AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: ResourceType::Topic,
                name: name.map(str::to_string),
                pattern_type,
            },
            entry: AccessControlEntryFilter::any(),
        }
    }

    #[test]
    fn pattern_filters_follow_kafka() {
        let literal = binding("orders", PatternType::Literal);
        let wildcard = binding("*", PatternType::Literal);
        let prefixed = binding("ord", PatternType::Prefixed);
        let matching = filter(Some("orders"), PatternType::Match);
        assert!(matching.matches(&literal));
        assert!(matching.matches(&wildcard));
        assert!(matching.matches(&prefixed));
        assert!(!filter(Some("other"), PatternType::Match).matches(&prefixed));
        let any = filter(Some("orders"), PatternType::Any);
        assert!(any.matches(&literal));
        assert!(!any.matches(&wildcard), "ANY compares names exactly");
        assert!(!any.matches(&prefixed));
        assert!(filter(Some("ord"), PatternType::Prefixed).matches(&prefixed));
        assert!(!filter(Some("ord"), PatternType::Literal).matches(&prefixed));
        assert!(filter(None, PatternType::Literal).matches(&wildcard));
        assert!(AclBindingFilter::any().matches(&prefixed));
        assert!(AclBindingFilter::exact(&literal).matches(&literal));
        assert!(!AclBindingFilter::exact(&literal).matches(&wildcard));
    }

    #[test]
    fn entry_filters_match_each_field() {
        let acl = binding("t", PatternType::Literal);
        let mut f = AclBindingFilter::any();
        f.entry.principal = Some("User:b".to_string());
        assert!(!f.matches(&acl));
        f.entry.principal = Some("User:a".to_string());
        f.entry.operation = AclOperation::Write;
        assert!(!f.matches(&acl));
        f.entry.operation = AclOperation::Read;
        f.entry.permission_type = AclPermissionType::Deny;
        assert!(!f.matches(&acl));
        f.entry.permission_type = AclPermissionType::Allow;
        assert!(f.matches(&acl));
    }
}
