//! Decompression bombs: small record batches whose records expand to
//! hundreds of MiB or more, for the hostile-input scenarios (F2).
//!
//! Each codec's bomb repeats one independently decodable unit many times,
//! so building a 1 GiB bomb never needs 1 GiB of input or of CPU:
//!
//! ```text
//! codec   unit repeated                         expansion (≈)
//! gzip    a sync-flushed deflate run of 1 MiB   ~1000×  (deflate's limit)
//! zstd    an RLE block of 128 KiB (4 bytes)     ~32000×
//! lz4     a 64 KiB frame block of zeros         ~250×   (LZ4's limit)
//! snappy  a 32 KiB xerial chunk of zeros        ~20×    (snappy's limit)
//! ```
//!
//! The trailers (gzip CRC, zstd/lz4 checksums) are not valid: a decoder
//! only notices after expanding everything, which is the attack.

use bytes::{BufMut, Bytes, BytesMut};
use durian_core::compression::{compress, Compression};
use flate2::{Compress, FlushCompress};

/// A compressed payload and how far it expands.
#[derive(Clone, Debug)]
pub struct Bomb {
    /// The codec.
    pub codec: Compression,
    /// The compressed bytes (the records section of a batch).
    pub compressed: Vec<u8>,
    /// How many bytes they decompress to.
    pub expands_to: u64,
}

/// A bomb of `codec` at most `max_compressed` bytes long that expands as
/// far as the codec allows toward `target` bytes.
pub fn bomb(codec: Compression, max_compressed: usize, target: u64) -> Bomb {
    match codec {
        Compression::Gzip => gzip(max_compressed, target),
        Compression::Zstd => zstd(max_compressed, target),
        Compression::Lz4 => framed(codec, 64 << 10, 7, 4, max_compressed, target),
        Compression::Snappy => framed(codec, 32 << 10, 16, 0, max_compressed, target),
        Compression::None => Bomb {
            codec,
            compressed: vec![0; max_compressed],
            expands_to: max_compressed as u64,
        },
    }
}

fn gzip(max_compressed: usize, target: u64) -> Bomb {
    const RUN: usize = 1 << 20;
    let mut deflate = Compress::new(flate2::Compression::best(), false);
    let mut run = Vec::with_capacity(4096);
    // A sync flush ends the run on a byte boundary with a non-final block,
    // so runs can be laid end to end; their back-references only ever
    // reach zeros.
    let _ = deflate.compress_vec(&vec![0u8; RUN], &mut run, FlushCompress::Sync);
    let header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let trailer_len = 2 + 8;
    let room = max_compressed.saturating_sub(header.len() + trailer_len);
    let copies = (room / run.len().max(1)).min(target.div_ceil(RUN as u64) as usize);
    let mut out = Vec::with_capacity(header.len() + copies * run.len() + trailer_len);
    out.extend_from_slice(&header);
    for _ in 0..copies {
        out.extend_from_slice(&run);
    }
    // A final, empty fixed-Huffman block, then a CRC that is not the real one.
    out.extend_from_slice(&[0x03, 0x00]);
    let expands_to = (copies * RUN) as u64;
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(expands_to as u32).to_le_bytes());
    Bomb {
        codec: Compression::Gzip,
        compressed: out,
        expands_to,
    }
}

fn zstd(max_compressed: usize, target: u64) -> Bomb {
    const BLOCK: u32 = 128 << 10;
    // Magic, a frame header descriptor without content size or checksum,
    // and a 128 KiB window (Window_Log 17).
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    let blocks = ((max_compressed.saturating_sub(out.len())) / 4)
        .min(target.div_ceil(u64::from(BLOCK)) as usize)
        .max(1);
    for n in 0..blocks {
        let last = u32::from(n + 1 == blocks);
        // Block header: last flag, type 1 (RLE), size = repetitions.
        let header = (BLOCK << 3) | (1 << 1) | last;
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    Bomb {
        codec: Compression::Zstd,
        compressed: out,
        expands_to: blocks as u64 * u64::from(BLOCK),
    }
}

/// LZ4 frames and xerial snappy streams are a header, independent blocks
/// and a tail: compress one block of zeros with durian's own encoder and
/// repeat the block.
fn framed(
    codec: Compression,
    unit: usize,
    header_len: usize,
    tail_len: usize,
    max_compressed: usize,
    target: u64,
) -> Bomb {
    let mut one = Vec::new();
    if compress(codec, &vec![0u8; unit], &mut one).is_err() || one.len() < header_len + tail_len {
        return Bomb {
            codec,
            compressed: one,
            expands_to: 0,
        };
    }
    let (header, rest) = one.split_at(header_len);
    let (block, tail) = rest.split_at(rest.len() - tail_len);
    let room = max_compressed.saturating_sub(header_len + tail_len);
    let copies = (room / block.len().max(1))
        .min(target.div_ceil(unit as u64) as usize)
        .max(1);
    let mut out = Vec::with_capacity(header_len + copies * block.len() + tail_len);
    out.extend_from_slice(header);
    for _ in 0..copies {
        out.extend_from_slice(block);
    }
    out.extend_from_slice(tail);
    Bomb {
        codec,
        compressed: out,
        expands_to: (copies * unit) as u64,
    }
}

/// A record batch (format v2, no producer id) whose records section is
/// `records` as compressed by `codec`, claiming `count` records; the CRC
/// is valid, so only decompression can find the problem.
pub fn batch(codec: Compression, records: &[u8], count: i32, timestamp: i64) -> Bytes {
    let count = count.max(1);
    let mut out = BytesMut::with_capacity(61 + records.len());
    out.put_i64(0); // base offset
    out.put_i32(0); // batch length, set below
    out.put_i32(-1); // partition leader epoch
    out.put_i8(2); // magic
    out.put_u32(0); // crc, set below
    out.put_i16(codec.attribute_bits());
    out.put_i32(count - 1); // last offset delta
    out.put_i64(timestamp);
    out.put_i64(timestamp);
    out.put_i64(-1); // producer id
    out.put_i16(-1); // producer epoch
    out.put_i32(-1); // base sequence
    out.put_i32(count);
    out.put_slice(records);
    let length = (out.len() - 12) as i32;
    out[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use durian_core::compression::{decompress, CompressionError};

    #[test]
    fn every_bomb_expands_past_its_size_and_is_refused_by_a_bounded_decoder() {
        for codec in [
            Compression::Gzip,
            Compression::Zstd,
            Compression::Lz4,
            Compression::Snappy,
        ] {
            let small = bomb(codec, 64 << 10, 1 << 30);
            assert!(small.compressed.len() <= 64 << 10, "{codec:?}");
            assert!(
                small.expands_to >= 16 * small.compressed.len() as u64,
                "{codec:?}: {} -> {}",
                small.compressed.len(),
                small.expands_to
            );
            let limit = (small.expands_to / 2) as usize;
            match decompress(codec, &small.compressed, limit) {
                Err(CompressionError::OutputTooLarge { .. }) => {}
                other => panic!("{codec:?}: expected OutputTooLarge, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_bomb_batch_has_a_valid_crc() {
        let batch = batch(
            Compression::Zstd,
            &bomb(Compression::Zstd, 1024, 1 << 20).compressed,
            10,
            1,
        );
        let stored = u32::from_be_bytes([batch[17], batch[18], batch[19], batch[20]]);
        assert_eq!(stored, crc32c::crc32c(&batch[21..]));
        assert_eq!(
            i32::from_be_bytes([batch[8], batch[9], batch[10], batch[11]]) as usize,
            batch.len() - 12
        );
    }
}
