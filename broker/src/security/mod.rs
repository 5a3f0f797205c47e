//! Who a connection is and what it may do: listeners and their security
//! protocols, TLS (with client certificates), SASL and the credentials it
//! checks establish a connection's principal; the authorizer checks each
//! request of that principal against the ACLs.

pub(crate) mod authorizer;
pub(crate) mod builder;
pub mod credentials;
pub mod listener;
mod principal;
pub mod sasl;
pub mod tls;

pub use authorizer::{Access, AclStoreError, Authorizer, AuthorizerConfig};
pub use principal::{Principal, PrincipalParseError};
