//! Snappy (attribute value 2) through `snap`.
//!
//! Kafka's Java client writes snappy through snappy-java's stream format
//! ("xerial" framing), and older Java consumers only read that, so the
//! encoder writes it too:
//!
//! ```text
//! magic 0x82 "SNAPPY" 0x00 | version i32 = 1 | compatible i32 = 1
//! then per 32 KiB of input: block length i32 (big-endian) | raw snappy block
//! ```
//!
//! Some clients (librdkafka, kafka-protocol) write one raw snappy block
//! instead; the decoder accepts both, telling them apart by the magic.

use snap::raw::{decompress_len, max_compress_len, Decoder, Encoder};

use super::{Compression, CompressionError};

/// The 8-byte magic that opens a xerial-framed stream.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic plus version and compatible-version fields.
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per block, as snappy-java's default.
const XERIAL_BLOCK: usize = 32 * 1024;

fn corrupt(reason: impl Into<String>) -> CompressionError {
    CompressionError::Corrupt {
        codec: Compression::Snappy,
        reason: reason.into(),
    }
}

/// Appends the xerial-framed snappy stream of `input` to `out`.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = Encoder::new();
    for chunk in input.chunks(XERIAL_BLOCK) {
        let len_pos = out.len();
        out.extend_from_slice(&[0; 4]);
        let block_start = out.len();
        out.resize(block_start + max_compress_len(chunk.len()), 0);
        let written = encoder
            .compress(chunk, &mut out[block_start..])
            .map_err(|err| CompressionError::Encode {
                codec: Compression::Snappy,
                reason: err.to_string(),
            })?;
        out.truncate(block_start + written);
        // A block of at most 32 KiB input compresses to far below i32::MAX.
        let len = written as i32;
        out[len_pos..block_start].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Appends the decompressed `input` to `out`, at most `max_output` bytes in total.
pub(super) fn decompress(
    input: &[u8],
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let mut decoder = Decoder::new();
    match input.strip_prefix(&XERIAL_MAGIC[..]) {
        Some(framed) => {
            let blocks = framed
                .get(XERIAL_HEADER_LEN - XERIAL_MAGIC.len()..)
                .ok_or_else(|| corrupt("xerial header cut short"))?;
            decompress_xerial_blocks(&mut decoder, blocks, max_output, out)
        }
        None => decompress_block(&mut decoder, input, max_output, out),
    }
}

/// Decodes the length-prefixed blocks after a xerial header.
fn decompress_xerial_blocks(
    decoder: &mut Decoder,
    mut rest: &[u8],
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    while !rest.is_empty() {
        let (len_bytes, after) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("xerial block length cut short"))?;
        let len = usize::try_from(i32::from_be_bytes(*len_bytes))
            .map_err(|_| corrupt("negative xerial block length"))?;
        let block = after
            .get(..len)
            .ok_or_else(|| corrupt("xerial block longer than the data present"))?;
        decompress_block(decoder, block, max_output, out)?;
        rest = after.get(len..).unwrap_or_default();
    }
    Ok(())
}

/// Decodes one raw snappy block, checking its declared size first so the
/// output buffer is never grown past `max_output`.
fn decompress_block(
    decoder: &mut Decoder,
    block: &[u8],
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let len = decompress_len(block).map_err(|err| corrupt(err.to_string()))?;
    let start = out.len();
    if len > max_output.saturating_sub(start) {
        return Err(CompressionError::OutputTooLarge {
            codec: Compression::Snappy,
            limit: max_output,
        });
    }
    out.resize(start + len, 0);
    let written = decoder
        .decompress(block, &mut out[start..])
        .map_err(|err| corrupt(err.to_string()))?;
    out.truncate(start + written);
    Ok(())
}
