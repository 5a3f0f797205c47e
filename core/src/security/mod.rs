//! Authentication and encryption: the client side of Kafka's security
//! protocols, and the pieces shared with the broker.
//!
//! * [`SecurityProtocol`] is `security.protocol`: whether a connection is
//!   wrapped in TLS ([`tls`]) and whether it authenticates with SASL
//!   ([`sasl`]) after the ApiVersions handshake.
//! * [`SecurityConfig`] holds every security setting of a client; the
//!   connection layer turns it into a [`SecurityContext`] once per client
//!   (the TLS trust store and keys are read then, not per connection).
//! * [`scram`] holds the SCRAM key derivation and message formats; the
//!   clients' and the broker's SASL exchanges build on it.

mod config;
pub mod sasl;
pub mod scram;
pub mod tls;

pub use config::{Password, SecurityConfig, SecurityContext, SecurityProtocol};
