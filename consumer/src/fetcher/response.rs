//! Turning one partition of a fetch response into batches of records to hand out.
//!
//! ```text
//!  records bytes ─▶ BytesBatchScanner ─┬─ batch wholly before the fetch offset ──▶ skipped
//!                                      ├─ control batch ──▶ ends an aborted transaction, skipped
//!                                      ├─ aborted transactional batch (read_committed) ──▶ skipped
//!                                      ├─ data batch ──▶ kept undecoded, from the fetch offset on
//!                                      └─ cut-off last batch ──▶ ignored, fetched again next time
//!  next fetch offset = last whole batch's base offset + last_offset_delta + 1
//! ```
//!
//! The next offset comes from batch headers rather than from the last
//! record: on compacted topics the last records of a batch may be gone,
//! and control batches hold no user records at all.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use durian_core::record::{
    parse_control_key, verify_crc, BytesBatchScanner, ControlRecordType, RecordIter,
};
use durian_core::KafkaCode;
use kafka_protocol::messages::fetch_response::PartitionData;

use super::buffer::PendingBatch;
use crate::config::IsolationLevel;

/// Largest batch the scanner accepts; a bigger length field is corruption.
const MAX_BATCH_SIZE: usize = 1 << 30;

/// What one partition of a fetch response yielded.
#[derive(Debug, Clone)]
pub enum PartitionFetch {
    /// Records (possibly none) and where to fetch next.
    Data(FetchedData),
    /// The broker reported an error for the partition.
    Error(KafkaCode),
    /// The leader's log diverged from what the consumer read (Fetch v12+,
    /// KIP-320): the last fetched epoch ends at `end_offset` there, before
    /// the fetch offset, so the log was truncated under the consumer.
    Diverged(EpochEnd),
    /// The records could not be decoded.
    Corrupt(String),
}

/// The records of one partition and what the broker said about the log.
#[derive(Debug, Clone)]
pub struct FetchedData {
    /// The batches with records at or after the fetch offset, in offset
    /// order, checked but not decoded.
    pub(crate) batches: Vec<PendingBatch>,
    /// Records in `batches`.
    pub records: usize,
    /// The offset the next fetch starts at.
    pub next_offset: i64,
    /// The partition's high watermark.
    pub high_watermark: i64,
    /// The last stable offset (-1 when the broker did not say).
    pub last_stable_offset: i64,
    /// Bytes held by `batches` (their records sections, decompressed):
    /// what they count against the consumer's buffer limits.
    pub record_bytes: usize,
    /// Leader epoch of the last whole batch read (records, control or
    /// skipped), the epoch of the log just before `next_offset`.
    pub last_epoch: Option<i32>,
}

/// Where a leader epoch ends in the leader's log: the answer of
/// OffsetForLeaderEpoch, or a Fetch response's diverging epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEnd {
    /// The largest epoch the leader knows at or below the one asked
    /// about (-1 undefined).
    pub epoch: i32,
    /// Where that epoch ends, exclusive (-1 undefined).
    pub end_offset: i64,
}

/// Processes the data of one partition fetched from `fetch_offset`:
/// checks each batch and keeps those with records to hand out, undecoded
/// (see [`super::buffer`]).
pub fn process_partition(
    fetch_offset: i64,
    data: &PartitionData,
    isolation: IsolationLevel,
) -> PartitionFetch {
    if data.error_code != 0 {
        return PartitionFetch::Error(KafkaCode(data.error_code));
    }
    // Absent (the default, -1/-1) unless the leader found a divergence.
    if data.diverging_epoch.epoch >= 0 {
        return PartitionFetch::Diverged(EpochEnd {
            epoch: data.diverging_epoch.epoch,
            end_offset: data.diverging_epoch.end_offset,
        });
    }
    let bytes = data.records.clone().unwrap_or_default();
    let mut aborted = AbortedTransactions::new(data, isolation);
    let mut out = FetchedData {
        batches: Vec::new(),
        records: 0,
        record_bytes: 0,
        next_offset: fetch_offset,
        high_watermark: data.high_watermark,
        last_stable_offset: data.last_stable_offset,
        last_epoch: None,
    };
    for item in BytesBatchScanner::new(bytes).max_batch_size(MAX_BATCH_SIZE) {
        let batch = match item {
            Ok(batch) => batch,
            // Records before the error are good; return them and let the
            // next fetch, starting after them, report the corruption.
            Err(err) if !out.batches.is_empty() => {
                tracing::debug!(%err, "stopping at a corrupt batch");
                break;
            }
            Err(err) => return PartitionFetch::Corrupt(err.to_string()),
        };
        let header = &batch.header;
        if header.next_offset() <= fetch_offset {
            continue;
        }
        if let Err(reason) = read_batch(fetch_offset, &batch.bytes, &mut aborted, &mut out) {
            if out.batches.is_empty() {
                return PartitionFetch::Corrupt(reason);
            }
            break;
        }
        out.next_offset = out.next_offset.max(header.next_offset());
        out.last_epoch =
            (header.partition_leader_epoch >= 0).then_some(header.partition_leader_epoch);
    }
    PartitionFetch::Data(out)
}

/// Checks one whole batch and keeps it in `out` if it holds records to
/// hand out.
fn read_batch(
    fetch_offset: i64,
    batch: &Bytes,
    aborted: &mut AbortedTransactions,
    out: &mut FetchedData,
) -> Result<(), String> {
    // As the Java client's check.crcs (on by default): a batch damaged on
    // the broker's disk or on the way is reported, never handed out. CRC-32C
    // runs at several GB/s, a small share of a fetch's cost.
    verify_crc(batch).map_err(|e| e.to_string())?;
    let mut iter = RecordIter::new(batch).map_err(|e| e.to_string())?;
    let header = *iter.header();
    aborted.advance_to(header.last_offset());
    if header.is_control() {
        for record in iter.by_ref() {
            let record = record.map_err(|e| e.to_string())?;
            let key = record.key.unwrap_or_default();
            if let Ok(ControlRecordType::Abort | ControlRecordType::Commit) =
                parse_control_key(&key)
            {
                aborted.end(header.producer_id);
            }
        }
        return Ok(());
    }
    if header.is_transactional() && aborted.is_aborted(header.producer_id) {
        return Ok(());
    }
    if let Some(pending) = PendingBatch::new(iter, fetch_offset).map_err(|e| e.to_string())? {
        out.records += pending.len();
        out.record_bytes += pending.bytes();
        out.batches.push(pending);
    }
    Ok(())
}

/// The read_committed filter: producers whose open transaction, as of the
/// current batch, is known to be aborted.
struct AbortedTransactions {
    /// (first offset, producer id) not yet reached, by first offset.
    pending: BTreeMap<i64, Vec<i64>>,
    active: BTreeSet<i64>,
}

impl AbortedTransactions {
    fn new(data: &PartitionData, isolation: IsolationLevel) -> Self {
        let mut pending: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        if isolation == IsolationLevel::ReadCommitted {
            for txn in data.aborted_transactions.iter().flatten() {
                pending
                    .entry(txn.first_offset)
                    .or_default()
                    .push(txn.producer_id.0);
            }
        }
        AbortedTransactions {
            pending,
            active: BTreeSet::new(),
        }
    }

    /// Activates the aborted transactions that start at or before `offset`.
    fn advance_to(&mut self, offset: i64) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > offset {
                break;
            }
            self.active.extend(entry.remove());
        }
    }

    fn is_aborted(&self, producer_id: i64) -> bool {
        self.active.contains(&producer_id)
    }

    /// A control marker closes the producer's transaction.
    fn end(&mut self, producer_id: i64) {
        self.active.remove(&producer_id);
    }
}
