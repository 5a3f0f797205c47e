//! The producer state snapshot, written at every roll and at a clean
//! close, so the next open only scans the batch headers after it.

use std::collections::{HashMap, VecDeque};

use super::{BatchMetadata, ProducerEntry, ProducerStateManager, CACHED_BATCHES};

/// Version tag of the snapshot format.
const SNAPSHOT_VERSION: u16 = 3;
/// Bytes of one cached batch in a snapshot.
const SNAPSHOT_BATCH_LEN: usize = 24;
/// Bytes of one producer in a snapshot before its batches.
const SNAPSHOT_PRODUCER_LEN: usize = 47;

/// Encodes the state as of log end offset `end_offset`.
///
/// ```text
/// version u16 | crc32c u32 (of the rest) | end_offset i64 | count u32 |
///   count x (producer_id i64 | epoch i16 | last append ms i64 |
///            coordinator epoch i32 | last timestamp i64 |
///            open transaction's first offset i64 (-1: none) |
///            last marker offset i64 (-1: none) | n u8 |
///            n x (first_seq i32 | last_seq i32 | first_offset i64 | last_offset i64))
/// ```
///
/// Versions 1 (before the last append time) and 2 (before transactions)
/// are not read: the state is then rebuilt from the log.
pub(crate) fn encode_snapshot(state: &ProducerStateManager, end_offset: i64) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&end_offset.to_be_bytes());
    body.extend_from_slice(&(state.producers.len() as u32).to_be_bytes());
    let mut ids: Vec<_> = state.producers.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let Some(entry) = state.producers.get(&id) else {
            continue;
        };
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(&entry.epoch.to_be_bytes());
        body.extend_from_slice(&entry.last_append_ms.to_be_bytes());
        body.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
        body.extend_from_slice(&entry.last_timestamp.to_be_bytes());
        body.extend_from_slice(&entry.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        body.extend_from_slice(&entry.last_marker_offset.to_be_bytes());
        body.push(entry.batches.len() as u8);
        for b in &entry.batches {
            body.extend_from_slice(&b.first_seq.to_be_bytes());
            body.extend_from_slice(&b.last_seq.to_be_bytes());
            body.extend_from_slice(&b.first_offset.to_be_bytes());
            body.extend_from_slice(&b.last_offset.to_be_bytes());
        }
    }
    let mut out = Vec::with_capacity(body.len() + 6);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes a snapshot, returning the log end offset it was taken at and
/// the state; `None` if it is damaged or of another version.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Option<(i64, ProducerStateManager)> {
    let mut r = Reader(bytes);
    if r.u16()? != SNAPSHOT_VERSION {
        return None;
    }
    let crc = r.u32()?;
    if crc32c::crc32c(r.0) != crc {
        return None;
    }
    let end_offset = r.i64()?;
    let count = r.u32()? as usize;
    if count > r.0.len() / SNAPSHOT_PRODUCER_LEN {
        return None;
    }
    let mut producers = HashMap::with_capacity(count);
    for _ in 0..count {
        let id = r.i64()?;
        let epoch = r.u16()? as i16;
        let last_append_ms = r.i64()?;
        let coordinator_epoch = r.u32()? as i32;
        let last_timestamp = r.i64()?;
        let txn_first_offset = r.i64()?;
        let last_marker_offset = r.i64()?;
        let n = usize::from(r.u8()?);
        if n > CACHED_BATCHES || n * SNAPSHOT_BATCH_LEN > r.0.len() {
            return None;
        }
        let mut batches = VecDeque::with_capacity(n);
        for _ in 0..n {
            batches.push_back(BatchMetadata {
                first_seq: r.u32()? as i32,
                last_seq: r.u32()? as i32,
                first_offset: r.i64()?,
                last_offset: r.i64()?,
            });
        }
        producers.insert(
            id,
            ProducerEntry {
                epoch,
                batches,
                last_append_ms,
                coordinator_epoch,
                last_timestamp,
                current_txn_first_offset: (txn_first_offset >= 0).then_some(txn_first_offset),
                last_marker_offset,
            },
        );
    }
    r.0.is_empty().then(|| {
        let mut state = ProducerStateManager {
            producers,
            ..ProducerStateManager::default()
        };
        state.reindex();
        (end_offset, state)
    })
}

/// Big-endian reads that fail instead of panicking on a short buffer.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}
