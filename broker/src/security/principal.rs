//! Kafka principals (`User:alice`), as ACLs and authorizers name them.

use std::fmt;
use std::sync::Arc;

/// An authenticated identity: a type (`User` for every principal Kafka's
/// built-in authenticators produce) and a name.
///
/// Cheap to clone: every request of a connection carries one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    principal_type: Arc<str>,
    name: Arc<str>,
}

impl Principal {
    /// The principal type of users.
    pub const USER_TYPE: &'static str = "User";
    /// The name of the unauthenticated principal (a PLAINTEXT or SSL
    /// listener without client certificates), as in Kafka.
    pub const ANONYMOUS_NAME: &'static str = "ANONYMOUS";

    /// `User:<name>`.
    pub fn user(name: &str) -> Self {
        Principal {
            principal_type: Arc::from(Self::USER_TYPE),
            name: Arc::from(name),
        }
    }

    /// `User:ANONYMOUS`: what a connection without authentication is.
    pub fn anonymous() -> Self {
        Self::user(Self::ANONYMOUS_NAME)
    }

    /// The principal's type (`User`).
    pub fn principal_type(&self) -> &str {
        &self.principal_type
    }

    /// The principal's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the unauthenticated principal.
    pub fn is_anonymous(&self) -> bool {
        &*self.principal_type == Self::USER_TYPE && &*self.name == Self::ANONYMOUS_NAME
    }

    /// Parses `Type:name` (the name may contain `:`), as Kafka's
    /// `SecurityUtils.parseKafkaPrincipal` does.
    pub fn parse(text: &str) -> Result<Self, PrincipalParseError> {
        match text.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(Principal {
                principal_type: Arc::from(kind),
                name: Arc::from(name),
            }),
            _ => Err(PrincipalParseError(text.to_owned())),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

/// A principal string that is not `Type:name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a principal: expected `Type:name`, e.g. `User:alice`")]
pub struct PrincipalParseError(pub String);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn principals_parse_and_print_as_kafka_does() {
        let alice = Principal::parse("User:alice").unwrap();
        assert_eq!(alice, Principal::user("alice"));
        assert_eq!(alice.to_string(), "User:alice");
        assert_eq!(
            Principal::parse("User:CN=a:b").unwrap().name(),
            "CN=a:b",
            "only the first colon separates"
        );
        assert!(Principal::anonymous().is_anonymous());
        assert!(!alice.is_anonymous());
        for bad in ["alice", ":alice", "User:", ""] {
            assert!(Principal::parse(bad).is_err(), "{bad}");
        }
    }
}
