//! Authentication pieces shared by the clients and the broker.
//!
//! `scram` holds the SCRAM key derivation and message formats; the clients'
//! and the broker's SASL exchanges build on it.

pub mod scram;
