//! Codec round trips, interoperability shapes and bomb refusal.

use super::{compress, decompress, decompress_into, Compression, CompressionError};

const ALL: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Deterministic, partly compressible test data.
fn sample(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_u32;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 3 == 0 {
                b'a'
            } else {
                (state % 16) as u8 + b'0'
            }
        })
        .collect()
}

#[test]
fn every_codec_round_trips_sizes_across_block_boundaries() {
    for codec in ALL {
        for len in [0, 1, 100, 32 * 1024, 32 * 1024 + 1, 64 * 1024 + 7, 300_000] {
            let data = sample(len);
            let mut packed = Vec::new();
            compress(codec, &data, &mut packed).expect("compress");
            let unpacked = decompress(codec, &packed, len).expect("decompress at exact limit");
            assert_eq!(unpacked, data, "{codec} with {len} bytes");
        }
    }
}

#[test]
fn compressible_data_shrinks() {
    let data = vec![b'x'; 100_000];
    for codec in ALL.into_iter().skip(1) {
        let mut packed = Vec::new();
        compress(codec, &data, &mut packed).expect("compress");
        assert!(
            packed.len() < data.len() / 10,
            "{codec}: {} bytes",
            packed.len()
        );
    }
}

#[test]
fn bombs_are_refused_at_the_limit() {
    // 16 MiB of zeros packs into a few KiB; a 1 MiB limit must stop it.
    let data = vec![0u8; 16 << 20];
    for codec in ALL {
        let mut packed = Vec::new();
        compress(codec, &data, &mut packed).expect("compress");
        let result = decompress(codec, &packed, 1 << 20);
        assert_eq!(
            result,
            Err(CompressionError::OutputTooLarge {
                codec,
                limit: 1 << 20
            }),
            "{codec}"
        );
    }
}

#[test]
fn limit_counts_bytes_already_in_the_output() {
    let data = sample(1000);
    let mut packed = Vec::new();
    compress(Compression::Gzip, &data, &mut packed).expect("compress");
    let mut out = vec![0u8; 500];
    let result = decompress_into(Compression::Gzip, &packed, 1200, &mut out);
    assert!(matches!(
        result,
        Err(CompressionError::OutputTooLarge { .. })
    ));
    let mut out = vec![0u8; 500];
    decompress_into(Compression::Gzip, &packed, 1500, &mut out).expect("fits");
    assert_eq!(&out[500..], &data[..]);
}

#[test]
fn garbage_is_corrupt_not_a_panic() {
    let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    for codec in ALL.into_iter().skip(1) {
        let result = decompress(codec, &garbage, 1 << 20);
        assert!(
            matches!(result, Err(CompressionError::Corrupt { .. })),
            "{codec}: {result:?}"
        );
        for cut in [0, 1, 5, 17] {
            let mut packed = Vec::new();
            compress(codec, &sample(5000), &mut packed).expect("compress");
            packed.truncate(packed.len().saturating_sub(cut).min(packed.len() / 2 + cut));
            assert!(
                decompress(codec, &packed, 1 << 20).is_err(),
                "{codec} cut {cut}"
            );
        }
    }
}

#[test]
fn snappy_writes_xerial_framing() {
    let mut packed = Vec::new();
    compress(Compression::Snappy, &sample(70_000), &mut packed).expect("compress");
    assert_eq!(&packed[..8], &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0]);
    assert_eq!(&packed[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
    // 70 000 bytes make three blocks of at most 32 KiB each.
    let mut rest = &packed[16..];
    let mut blocks = 0;
    while !rest.is_empty() {
        let len = i32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        rest = &rest[4 + len..];
        blocks += 1;
    }
    assert_eq!(blocks, 3);
}

#[test]
fn snappy_reads_raw_blocks_too() {
    let data = sample(10_000);
    let raw = snap::raw::Encoder::new()
        .compress_vec(&data)
        .expect("raw snappy");
    assert_eq!(
        decompress(Compression::Snappy, &raw, 10_000).expect("raw"),
        data
    );
    assert!(matches!(
        decompress(Compression::Snappy, &raw, 9_999),
        Err(CompressionError::OutputTooLarge { .. })
    ));
}

#[test]
fn snappy_rejects_lying_xerial_block_lengths() {
    let mut packed = Vec::new();
    compress(Compression::Snappy, &sample(1000), &mut packed).expect("compress");
    packed[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        decompress(Compression::Snappy, &packed, 1 << 20),
        Err(CompressionError::Corrupt { .. })
    ));
    packed[16..20].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(decompress(Compression::Snappy, &packed, 1 << 20).is_err());
}

#[test]
fn lz4_writes_independent_64k_blocks_like_kafka() {
    let mut packed = Vec::new();
    compress(Compression::Lz4, &sample(100), &mut packed).expect("compress");
    assert_eq!(&packed[..4], &[0x04, 0x22, 0x4D, 0x18], "LZ4 frame magic");
    // FLG: version 01, block independence set, no checksums, no content size.
    assert_eq!(packed[4], 0b0110_0000);
    // BD: block max size 64 KiB.
    assert_eq!(packed[5], 0b0100_0000);
}

#[test]
fn zstd_reads_concatenated_frames() {
    let (a, b) = (sample(3000), sample(5000));
    let mut packed = Vec::new();
    compress(Compression::Zstd, &a, &mut packed).expect("compress a");
    compress(Compression::Zstd, &b, &mut packed).expect("compress b");
    let out = decompress(Compression::Zstd, &packed, 8000).expect("both frames");
    assert_eq!(out, [a, b].concat());
}

#[test]
fn codec_names_and_attribute_bits_round_trip() {
    for codec in ALL {
        assert_eq!(
            Compression::from_attributes(codec.attribute_bits()),
            Ok(codec)
        );
        assert_eq!(codec.name().parse::<Compression>(), Ok(codec));
    }
    assert_eq!(
        Compression::from_attributes(0x7f),
        Err(CompressionError::UnknownCodec(7))
    );
    assert!("brotli".parse::<Compression>().is_err());
}

#[test]
fn zstd_window_larger_than_the_output_limit_still_decodes() {
    // librdkafka declares windows of a few MiB for small batches; the broker
    // first tries a small output limit. Window exponent 13 → 8 MiB, one raw
    // block of 1 byte, decoded under a 64 KiB limit.
    let frame = [
        0x28,
        0xB5,
        0x2F,
        0xFD,
        0x00,
        13 << 3,
        0x09,
        0x00,
        0x00,
        b'x',
    ];
    assert_eq!(
        decompress(Compression::Zstd, &frame, 64 << 10).expect("decodes"),
        b"x"
    );
}

#[test]
fn zstd_frame_asking_for_a_huge_window_is_refused() {
    // Frame header: magic, descriptor 0 (no single segment, no checksum),
    // window descriptor exponent 20 → 1 GiB window; then a last raw block of 1 byte.
    let frame = [
        0x28,
        0xB5,
        0x2F,
        0xFD,
        0x00,
        20 << 3,
        0x09,
        0x00,
        0x00,
        b'x',
    ];
    let result = decompress(Compression::Zstd, &frame, 1 << 20);
    assert!(
        matches!(result, Err(CompressionError::Corrupt { .. })),
        "{result:?}"
    );
    // The same frame with a 1 MiB window decodes.
    let small = [
        0x28,
        0xB5,
        0x2F,
        0xFD,
        0x00,
        10 << 3,
        0x09,
        0x00,
        0x00,
        b'x',
    ];
    assert_eq!(
        decompress(Compression::Zstd, &small, 1 << 20),
        Ok(b"x".to_vec())
    );
}
