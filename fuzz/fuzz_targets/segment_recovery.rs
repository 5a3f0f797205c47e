//! Segment recovery (`durian_broker::fuzzing::PartitionLog`): the input becomes a
//! partition directory — a `.log` file and optionally a damaged `.index`
//! and the clean-shutdown marker — which is opened (recovering it), read
//! from the start and appended to. Opening may refuse the directory with
//! an error, but nothing may panic, and an opened log must serve reads and
//! take a valid batch.
//!
//! Input: `flags u8 | index length u16 | index bytes | log bytes`. Flag
//! bits: 1 write the `.index`, 2 write the clean-shutdown marker, 4 repair
//! the CRC of every framed batch first (so the fuzzer reaches the checks
//! behind the CRC: offsets, counts, index entries).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use durian_broker::fuzzing::PartitionLog;
use durian_broker::LogConfig;
use libfuzzer_sys::fuzz_target;

/// One scratch directory per fuzzing process, emptied for every input.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory for the fuzzer");
        let path = dir.path().join("fuzz-0");
        (dir, path)
    });
    path
}

/// A valid one-record batch (no compression, no producer id).
fn valid_batch() -> Vec<u8> {
    // Record: length 7, attributes, timestamp delta 0, offset delta 0,
    // null key, a one-byte value, no headers.
    let record = [0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, b'x', 0x00];
    let mut batch = Vec::with_capacity(61 + record.len());
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((49 + record.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes());
    batch.push(2);
    batch.extend_from_slice(&0u32.to_be_bytes());
    batch.extend_from_slice(&0i16.to_be_bytes());
    batch.extend_from_slice(&0i32.to_be_bytes());
    batch.extend_from_slice(&1i64.to_be_bytes());
    batch.extend_from_slice(&1i64.to_be_bytes());
    batch.extend_from_slice(&(-1i64).to_be_bytes());
    batch.extend_from_slice(&(-1i16).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes());
    batch.extend_from_slice(&1i32.to_be_bytes());
    batch.extend_from_slice(&record);
    let crc = crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

/// CRC-32C (Castagnoli), bitwise: tiny inputs only.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recomputes the CRC of every batch whose length field frames it.
fn repair_crcs(log: &mut [u8]) {
    let mut at = 0usize;
    while at + 61 <= log.len() {
        let length = i32::from_be_bytes([log[at + 8], log[at + 9], log[at + 10], log[at + 11]]);
        let Some(end) = usize::try_from(length)
            .ok()
            .and_then(|l| (at + 12).checked_add(l))
        else {
            return;
        };
        if length < 49 || end > log.len() {
            return;
        }
        let crc = crc32c(&log[at + 21..end]);
        log[at + 17..at + 21].copy_from_slice(&crc.to_be_bytes());
        at = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, hi, lo, rest @ ..] = data else {
        return;
    };
    let index_len = (usize::from(*hi) << 8 | usize::from(*lo)).min(rest.len());
    let (index, log) = rest.split_at(index_len);
    let dir = scratch();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("scratch directory");
    let base = dir.join("00000000000000000000");
    let mut log = log.to_vec();
    if flags & 4 == 4 {
        repair_crcs(&mut log);
    }
    std::fs::write(base.with_extension("log"), &log).expect("write .log");
    if flags & 1 == 1 {
        std::fs::write(base.with_extension("index"), index).expect("write .index");
    }
    if flags & 2 == 2 {
        std::fs::write(dir.join(".clean_shutdown"), b"").expect("write marker");
    }
    let Ok(mut partition) = PartitionLog::open(dir, LogConfig::default()) else {
        return;
    };
    let start = partition.log_start_offset();
    let end = partition.log_end_offset();
    if end > start {
        partition
            .read(start, 1 << 20, true)
            .expect("a recovered log serves its first batch");
    }
    let batch = valid_batch();
    partition
        .append(&batch, 0, 2)
        .expect("a recovered log takes a valid batch");
    assert_eq!(
        partition.log_end_offset(),
        end + 1,
        "the append lands at the log end"
    );
    let _ = partition.close();
});
