//! Compression codecs for record batches.
//!
//! A v2 record batch names its codec in bits 0-2 of the batch attributes and
//! compresses only the records section (everything after the 61-byte batch
//! header). Every codec here is pure Rust, so the default build needs no C
//! compiler:
//!
//! ```text
//! codec    attr  crate       wire format Kafka expects
//! gzip     1     flate2      gzip stream (RFC 1952), miniz_oxide backend
//! snappy   2     snap        xerial framing written; xerial or raw accepted
//! lz4      3     lz4_flex    LZ4 frame format, independent 64 KiB blocks
//! zstd     4     ruzstd      zstd frame (RFC 8878)
//! ```
//!
//! Decompression is always bounded: [`decompress`] takes the largest output
//! the caller is willing to hold and fails with
//! [`CompressionError::OutputTooLarge`] instead of allocating past it, so a
//! small "decompression bomb" cannot exhaust memory.

mod bounded;
mod error;
mod gzip;
mod lz4;
mod snappy;
mod zstd;

#[cfg(test)]
mod tests;

pub use error::CompressionError;

/// Appends `input` compressed with `codec` to `out`.
///
/// [`Compression::None`] copies `input` unchanged.
///
/// ```
/// use durian_core::compression::{compress, decompress, Compression};
/// let mut packed = Vec::new();
/// compress(Compression::Lz4, b"durian durian durian", &mut packed).unwrap();
/// let unpacked = decompress(Compression::Lz4, &packed, 1024).unwrap();
/// assert_eq!(unpacked, b"durian durian durian");
/// ```
pub fn compress(
    codec: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::compress(input, out),
        Compression::Snappy => snappy::compress(input, out),
        Compression::Lz4 => lz4::compress(input, out),
        Compression::Zstd => zstd::compress(input, out),
    }
}

/// Decompresses `input`, refusing to produce more than `max_output` bytes.
///
/// Fails with [`CompressionError::OutputTooLarge`] when the data would
/// expand past the limit (without allocating past it) and with
/// [`CompressionError::Corrupt`] when it is not valid for the codec.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    decompress_into(codec, input, max_output, &mut out)?;
    Ok(out)
}

/// Like [`decompress`], appending to `out`; `max_output` bounds the total
/// length of `out`, including what it held before.
pub fn decompress_into(
    codec: Compression,
    input: &[u8],
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    match codec {
        Compression::None => {
            if input.len() > max_output.saturating_sub(out.len()) {
                return Err(CompressionError::OutputTooLarge {
                    codec,
                    limit: max_output,
                });
            }
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::decompress(input, max_output, out),
        Compression::Snappy => snappy::decompress(input, max_output, out),
        Compression::Lz4 => lz4::decompress(input, max_output, out),
        Compression::Zstd => zstd::decompress(input, max_output, out),
    }
}

/// The compression codec of a record batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Records are stored as they are.
    #[default]
    None,
    /// gzip (attribute value 1).
    Gzip,
    /// Snappy (attribute value 2).
    Snappy,
    /// LZ4 frame format (attribute value 3).
    Lz4,
    /// Zstandard (attribute value 4).
    Zstd,
}

impl Compression {
    /// The value of this codec in attribute bits 0-2.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec named by attribute bits 0-2 (higher bits are ignored).
    ///
    /// Values 5-7 are not assigned by Kafka and give
    /// [`CompressionError::UnknownCodec`].
    pub fn from_attributes(attributes: i16) -> Result<Compression, CompressionError> {
        match attributes & 0x07 {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(CompressionError::UnknownCodec(other as u8)),
        }
    }

    /// The codec's name as Kafka's `compression.type` setting spells it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Compression {
    type Err = CompressionError;

    /// Parses a `compression.type` value (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(CompressionError::UnknownName(s.to_string())),
        }
    }
}
