//! Splitting a batch the broker rejected as too large.
//!
//! A broker answers `MESSAGE_TOO_LARGE` when a batch exceeds the topic's
//! `max.message.bytes`, which can be smaller than `batch.size`. As the Java
//! client does, a batch of several records is then split in two and both
//! halves are sent again (and split again if still too large); only a
//! batch of one record fails, naming the limit.
//!
//! ```text
//!  [ batch: seq S, records r0..rn ]  ──MESSAGE_TOO_LARGE──▶  [ seq S: r0..rk ] [ seq S+k: rk..rn ]
//!        signal ─────────── split_into ───────────────────▶   signal A          signal B
//! ```
//!
//! Sequence numbers: the broker wrote nothing of the rejected batch, so its
//! sequence range is still free and is handed on unchanged: the first half
//! takes the batch's base sequence S, the second S + (records of the first).
//! Batches after it keep their sequences, so no renumbering and no epoch
//! bump is needed. Later batches of the partition already in flight are
//! answered `OUT_OF_ORDER_SEQUENCE_NUMBER` (they are not the next to be
//! acknowledged, so they are retried); the halves keep the attempt count of
//! the batch, which makes them wait until those requests are answered and
//! go out first, so the order of the records is kept.

use bytes::Bytes;
use durian_core::compression::Compression;
use durian_core::record::{decode_records, BatchError, BatchWriter, Record};
use tokio::time::Instant;

use super::batch::ProducerBatch;
use super::partition_queue::PartitionQueue;
use crate::idempotence::increment_sequence;

/// Splits the batch at `position` into two queued halves in its place.
/// Fails (leaving the queue unchanged) when the batch is not finished,
/// cannot be decoded, or holds fewer than two records.
pub(super) fn split_batch(
    queue: &mut PartitionQueue,
    (partition, position): (i32, usize),
    next_id: &mut u64,
    compression: Compression,
    error: &durian_core::Error,
    now: Instant,
) -> Result<(), BatchError> {
    let Some(batch) = queue.batches.get(position) else {
        return Err(BatchError::Encode("no batch to split"));
    };
    // Contiguous for decoding (a copy only for a batch referencing values;
    // splits are rare). The halves reference the decoded values again.
    let bytes = batch
        .closed_bytes()
        .ok_or(BatchError::Encode("only a finished batch can be split"))?
        .to_bytes();
    let records = decode_records(&bytes)?;
    // The halves stay in the batch's transaction, if it had one.
    let transactional = durian_core::record::BatchHeader::parse(&bytes)?.is_transactional();
    if records.len() < 2 {
        return Err(BatchError::Encode("a single record cannot be split"));
    }
    let (front, back) = records.split_at(records.len() / 2);
    let writers = [
        rewrite(front, compression, transactional)?,
        rewrite(back, compression, transactional)?,
    ];
    let front_count =
        i32::try_from(front.len()).map_err(|_| BatchError::Encode("more than i32::MAX records"))?;

    // The only fallible step with the batch still in place: half of its
    // memory reservation goes to the front part.
    let front_reservation = queue
        .batches
        .get_mut(position)
        .and_then(ProducerBatch::split_reservation)
        .ok_or(BatchError::Encode("cannot divide the batch's memory"))?;
    let Some(batch) = queue.batches.remove(position) else {
        return Err(BatchError::Encode("no batch to split"));
    };
    let (created, deadline, attempts, sequence) = (
        batch.created,
        batch.deadline,
        batch.attempts,
        batch.sequence,
    );
    let (signal, back_reservation) = batch.into_signal_and_reservation();
    let [(front_writer, front_records), (back_writer, back_records)] = writers;
    let mut part = |writer, records, sequence, reservation| {
        let id = *next_id;
        *next_id += 1;
        let mut part = ProducerBatch::new(id, partition, writer, created, deadline, reservation);
        part.records = records;
        part.mark_full();
        part.attempts = attempts;
        part.sequence = sequence;
        part.last_error = Some(error.clone());
        part.retry_at = Some(now);
        part
    };
    let front = part(front_writer, front_records, sequence, front_reservation);
    let back_sequence = sequence.map(|s| increment_sequence(s, front_count));
    let back = part(back_writer, back_records, back_sequence, back_reservation);
    signal.split_into(vec![
        (0, front.signal.clone()),
        (front_count, back.signal.clone()),
    ]);
    queue.batches.insert(position, back);
    queue.batches.insert(position, front);
    Ok(())
}

/// A writer holding `records` again, with no size limit (they were in one
/// batch before), and their count.
fn rewrite(
    records: &[Record],
    compression: Compression,
    transactional: bool,
) -> Result<(BatchWriter, i32), BatchError> {
    let estimate: usize = records
        .iter()
        .map(|r| 32 + r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len))
        .sum();
    let mut writer = BatchWriter::builder()
        .compression(compression)
        .transactional(transactional)
        .size_limit(usize::MAX)
        .build_with_capacity(estimate);
    for record in records {
        let appended = writer.try_append(
            record.timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        )?;
        if !appended {
            return Err(BatchError::Encode("a record no longer fits its half"));
        }
    }
    let count = writer.record_count();
    Ok((writer, count))
}
