//! Errors of the compression codecs.

use super::Compression;

/// What went wrong while compressing or decompressing a records section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// Attribute bits 0-2 hold a value Kafka has not assigned to a codec.
    #[error("unknown compression codec {0} in batch attributes (known: 0=none, 1=gzip, 2=snappy, 3=lz4, 4=zstd)")]
    UnknownCodec(u8),
    /// A `compression.type` setting names no known codec.
    #[error("unknown compression type {0:?}: use none, gzip, snappy, lz4 or zstd")]
    UnknownName(String),
    /// The decompressed data would exceed the caller's limit.
    #[error("{codec} data decompresses to more than the limit of {limit} bytes; raise the limit if the batch is genuine")]
    OutputTooLarge {
        /// The codec being decoded.
        codec: Compression,
        /// The limit that was hit.
        limit: usize,
    },
    /// The compressed data is not valid for its codec.
    #[error("corrupt {codec} data: {reason}")]
    Corrupt {
        /// The codec being decoded.
        codec: Compression,
        /// What the decoder rejected.
        reason: String,
    },
    /// The encoder failed (only on an internal codec error).
    #[error("{codec} compression failed: {reason}")]
    Encode {
        /// The codec being encoded.
        codec: Compression,
        /// What the encoder reported.
        reason: String,
    },
}
