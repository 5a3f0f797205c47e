//! Zstandard (attribute value 4) through `ruzstd`, a pure-Rust encoder and
//! decoder.
//!
//! ruzstd's encoder implements only its "fastest" level (about zstd level
//! 1); its frames are standard and any zstd decoder reads them. The decoder
//! handles every frame a zstd encoder writes.

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
use ruzstd::encoding::{compress_to_vec, CompressionLevel};

use super::bounded::read_bounded;
use super::{Compression, CompressionError};

/// Largest window a frame may ask the decoder to keep, whatever the output
/// limit: Kafka producers use windows of a few MiB at most.
const MAX_WINDOW: u64 = 64 << 20;

/// Appends a zstd frame holding `input` to `out`.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let frame = compress_to_vec(input, CompressionLevel::Fastest);
    out.extend_from_slice(&frame);
    Ok(())
}

/// Appends the decompressed `input` (one or more frames) to `out`, at most
/// `max_output` bytes in total.
pub(super) fn decompress(
    input: &[u8],
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let corrupt = |reason: String| CompressionError::Corrupt {
        codec: Compression::Zstd,
        reason,
    };
    let mut rest = input;
    // Frames may be concatenated; each is decoded until the input runs out.
    while !rest.is_empty() {
        let mut frame = FrameDecoder::new();
        // The window a frame declares is not tied to its content: librdkafka
        // declares a few MiB for a batch of a few KiB. The output limit
        // bounds what is decoded (`read_bounded`), so the window cap only
        // refuses frames no producer writes.
        frame.set_max_window_size(MAX_WINDOW);
        let decoder = StreamingDecoder::new_with_decoder(&mut rest, frame)
            .map_err(|err| corrupt(err.to_string()))?;
        read_bounded(decoder, Compression::Zstd, max_output, out)?;
    }
    Ok(())
}
