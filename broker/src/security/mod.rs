//! Who a connection is (the principal its listener's authentication
//! established) and what it may do (the authorizer, which checks each
//! request against the ACLs).

pub(crate) mod authorizer;
mod principal;

pub use authorizer::{Access, AclStoreError, Authorizer, AuthorizerConfig};
pub use principal::{Principal, PrincipalParseError};
