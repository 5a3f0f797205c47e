//! A partition's fetched records, decoded as they are handed out.
//!
//! An answer is checked on arrival (each batch's CRC, header and
//! decompression, the transaction filter, the records before the fetch
//! offset skipped) and kept as batches; records are decoded by
//! [`RecordBuffer::drain_into`] straight into the vector `poll` returns.
//! Decoding a whole answer on arrival wrote every record three times (into
//! the decoded vector, the partition's buffer, the poll's vector) through
//! megabyte-sized buffers that do not stay in cache; this writes it once.
//!
//! A record that cannot be decoded although its batch's CRC was right (a
//! producer's bug, not damage) is found when it is reached: the records
//! before it are handed out, and the error is the partition's from there.

use std::collections::VecDeque;

use durian_core::record::{BatchError, Record, RecordIter};

use crate::types::{ConsumerRecord, TopicPartition};

/// One batch's records at or after the fetch offset, not yet handed out.
#[derive(Debug, Clone)]
pub(crate) struct PendingBatch {
    records: RecordIter,
    /// A record already decoded: the first at or after the fetch offset,
    /// found while skipping the ones before it.
    first: Option<Record>,
    leader_epoch: i32,
    /// Bytes held (the records section), charged to the buffer.
    bytes: usize,
}

impl PendingBatch {
    /// The records of `records` at or after `from`; `None` when there are
    /// none (all before it, or an empty batch).
    pub(crate) fn new(mut records: RecordIter, from: i64) -> Result<Option<Self>, BatchError> {
        let mut first = None;
        if records.header().base_offset < from {
            for record in records.by_ref() {
                let record = record?;
                if record.offset >= from {
                    first = Some(record);
                    break;
                }
            }
        }
        let batch = PendingBatch {
            leader_epoch: records.header().partition_leader_epoch,
            bytes: records.records_len(),
            records,
            first,
        };
        Ok((batch.len() > 0).then_some(batch))
    }

    /// Records left to hand out.
    pub(crate) fn len(&self) -> usize {
        self.records.remaining_count() + usize::from(self.first.is_some())
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The next record, `None` once all are out; an error ends the batch.
    fn next_record(&mut self) -> Option<Result<Record, BatchError>> {
        self.first.take().map(Ok).or_else(|| self.records.next())
    }
}

/// The records of one partition waiting to be handed out, as batches.
#[derive(Debug, Default)]
pub(crate) struct RecordBuffer {
    batches: VecDeque<PendingBatch>,
    records: usize,
    bytes: usize,
}

impl RecordBuffer {
    /// Whether no record is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Records waiting.
    pub(crate) fn len(&self) -> usize {
        self.records
    }

    /// Bytes held by the waiting batches.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops everything waiting.
    pub(crate) fn clear(&mut self) {
        self.batches.clear();
        self.records = 0;
        self.bytes = 0;
    }

    /// Queues the batches of an answer behind those already waiting.
    pub(crate) fn extend(&mut self, batches: impl IntoIterator<Item = PendingBatch>) {
        for batch in batches {
            self.records += batch.len();
            self.bytes += batch.bytes();
            self.batches.push_back(batch);
        }
    }

    /// Decodes up to `max` records of partition `tp` into `out`, in offset
    /// order. On an undecodable record the records before it are in `out`
    /// and the buffer is left empty: nothing after it may be handed out.
    pub(crate) fn drain_into(
        &mut self,
        tp: &TopicPartition,
        max: usize,
        out: &mut Vec<ConsumerRecord>,
    ) -> Result<(), BatchError> {
        let mut left = max;
        while left > 0 {
            let Some(batch) = self.batches.front_mut() else {
                break;
            };
            let leader_epoch = batch.leader_epoch;
            while left > 0 {
                match batch.next_record() {
                    Some(Ok(record)) => {
                        out.push(ConsumerRecord {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset: record.offset,
                            timestamp: record.timestamp,
                            key: record.key,
                            value: record.value,
                            headers: record.headers,
                            leader_epoch,
                        });
                        left -= 1;
                    }
                    Some(Err(error)) => return Err(self.fail(error)),
                    None => break,
                }
            }
            if batch.len() == 0 {
                // Bytes past the announced records are damage too: the
                // iterator reports them once its records are out.
                if let Some(Err(error)) = batch.records.next() {
                    return Err(self.fail(error));
                }
                self.bytes = self.bytes.saturating_sub(batch.bytes());
                self.batches.pop_front();
            }
        }
        // Counted once here rather than per record; an error above empties
        // the buffer, count included.
        self.records = self.records.saturating_sub(max - left);
        Ok(())
    }

    fn fail(&mut self, error: BatchError) -> BatchError {
        self.clear();
        error
    }
}
