//! LZ4 (attribute value 3) through `lz4_flex`, in the LZ4 frame format.
//!
//! Kafka's Java client writes frames with independent 64 KiB blocks and no
//! checksums or content size (KafkaLZ4BlockOutputStream), and decodes each
//! block on its own, so the encoder here writes exactly that shape. The
//! decoder accepts any valid frame, including linked blocks and checksums
//! as librdkafka may write them.

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::bounded::read_bounded;
use super::{Compression, CompressionError};

/// Appends an LZ4 frame holding `input` to `out`.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let encode_err = |reason: String| CompressionError::Encode {
        codec: Compression::Lz4,
        reason,
    };
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent)
        .block_checksums(false)
        .content_checksum(false);
    let mut encoder = FrameEncoder::with_frame_info(info, out);
    encoder
        .write_all(input)
        .map_err(|err| encode_err(err.to_string()))?;
    encoder
        .finish()
        .map_err(|err| encode_err(err.to_string()))?;
    Ok(())
}

/// Appends the decompressed `input` to `out`, at most `max_output` bytes in total.
///
/// The decoder's own buffers are bounded by the frame's block size (4 MiB at
/// most), whatever the frame claims.
pub(super) fn decompress(
    input: &[u8],
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    read_bounded(FrameDecoder::new(input), Compression::Lz4, max_output, out)
}
