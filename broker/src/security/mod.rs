//! Who a connection is: the principal its listener's authentication
//! established, which the authorizer checks each request against.

mod principal;

pub use principal::{Principal, PrincipalParseError};
