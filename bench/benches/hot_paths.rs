//! Criterion micro-benchmarks of durian's per-record hot paths: batch
//! writing, batch scanning and decoding, murmur2, CRC-32C, and each codec on
//! 16 KiB of log-like text.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use durian_core::compression::{compress, decompress, Compression};
use durian_core::record::{compute_crc, decode_records, BatchScanner, BatchWriter, NO_HEADERS};
use durian_producer::partitioner::murmur2;

/// Log-like lines, varied enough that the codecs have real work to do.
fn log_text(len: usize) -> Vec<u8> {
    let mut text = String::with_capacity(len + 128);
    let mut state: u32 = 7;
    while text.len() < len {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        text.push_str(&format!(
            "2026-11-23T14:{:02}:{:02}Z INFO svc-{} request id={:08x} took {} ms\n",
            state % 60,
            (state >> 8) % 60,
            state % 7,
            state,
            state % 900
        ));
    }
    text.truncate(len);
    text.into_bytes()
}

/// One 16 KiB batch of 100-byte values, optionally compressed.
fn batch(codec: Compression) -> (Bytes, usize) {
    let values: Vec<Vec<u8>> = log_text(100 * 200)
        .chunks(100)
        .map(<[u8]>::to_vec)
        .collect();
    let mut writer = BatchWriter::builder()
        .compression(codec)
        .size_limit(16 * 1024)
        .build();
    let mut count = 0;
    for value in values.iter().cycle() {
        if !writer
            .try_append(
                1_700_000_000_000 + count as i64,
                None,
                Some(value),
                NO_HEADERS,
            )
            .unwrap_or(false)
        {
            break;
        }
        count += 1;
    }
    (
        writer.finish().expect("a batch of small records encodes"),
        count,
    )
}

fn batch_writing(c: &mut Criterion) {
    let values: Vec<Vec<u8>> = log_text(100 * 200)
        .chunks(100)
        .map(<[u8]>::to_vec)
        .collect();
    let (_, per_batch) = batch(Compression::None);
    let mut group = c.benchmark_group("batch_write");
    group.throughput(Throughput::Elements(per_batch as u64));
    for codec in [Compression::None, Compression::Lz4] {
        group.bench_function(BenchmarkId::from_parameter(codec.name()), |b| {
            b.iter(|| {
                let mut writer = BatchWriter::builder()
                    .compression(codec)
                    .size_limit(16 * 1024)
                    .build();
                for (i, value) in values.iter().take(per_batch).enumerate() {
                    let _ = writer.try_append(
                        1_700_000_000_000 + i as i64,
                        None,
                        Some(value),
                        NO_HEADERS,
                    );
                }
                black_box(writer.finish().expect("encodes"))
            })
        });
    }
    group.finish();
}

fn batch_reading(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_read");
    let (plain, count) = batch(Compression::None);
    // 64 batches back to back, as in a fetch response.
    let many: Vec<u8> = std::iter::repeat_n(plain.as_ref(), 64)
        .flatten()
        .copied()
        .collect();
    group.throughput(Throughput::Elements(64));
    group.bench_function("scan_64_headers", |b| {
        b.iter(|| {
            BatchScanner::new(black_box(&many))
                .filter(Result::is_ok)
                .count()
        })
    });
    group.throughput(Throughput::Elements(count as u64));
    for codec in [Compression::None, Compression::Lz4] {
        let (bytes, _) = batch(codec);
        group.bench_function(BenchmarkId::new("decode", codec.name()), |b| {
            b.iter(|| black_box(decode_records(black_box(&bytes)).expect("decodes")).len())
        });
    }
    group.finish();
}

fn murmur2_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("murmur2");
    for len in [16usize, 100] {
        let key = log_text(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::from_parameter(len), |b| {
            b.iter(|| murmur2(black_box(&key)))
        });
    }
    group.finish();
}

fn crc32c(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc32c");
    let (bytes, _) = batch(Compression::None);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("batch_16k", |b| {
        b.iter(|| compute_crc(black_box(&bytes)).expect("whole batch"))
    });
    group.finish();
}

fn codecs(c: &mut Criterion) {
    let input = log_text(16 * 1024);
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut packed = Vec::new();
        compress(codec, &input, &mut packed).expect("compresses");
        group.bench_function(BenchmarkId::new("compress", codec.name()), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(input.len());
                compress(codec, black_box(&input), &mut out).expect("compresses");
                out
            })
        });
        group.bench_function(BenchmarkId::new("decompress", codec.name()), |b| {
            b.iter(|| decompress(codec, black_box(&packed), 1 << 20).expect("decompresses"))
        });
        eprintln!("{}: 16384 B -> {} B", codec.name(), packed.len());
    }
    group.finish();
}

criterion_group!(
    hot_paths,
    batch_writing,
    batch_reading,
    murmur2_hash,
    crc32c,
    codecs
);
criterion_main!(hot_paths);
