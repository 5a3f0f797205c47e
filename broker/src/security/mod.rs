//! Who a connection is: listeners and their security protocols, TLS (with
//! client certificates), SASL and the credentials it checks. The principal
//! a listener's authentication establishes is what the authorizer checks
//! each request against.

pub(crate) mod builder;
pub mod credentials;
pub mod listener;
mod principal;
pub mod sasl;
pub mod tls;

pub use principal::{Principal, PrincipalParseError};
