//! The error a user-supplied conversion returns: a serializer turning a
//! value into bytes, a deserializer turning bytes back.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why a conversion between application values and record bytes failed: a
/// message, and the underlying error when there is one (e.g. serde's or
/// UTF-8's). The producer knows it as `SerializeError`, the consumer as
/// `DeserializeError`.
///
/// `Clone` because the clients' errors are (one failure may be handed to
/// many waiters), so the source sits behind an `Arc`.
///
/// ```
/// use durian_core::error::ConversionError;
/// let error = ConversionError::with_source("invalid date", std::fmt::Error);
/// assert!(error.to_string().starts_with("invalid date: "));
/// assert_eq!(error.message(), "invalid date");
/// assert!(std::error::Error::source(&error).is_some());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConversionError {
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl ConversionError {
    /// An error with a message and no underlying cause.
    pub fn new(message: impl Into<String>) -> Self {
        ConversionError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with a message and the error that caused it.
    pub fn with_source(
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        ConversionError {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// The message, without the source's.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The message, then the source's message: the text says everything even
/// where the error chain is not walked.
impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl StdError for ConversionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}
