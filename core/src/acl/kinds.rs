//! The four ACL enums with Kafka's wire codes and names.

use std::fmt;
use std::str::FromStr;

use super::UnknownAclName;

/// Defines a `#[non_exhaustive]` enum with its wire code and Kafka name,
/// `code()`, `from_code()`, `Display` (Kafka's name) and `FromStr`
/// (case-insensitive, `-` and `_` ignored: `describe-configs`).
macro_rules! acl_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in wire-code order.
            pub const VALUES: &'static [$name] = &[$($name::$variant),*];

            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The value of a wire code; `None` for UNKNOWN (0) and codes
            /// this version does not know.
            pub fn from_code(code: i8) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// Kafka's name (`TOPIC`, `DESCRIBE_CONFIGS`).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $name {
            type Err = UnknownAclName;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let wanted: String = text
                    .chars()
                    .filter(|c| *c != '-' && *c != '_')
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                $name::VALUES
                    .iter()
                    .copied()
                    .find(|v| v.name().replace('_', "") == wanted)
                    .ok_or_else(|| UnknownAclName {
                        what: $what,
                        value: text.to_string(),
                    })
            }
        }
    };
}

acl_enum!(
    /// The kind of resource an ACL protects.
    ResourceType, "resource type", {
        /// Any type (filters only).
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster (one resource, `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user (delegation tokens on behalf of others).
        User = 7, "USER";
    }
);

acl_enum!(
    /// How a pattern's name matches resource names.
    PatternType, "pattern type", {
        /// Any pattern type (filters only): the name must be equal.
        Any = 1, "ANY";
        /// Every pattern that matches the filter's name (filters only):
        /// LITERAL equal or `*`, and PREFIXED prefixes of it.
        Match = 2, "MATCH";
        /// The name itself (`*`: every resource of the type).
        Literal = 3, "LITERAL";
        /// Every name that starts with the pattern's name.
        Prefixed = 4, "PREFIXED";
    }
);

acl_enum!(
    /// An operation on a resource.
    AclOperation, "operation", {
        /// Any operation (filters only).
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read (fetch, commit offsets, join groups).
        Read = 3, "READ";
        /// Write (produce).
        Write = 4, "WRITE";
        /// Create (topics).
        Create = 5, "CREATE";
        /// Delete (topics, records, groups).
        Delete = 6, "DELETE";
        /// Alter (partitions, ACLs).
        Alter = 7, "ALTER";
        /// Describe (metadata, offsets, groups, ACLs).
        Describe = 8, "DESCRIBE";
        /// Inter-broker actions.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Describe configs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Alter configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent produce.
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Create delegation tokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// Describe delegation tokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
    }
);

acl_enum!(
    /// Whether an entry allows or denies.
    AclPermissionType, "permission type", {
        /// Either (filters only).
        Any = 1, "ANY";
        /// Deny: wins over every ALLOW.
        Deny = 2, "DENY";
        /// Allow.
        Allow = 3, "ALLOW";
    }
);

impl AclOperation {
    /// Whether an ALLOW entry for `self` also allows `wanted`, as Kafka
    /// implies: ALL allows everything, READ/WRITE/DELETE/ALTER allow
    /// DESCRIBE, ALTER_CONFIGS allows DESCRIBE_CONFIGS.
    pub fn allows(self, wanted: AclOperation) -> bool {
        self == wanted
            || self == AclOperation::All
            || (wanted == AclOperation::Describe
                && matches!(
                    self,
                    AclOperation::Read
                        | AclOperation::Write
                        | AclOperation::Delete
                        | AclOperation::Alter
                ))
            || (wanted == AclOperation::DescribeConfigs && self == AclOperation::AlterConfigs)
    }

    /// Whether a DENY entry for `self` denies `wanted`: only the same
    /// operation or ALL (denying READ does not deny DESCRIBE).
    pub fn denies(self, wanted: AclOperation) -> bool {
        self == wanted || self == AclOperation::All
    }
}

impl ResourceType {
    /// The operations Kafka reports in an authorized-operations bitfield
    /// for resources of this type.
    pub fn operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
            ResourceType::Any => &[],
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for op in AclOperation::VALUES {
            assert_eq!(AclOperation::from_code(op.code()), Some(*op));
            assert_eq!(op.name().parse::<AclOperation>().unwrap(), *op);
        }
        assert_eq!(AclOperation::from_code(0), None, "UNKNOWN is no value");
        assert_eq!(
            "describe-configs".parse::<AclOperation>().unwrap(),
            AclOperation::DescribeConfigs
        );
        assert_eq!(
            "TransactionalId".parse::<ResourceType>().unwrap(),
            ResourceType::TransactionalId
        );
        assert_eq!(ResourceType::Topic.code(), 2);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclPermissionType::Allow.code(), 3);
        assert!("bogus".parse::<PatternType>().is_err());
    }

    #[test]
    fn implications_follow_kafka() {
        use AclOperation::*;
        for op in [Read, Write, Delete, Alter, All] {
            assert!(op.allows(Describe), "{op} allows DESCRIBE");
        }
        assert!(AlterConfigs.allows(DescribeConfigs));
        assert!(!DescribeConfigs.allows(AlterConfigs));
        assert!(!Read.allows(Write));
        assert!(!Describe.allows(Read));
        assert!(!Read.denies(Describe), "DENY READ leaves DESCRIBE alone");
        assert!(All.denies(Describe));
    }
}
