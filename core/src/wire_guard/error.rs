//! What the guard reports when a frame is refused.
//!
//! Everything here is `Copy`-cheap (`&'static str` names and integers), so
//! building an error never allocates and one error can be cloned to many
//! waiters.

use std::fmt;

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to broker.
    Request,
    /// Broker to client.
    Response,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Request => "request",
            Direction::Response => "response",
        })
    }
}

/// Where in a message a problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The message being checked, e.g. `"MetadataRequest"` or `"RequestHeader"`.
    pub message: &'static str,
    /// The message version the bytes were read as.
    pub version: i16,
    /// The struct holding the field, e.g. `"MetadataResponsePartition"`.
    pub structure: &'static str,
    /// The field being read, e.g. `"replica_nodes"` (`"<tagged fields>"` for the
    /// tagged section, `"<end>"` after the last field).
    pub field: &'static str,
    /// Byte offset of the field's first byte, counted from the start of the
    /// checked buffer.
    pub offset: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} v{}: {}.{} at byte {}",
            self.message, self.version, self.structure, self.field, self.offset
        )
    }
}

/// Why a field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The frame ends before the field does.
    #[error("frame ends early: {needed} more bytes needed, {remaining} left")]
    Truncated {
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the frame.
        remaining: usize,
    },
    /// An array count that cannot fit: every element needs `min_element_size`
    /// bytes, and fewer remain.
    #[error(
        "array count {count} cannot fit: each element needs at least {min_element_size} bytes \
         and only {remaining} remain"
    )]
    CountTooLarge {
        /// The count read from the wire.
        count: u64,
        /// The smallest encoding of one element in this version.
        min_element_size: u64,
        /// Bytes left after the count.
        remaining: usize,
    },
    /// A string or bytes length larger than what remains.
    #[error("length {length} exceeds the {remaining} bytes remaining")]
    LengthTooLarge {
        /// The length read from the wire.
        length: u64,
        /// Bytes left after the length prefix.
        remaining: usize,
    },
    /// A negative length other than the -1 null marker.
    #[error("negative length {0}")]
    NegativeLength(i64),
    /// A null where this version does not allow one.
    #[error("null is not allowed for this field in this version")]
    UnexpectedNull,
    /// A varint longer than 5 bytes or overflowing 32 bits.
    #[error("malformed unsigned varint")]
    BadVarint,
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A known tagged field whose content does not fill exactly its declared
    /// size (the decoder would fall out of step with the frame).
    #[error("tagged field declares {declared} bytes but its content takes {consumed}")]
    TaggedSizeMismatch {
        /// Size read from the tagged-field header.
        declared: u64,
        /// Bytes the field's content actually took.
        consumed: usize,
    },
    /// Bytes left over after the last field.
    #[error("{0} unexpected bytes after the last field")]
    TrailingBytes(usize),
    /// More array elements in the message, counted over every array, than
    /// the caller's cap ([`super::check_request_limited`]): each decodes to
    /// a value many times its wire size.
    #[error("more than {limit} array elements in the message (the receiver's cap)")]
    TooManyElements {
        /// The cap.
        limit: u64,
    },
    /// The header names a different API key or version than the caller said.
    #[error("header says api_key {api_key} v{version}, caller expected otherwise")]
    HeaderMismatch {
        /// API key found in the header.
        api_key: i16,
        /// Version found in the header.
        version: i16,
    },
}

/// A frame the guard refused, or could not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The guard has no table for this API key and version, so it cannot say
    /// whether decoding is safe. A broker should refuse the request; a client
    /// may still decode a response to a request it sent itself.
    #[error(
        "no wire-guard schema for {direction} api_key {api_key} v{version}; \
         refuse it, or add the message to durian_core::wire_guard"
    )]
    NoSchema {
        /// The API key.
        api_key: i16,
        /// The requested version.
        version: i16,
        /// Request or response.
        direction: Direction,
    },
    /// The bytes do not match the message layout; decoding them could make
    /// kafka-protocol allocate for counts that are not really there.
    #[error("malformed {at}: {problem}")]
    Malformed {
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        problem: Problem,
    },
}
