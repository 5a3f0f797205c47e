//! gzip (attribute value 1) through `flate2` with its pure-Rust miniz_oxide
//! backend.
//!
//! Kafka's Java client writes one gzip member per batch; the decoder accepts
//! several concatenated members as the gzip format allows.

use std::io::Write;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::bounded::read_bounded;
use super::{Compression, CompressionError};

/// Appends the gzip stream of `input` to `out` (default level 6, as Java's
/// `GZIPOutputStream`).
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let encode_err = |err: std::io::Error| CompressionError::Encode {
        codec: Compression::Gzip,
        reason: err.to_string(),
    };
    let mut encoder = GzEncoder::new(out, flate2::Compression::default());
    encoder.write_all(input).map_err(encode_err)?;
    encoder.finish().map_err(encode_err)?;
    Ok(())
}

/// Appends the decompressed `input` to `out`, at most `max_output` bytes in total.
pub(super) fn decompress(
    input: &[u8],
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    read_bounded(
        MultiGzDecoder::new(input),
        Compression::Gzip,
        max_output,
        out,
    )
}
