//! Errors of the client core.
//!
//! There is one [`Error`] type for everything that can go wrong between the
//! caller and a broker. It is `Clone` — I/O errors sit behind an `Arc` — so
//! a single failure (a poisoned connection, a failed metadata refresh) can be
//! handed to every waiter. Each error can say whether retrying may help
//! ([`Error::is_retriable`]) and which cache it proves stale
//! ([`Error::invalidates`]); the retry helper and the client use exactly
//! these two answers.

mod conversion;
mod kafka_code;
mod security;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

pub use conversion::ConversionError;
pub use kafka_code::{CodeInfo, Invalidates, KafkaCode, KAFKA_CODES};
pub use security::TlsFailure;

/// The result type of durian-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error code returned by a broker, with the broker's message if it sent one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaError {
    /// The error code.
    pub code: KafkaCode,
    /// The broker's error message, when the response carries one.
    pub message: Option<String>,
}

impl KafkaError {
    /// Builds an error from a response's error code and message; `None` when
    /// the code is 0 (no error).
    pub fn from_code(code: i16, message: Option<&str>) -> Option<KafkaError> {
        (code != 0).then(|| {
            crate::connection::telemetry::record_error_code(code);
            KafkaError {
                code: KafkaCode(code),
                message: message.map(str::to_owned),
            }
        })
    }

    /// Turns a response's error code into a `Result`.
    pub fn check(code: i16, message: Option<&str>) -> Result<()> {
        match Self::from_code(code, message) {
            Some(error) => Err(Error::Kafka(error)),
            None => Ok(()),
        }
    }
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker returned {}", self.code)?;
        match &self.message {
            Some(message) if !message.is_empty() => write!(f, ": {message}"),
            _ => write!(f, ": {}", self.code.description()),
        }
    }
}

impl std::error::Error for KafkaError {}

/// Everything that can fail in durian-core.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operation did not finish within its time limit.
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        /// What was being waited for.
        operation: String,
        /// The limit that expired.
        timeout: Duration,
    },

    /// An I/O error on the connection to a broker.
    #[error("connection to {broker} failed: {source}")]
    Connection {
        /// The broker's address (`host:port`).
        broker: String,
        /// The underlying I/O error.
        #[source]
        source: Arc<io::Error>,
    },

    /// The broker closed the connection between two responses.
    #[error("broker {broker} closed the connection")]
    ConnectionClosed {
        /// The broker's address.
        broker: String,
    },

    /// The connection failed earlier and cannot carry requests any more.
    ///
    /// Every request that was in flight, and every request sent afterwards
    /// until the connection is replaced, receives a clone of the same `Arc`.
    #[error("connection is unusable: {0}")]
    Poisoned(Arc<Error>),

    /// Bytes from the broker could not be decoded, or a request could not be
    /// encoded.
    #[error("protocol error: {0}")]
    Protocol(String),

    /// A record batch could not be built: appending a record to it,
    /// stamping it with the producer's id and sequence, or finishing
    /// (compressing) it failed.
    #[error("cannot {stage} record batch: {source}")]
    Batch {
        /// What was being done to the batch.
        stage: BatchStage,
        /// What the batch code reported.
        source: crate::record::BatchError,
    },

    /// A response did not mention an item its request asked about.
    #[error("the {response} response has no entry for {item}")]
    MissingFromResponse {
        /// The response, e.g. `Produce`.
        response: &'static str,
        /// The item left out, e.g. `topic-3`.
        item: String,
    },

    /// A configuration property is unknown or has an invalid value.
    #[error("invalid configuration `{property}`: {reason}")]
    Config {
        /// The property's Kafka name, e.g. `request.timeout.ms`.
        property: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },

    /// The broker and durian share no version of an API.
    #[error(
        "{api:?}: durian speaks versions {client_range}, the broker {}; upgrade one side",
        broker_range.map_or_else(|| "does not offer this API".to_owned(), |r| format!("speaks {r}"))
    )]
    UnsupportedVersion {
        /// The API in question.
        api: ApiKey,
        /// The versions durian can use.
        client_range: VersionRange,
        /// The versions the broker announced, if it offers the API at all.
        broker_range: Option<VersionRange>,
    },

    /// The broker answered with an error code.
    #[error("{0}")]
    Kafka(KafkaError),

    /// A frame's size prefix is negative or above `receive.message.max.bytes`.
    #[error(
        "broker sent a frame of {size} bytes; accepted are 0..={max} \
         (raise receive.message.max.bytes if the broker is right)"
    )]
    FrameTooLarge {
        /// The size announced by the frame.
        size: i64,
        /// The configured limit.
        max: usize,
    },

    /// None of the bootstrap servers could be reached.
    #[error("no bootstrap server reachable ({servers}): {last_error}")]
    Bootstrap {
        /// The configured servers.
        servers: String,
        /// The error of the last attempt.
        last_error: Arc<Error>,
    },

    /// A request targeted a broker id that the cluster metadata does not list.
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),

    /// The metadata names no active controller.
    #[error("the cluster metadata names no controller")]
    NoController,

    /// A host name did not resolve to any address.
    #[error("cannot resolve {address}: {reason}")]
    Resolve {
        /// The `host:port` string.
        address: String,
        /// Why resolution failed.
        reason: String,
    },

    /// The client has been shut down.
    #[error("the client is shut down")]
    Shutdown,

    /// The TLS handshake with a broker failed, or the broker ended the
    /// session with a TLS alert. Not retriable: the configuration (or the
    /// broker's certificate) must change first.
    #[error(
        "TLS with {broker} failed: {failure} ({detail}); {hint}",
        hint = failure.hint()
    )]
    Tls {
        /// The broker's address.
        broker: String,
        /// What went wrong, by kind.
        failure: TlsFailure,
        /// rustls' description (shared: keeps `Error` small).
        detail: Arc<str>,
    },

    /// The broker rejected the SASL credentials (SASL_AUTHENTICATION_FAILED,
    /// or a SCRAM exchange that did not verify). Not retriable.
    #[error(
        "SASL {mechanism} authentication with {broker} failed: {reason}; check sasl.username          and sasl.password (or sasl.jaas.config, or the token provider)"
    )]
    SaslAuthentication {
        /// The broker's address.
        broker: Arc<str>,
        /// The mechanism used (`sasl.mechanism`).
        mechanism: &'static str,
        /// The broker's or the exchange's explanation.
        reason: Arc<str>,
    },

    /// The broker does not enable the configured SASL mechanism
    /// (UNSUPPORTED_SASL_MECHANISM). Not retriable.
    #[error(
        "broker {broker} does not enable SASL mechanism {mechanism}; it enables [{}]: set          sasl.mechanism to one of them",
        enabled.join(", ")
    )]
    UnsupportedSaslMechanism {
        /// The broker's address.
        broker: Arc<str>,
        /// The configured mechanism.
        mechanism: &'static str,
        /// The mechanisms the broker's listener enables.
        enabled: Arc<[String]>,
    },
}

/// The step of building a record batch that an [`Error::Batch`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchStage {
    /// Appending a record.
    Append,
    /// Writing the producer id, epoch and base sequence into a finished batch.
    Stamp,
    /// Finishing the batch: compressing the records and writing the header.
    Encode,
}

impl fmt::Display for BatchStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BatchStage::Append => "append to",
            BatchStage::Stamp => "stamp",
            BatchStage::Encode => "encode",
        })
    }
}

impl Error {
    /// Wraps an I/O error for the given broker; a TLS failure carried by
    /// it (rustls reports through `io::Error`) becomes [`Error::Tls`].
    pub fn io(broker: impl Into<String>, source: io::Error) -> Error {
        let broker = broker.into();
        match security::tls_failure(&source) {
            Some((failure, detail)) => Error::Tls {
                broker,
                failure,
                detail: detail.into(),
            },
            None => Error::Connection {
                broker,
                source: Arc::new(source),
            },
        }
    }

    /// Whether this is an authentication or TLS failure: the credentials,
    /// certificates or mechanism must change before anything can succeed,
    /// so producers and consumers fail at once instead of retrying.
    pub fn is_auth_failure(&self) -> bool {
        match self {
            Error::Tls { .. }
            | Error::SaslAuthentication { .. }
            | Error::UnsupportedSaslMechanism { .. } => true,
            Error::Kafka(error) => matches!(
                error.code,
                KafkaCode::SASL_AUTHENTICATION_FAILED
                    | KafkaCode::UNSUPPORTED_SASL_MECHANISM
                    | KafkaCode::ILLEGAL_SASL_STATE
            ),
            Error::Poisoned(cause) => cause.is_auth_failure(),
            Error::Bootstrap { last_error, .. } => last_error.is_auth_failure(),
            _ => false,
        }
    }

    /// Wraps an encode/decode error of kafka-protocol, naming what failed.
    pub fn protocol(context: impl fmt::Display, cause: impl fmt::Display) -> Error {
        Error::Protocol(format!("{context}: {cause}"))
    }

    /// A configuration error for `property`.
    pub fn config(property: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Config {
            property: property.into(),
            reason: reason.into(),
        }
    }

    /// Whether the same operation may succeed if tried again later.
    pub fn is_retriable(&self) -> bool {
        match self {
            // No bootstrap server was reachable: worth another try, unless
            // the one that answered refused our credentials.
            Error::Bootstrap { last_error, .. } => !last_error.is_auth_failure(),
            Error::Timeout { .. }
            | Error::Connection { .. }
            | Error::ConnectionClosed { .. }
            | Error::UnknownBroker(_)
            | Error::NoController
            | Error::Resolve { .. } => true,
            Error::Poisoned(cause) => cause.is_retriable(),
            Error::Kafka(error) => error.code.is_retriable(),
            Error::Protocol(_)
            | Error::Batch { .. }
            | Error::MissingFromResponse { .. }
            | Error::Config { .. }
            | Error::UnsupportedVersion { .. }
            | Error::FrameTooLarge { .. }
            | Error::Shutdown
            | Error::Tls { .. }
            | Error::SaslAuthentication { .. }
            | Error::UnsupportedSaslMechanism { .. } => false,
        }
    }

    /// Which cache this error proves stale.
    ///
    /// Lost connections invalidate metadata: a broker that went away may
    /// have taken leaderships with it.
    pub fn invalidates(&self) -> Invalidates {
        match self {
            Error::Kafka(error) => error.code.invalidates(),
            Error::Poisoned(cause) => cause.invalidates(),
            Error::Connection { .. }
            | Error::ConnectionClosed { .. }
            | Error::UnknownBroker(_)
            | Error::NoController => Invalidates::Metadata,
            _ => Invalidates::Nothing,
        }
    }

    /// The Kafka error code, if this is a broker error.
    pub fn kafka_code(&self) -> Option<KafkaCode> {
        match self {
            Error::Kafka(error) => Some(error.code),
            Error::Poisoned(cause) => cause.kafka_code(),
            _ => None,
        }
    }
}

impl From<KafkaError> for Error {
    fn from(error: KafkaError) -> Self {
        Error::Kafka(error)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kafka_error_from_zero_is_none() {
        assert!(KafkaError::from_code(0, Some("x")).is_none());
        assert!(KafkaError::check(0, None).is_ok());
        let err = KafkaError::check(16, Some("moved")).unwrap_err();
        assert_eq!(err.kafka_code(), Some(KafkaCode::NOT_COORDINATOR));
        assert_eq!(err.invalidates(), Invalidates::Coordinator);
        assert!(err.is_retriable());
        assert!(err.to_string().contains("NOT_COORDINATOR (16): moved"));
    }

    #[test]
    fn poisoned_inherits_classification() {
        let cause = Arc::new(Error::io("b:9092", io::Error::other("reset")));
        let err = Error::Poisoned(cause);
        assert!(err.is_retriable());
        assert_eq!(err.invalidates(), Invalidates::Metadata);
        assert!(err.to_string().contains("b:9092"));
    }

    #[test]
    fn batch_errors_keep_their_cause() {
        let err = Error::Batch {
            stage: BatchStage::Encode,
            source: crate::record::BatchError::Empty,
        };
        let text = err.to_string();
        assert!(text.starts_with("cannot encode record batch: "), "{text}");
        assert!(std::error::Error::source(&err).is_some());
        assert!(!err.is_retriable());
    }

    #[test]
    fn unsupported_version_names_the_api() {
        let err = Error::UnsupportedVersion {
            api: ApiKey::Fetch,
            client_range: VersionRange { min: 4, max: 17 },
            broker_range: None,
        };
        let text = err.to_string();
        assert!(text.contains("Fetch") && text.contains("4..17"), "{text}");
        assert!(!err.is_retriable());
    }
}
