//! Helpers: hand-built v2 batches (independent of the producer's writer,
//! so the tests check the storage against the wire format itself) and
//! small-segment configurations.

use std::path::Path;

use durian_core::record::varint::{put_varint, put_varlong};
use durian_core::record::{BatchHeader, BatchScanner};

use crate::storage::{LogConfig, PartitionLog};

/// An idempotent producer identity: (producer id, epoch, base sequence).
pub(crate) type Producer = (i64, i16, i32);

/// Encodes one uncompressed v2 batch with base offset 0 whose records carry
/// these timestamps and values.
pub(crate) fn encode_batch(records: &[(i64, Vec<u8>)], producer: Option<Producer>) -> Vec<u8> {
    let base_ts = records.first().map_or(-1, |r| r.0);
    let max_ts = records.iter().map(|r| r.0).max().unwrap_or(-1);
    let mut section = Vec::new();
    for (i, (ts, value)) in records.iter().enumerate() {
        let mut body = vec![0u8]; // attributes
        put_varlong(&mut body, ts - base_ts);
        put_varint(&mut body, i as i32);
        put_varint(&mut body, -1); // null key
        put_varint(&mut body, value.len() as i32);
        body.extend_from_slice(value);
        put_varint(&mut body, 0); // no headers
        put_varint(&mut section, body.len() as i32);
        section.extend_from_slice(&body);
    }
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let mut out = Vec::new();
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&((49 + section.len()) as i32).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.push(2);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes());
    out.extend_from_slice(&base_ts.to_be_bytes());
    out.extend_from_slice(&max_ts.to_be_bytes());
    out.extend_from_slice(&pid.to_be_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    out.extend_from_slice(&section);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A batch of `count` records of `value_len` bytes, all at `timestamp`.
pub(crate) fn batch(count: usize, value_len: usize, timestamp: i64) -> Vec<u8> {
    let records: Vec<_> = (0..count)
        .map(|i| (timestamp, vec![b'a' + (i % 26) as u8; value_len]))
        .collect();
    encode_batch(&records, None)
}

/// An idempotent batch of `count` records.
pub(crate) fn idempotent_batch(producer: Producer, count: usize) -> Vec<u8> {
    let records: Vec<_> = (0..count).map(|i| (1_000, vec![i as u8; 10])).collect();
    encode_batch(&records, Some(producer))
}

/// Segments of 1 KiB with an index entry every 64 bytes, no retention.
pub(crate) fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 64,
        retention_ms: None,
        ..LogConfig::default()
    }
}

/// The headers of the batches in `bytes` (which must be whole batches).
pub(crate) fn headers(bytes: &[u8]) -> Vec<BatchHeader> {
    let mut scanner = BatchScanner::new(bytes);
    let found: Vec<_> = scanner
        .by_ref()
        .map(|b| b.expect("stored batches parse").header)
        .collect();
    assert!(!scanner.truncated(), "read returned a partial batch");
    found
}

/// Appends `n` batches of 3 records (timestamps 1000, 2000, ...) and returns
/// the stored bytes of each batch as the producer sent them.
pub(crate) fn fill(log: &mut PartitionLog, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let sent = batch(3, 40, 1_000 * (i as i64 + 1));
            let copy = sent.clone();
            log.append(&copy, 7, 0).expect("append");
            sent
        })
        .collect()
}

/// Reads every batch of the log from its start, as headers.
pub(crate) fn all_headers(log: &PartitionLog) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let read = log.read(offset, usize::MAX, true).expect("read");
        let found = headers(&read.records);
        let Some(last) = found.last() else {
            panic!(
                "no batch at offset {offset} below the log end {}",
                log.log_end_offset()
            );
        };
        offset = last.next_offset();
        out.extend(found);
    }
    out
}

/// Path of a segment file of the log in `dir`.
pub(crate) fn segment_path(dir: &Path, base: i64, suffix: &str) -> std::path::PathBuf {
    dir.join(format!("{base:020}.{suffix}"))
}
