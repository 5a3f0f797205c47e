//! One producer batch: records of one partition in wire format, and its fate.

use std::sync::Arc;

use durian_core::record::{BatchError, BatchRope, BatchWriter, BATCH_HEADER_LEN};
use tokio::time::Instant;

use super::buffer_pool::Reservation;
use super::RecordParts;
use crate::delivery::{BatchAck, BatchSignal};
use crate::error::ProducerError;
use crate::idempotence::ProducerIdentity;

/// What an append to one batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// The record is in the batch, at this index.
    At(i32),
    /// The batch takes no more records: it is closed, or the record would
    /// take it past `batch.size`.
    Full,
    /// The record fits, but the batch's reservation must first grow by
    /// this many bytes, and `buffer.memory` has no room for them now.
    NeedsRoom(usize),
}

/// Where a batch is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchState {
    /// In the queue: open for records, closed and waiting, or back from a
    /// failed attempt.
    Queued,
    /// Carried by a produce request to `node` that has not been answered.
    InFlight {
        /// The broker the request went to.
        node: i32,
    },
}

/// The encoded records of a batch.
///
/// Compression happens between `Full` and `Closed`, in the sender, outside
/// the accumulator's lock: the writer is taken out (`Sealing`) while the
/// batch is marked in flight, so nothing else touches it meanwhile.
#[derive(Debug)]
enum Content {
    /// Taking records.
    Open(BatchWriter),
    /// No more records (full, or split from a larger batch); not yet
    /// compressed.
    Full(BatchWriter),
    /// The writer is being finished by the sender; the estimated size.
    Sealing(usize),
    /// Finished bytes, compressed when a codec is set; in pieces when
    /// values are referenced.
    Closed(BatchRope),
}

/// A batch of one partition.
#[derive(Debug)]
pub(crate) struct ProducerBatch {
    pub(crate) id: u64,
    content: Content,
    pub(crate) signal: Arc<BatchSignal>,
    pub(crate) records: i32,
    pub(crate) created: Instant,
    pub(crate) deadline: Instant,
    pub(crate) attempts: u32,
    pub(crate) retry_at: Option<Instant>,
    pub(crate) state: BatchState,
    /// Base sequence under the producer's current identity, once drained.
    pub(crate) sequence: Option<i32>,
    pub(crate) last_error: Option<durian_core::Error>,
    /// An attempt ended without saying whether it was appended (see
    /// [`crate::idempotence::may_have_appended`]); only an acknowledgement
    /// settles it. Such a batch is never renumbered under a new epoch.
    pub(crate) may_be_written: bool,
    /// The producer state written into the bytes, to skip re-stamping retries.
    stamped: Option<(ProducerIdentity, i32)>,
    /// The `buffer.memory` bytes of this batch, returned when it is dropped.
    reservation: Reservation,
}

impl ProducerBatch {
    pub(crate) fn new(
        id: u64,
        partition: i32,
        writer: BatchWriter,
        now: Instant,
        deadline: Instant,
        reservation: Reservation,
    ) -> Self {
        ProducerBatch {
            id,
            content: Content::Open(writer),
            signal: BatchSignal::new(partition),
            records: 0,
            created: now,
            deadline,
            attempts: 0,
            retry_at: None,
            state: BatchState::Queued,
            sequence: None,
            last_error: None,
            may_be_written: false,
            stamped: None,
            reservation,
        }
    }

    /// Appends a record if it fits in `batch_size`, first growing the
    /// batch's memory reservation (and its buffer with it) when the record
    /// could outgrow them: to twice the reservation, at most `batch_size`,
    /// at least what the record needs. Growth never waits: when the budget
    /// has no room now, the caller is told how much to wait for.
    pub(crate) fn try_append(
        &mut self,
        record: &RecordParts<'_>,
        batch_size: usize,
    ) -> Result<Appended, BatchError> {
        let Content::Open(writer) = &mut self.content else {
            return Ok(Appended::Full);
        };
        let reserved = self.reservation.bytes();
        // An upper bound of the buffer's length once the record is in.
        let need =
            writer.estimated_size() + record.max_encoded_size().saturating_sub(BATCH_HEADER_LEN);
        if need > reserved {
            // Checked exactly first: a record that cannot go in anyway
            // must not make the batch grow, or wait for memory.
            let value = record.value.map(|v| &v[..]);
            if !writer.would_fit(record.timestamp, record.key, value, record.headers)? {
                return Ok(Appended::Full);
            }
            // A record that fits a non-empty batch keeps it within
            // batch.size, whatever the upper bound says.
            let cap = if writer.is_empty() {
                need
            } else {
                need.min(batch_size)
            };
            let target = cap.max(reserved.saturating_mul(2).min(batch_size));
            if target > reserved {
                let extra = target - reserved;
                if !self.reservation.try_grow(extra) {
                    return Ok(Appended::NeedsRoom(extra));
                }
                // A batch that references its values needs little buffer
                // (record prefixes): it grows as records go in, and
                // `fit_within` keeps it and the values within the
                // reservation. A copying batch's buffer grows to the
                // reservation at once, so no append reallocates.
                if writer.referenced_bytes() == 0 && writer.referenced_len(record.value) == 0 {
                    writer.reserve(target.saturating_sub(writer.estimated_size()));
                }
            }
        }
        if writer.try_append_shared(record.timestamp, record.key, record.value, record.headers)? {
            // Buffer room beyond what the referenced values leave of the
            // reservation goes back (a no-op unless the buffer outgrew it).
            writer.fit_within(self.reservation.bytes());
            self.records += 1;
            Ok(Appended::At(self.records - 1))
        } else {
            Ok(Appended::Full)
        }
    }

    /// Takes in bytes that were waited for to grow this batch, growing its
    /// buffer to the whole reservation (so no append reallocates past it).
    pub(crate) fn absorb(&mut self, more: Reservation) {
        self.reservation.absorb(more);
        if let Content::Open(writer) = &mut self.content {
            let len = writer.estimated_size();
            writer.reserve(self.reservation.bytes().saturating_sub(len));
        }
    }

    /// Whether records can still be appended.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.content, Content::Open(_))
    }

    /// Takes no more records; compression is left to the sender.
    pub(crate) fn mark_full(&mut self) {
        if matches!(self.content, Content::Open(_)) {
            // Moved through a placeholder rather than swapped with an empty
            // writer, whose buffer would be one more allocation per batch.
            let estimate = self.size();
            self.content = match std::mem::replace(&mut self.content, Content::Sealing(estimate)) {
                Content::Open(writer) => Content::Full(writer),
                other => other,
            };
        }
    }

    /// Takes the writer out to be finished outside the accumulator's lock;
    /// `None` when the batch is already finished (a retry).
    pub(crate) fn take_writer(&mut self) -> Option<BatchWriter> {
        let estimate = self.size();
        match std::mem::replace(&mut self.content, Content::Sealing(estimate)) {
            Content::Open(writer) | Content::Full(writer) => Some(writer),
            other => {
                self.content = other;
                None
            }
        }
    }

    /// Stores the finished bytes of a taken writer, with the producer
    /// state already stamped into them.
    pub(crate) fn seal(&mut self, bytes: BatchRope, stamped: Option<(ProducerIdentity, i32)>) {
        self.content = Content::Closed(bytes);
        self.stamped = stamped;
    }

    /// The finished bytes, once closed (used to split the batch).
    pub(crate) fn closed_bytes(&self) -> Option<&BatchRope> {
        match &self.content {
            Content::Closed(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// Encoded size: final when closed, the uncompressed estimate before.
    pub(crate) fn size(&self) -> usize {
        match &self.content {
            Content::Open(writer) | Content::Full(writer) => writer.estimated_size(),
            Content::Sealing(estimate) => *estimate,
            Content::Closed(bytes) => bytes.len(),
        }
    }

    /// Whether the batch's buffer (while records go in) stays within its
    /// reservation.
    #[cfg(test)]
    pub(crate) fn buffer_within_reservation(&self) -> bool {
        match &self.content {
            Content::Open(writer) | Content::Full(writer) => {
                writer.capacity() <= self.reservation.bytes()
            }
            Content::Sealing(_) | Content::Closed(_) => true,
        }
    }

    /// Bytes of `buffer.memory` this batch holds.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        self.reservation.bytes()
    }

    /// The bytes of a finished batch, with the producer state stamped
    /// when `identity` is set and differs from what the bytes carry.
    pub(crate) fn payload(
        &mut self,
        identity: Option<(ProducerIdentity, i32)>,
    ) -> Result<BatchRope, BatchError> {
        let Content::Closed(bytes) = &mut self.content else {
            return Err(BatchError::Encode("the batch is not finished"));
        };
        if let Some((identity, sequence)) = identity.filter(|_| identity != self.stamped) {
            // The request that carried the last attempt has been dropped, so
            // this normally reclaims the header's buffer without copying;
            // referenced values are only read again, for the CRC.
            bytes.set_producer_state(identity.id, identity.epoch, sequence)?;
            self.stamped = Some((identity, sequence));
        }
        Ok(bytes.clone())
    }

    /// Moves half of this batch's memory reservation out (for the front
    /// half of a split); `None` if it cannot be divided.
    pub(crate) fn split_reservation(&mut self) -> Option<Reservation> {
        let half = self.reservation.bytes() / 2;
        self.reservation.split_off(half)
    }

    /// Gives up the batch, keeping what its records and memory hang on:
    /// its signal and its reservation (to hand on to the parts of a split).
    pub(crate) fn into_signal_and_reservation(self) -> (Arc<BatchSignal>, Reservation) {
        (self.signal, self.reservation)
    }

    /// Resolves every record of the batch.
    pub(crate) fn succeed(&self, ack: BatchAck) {
        self.signal.complete(Ok(ack));
    }

    /// Fails every record of the batch.
    pub(crate) fn fail(&self, error: ProducerError) {
        self.signal.complete(Err(error));
    }
}
