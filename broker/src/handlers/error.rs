//! Why a handler answers a request by closing the connection instead of
//! with a response: the request could not be read, the response could not
//! be written, or closing is the protocol's way to report the failure.

use crate::server::decode_guard::DecodeError;

/// A reason to close the connection instead of answering a request.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The request body did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The response could not be encoded at the request's version.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// An acks=0 Produce failed: there is no response to carry the error,
    /// and a closed connection is how such a producer learns it must
    /// refresh its metadata (as Kafka does).
    #[error("acks=0 produce to {topic}-{partition} failed with error {code}: {message}")]
    AcksZeroProduceFailed {
        /// The topic of the first failed partition.
        topic: String,
        /// The first failed partition.
        partition: i32,
        /// Its error code.
        code: i16,
        /// Its error message (empty if none).
        message: String,
    },
    /// A fault rule asked for an error answer to an acks=0 Produce, which
    /// has no response to carry it.
    #[cfg(feature = "testing")]
    #[error("acks=0 has no response to carry an error")]
    NoResponseToCarryError,
}

/// A response kafka-protocol refused to encode at the request's version
/// (a field set that the version cannot carry: a handler bug).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode response at version {version}: {source}")]
pub struct EncodeError {
    /// The version asked for.
    pub version: i16,
    /// kafka-protocol's reason.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}
