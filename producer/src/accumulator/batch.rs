//! One producer batch: records of one partition in wire format, and its fate.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use durian_core::record::{set_producer_state, BatchError, BatchWriter};
use tokio::time::Instant;

use super::buffer_pool::Reservation;
use crate::delivery::{BatchAck, BatchSignal};
use crate::error::ProducerError;
use crate::idempotence::ProducerIdentity;
use crate::record::Header;

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

/// The encoded records of a batch: still growing, or finished.
#[derive(Debug)]
enum Content {
    Open(BatchWriter),
    Closed(Bytes),
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
    /// The producer state written into the bytes, to skip re-stamping retries.
    stamped: Option<(ProducerIdentity, i32)>,
    /// The `buffer.memory` bytes of this batch, returned when it is dropped;
    /// only tests read it, the producer holds it for its `Drop`.
    #[cfg_attr(not(test), allow(dead_code))]
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
            stamped: None,
            reservation,
        }
    }

    /// Appends a record if it fits; `Ok(None)` when it does not. Returns
    /// the record's index in the batch.
    pub(crate) fn try_append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<Option<i32>, BatchError> {
        let Content::Open(writer) = &mut self.content else {
            return Ok(None);
        };
        if writer.try_append(timestamp, key, value, headers)? {
            self.records += 1;
            Ok(Some(self.records - 1))
        } else {
            Ok(None)
        }
    }

    /// Whether records can still be appended.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.content, Content::Open(_))
    }

    /// Finishes the records (compressing them) so no more can be added.
    pub(crate) fn close(&mut self) -> Result<(), BatchError> {
        if let Content::Open(writer) = &mut self.content {
            let writer = std::mem::replace(writer, BatchWriter::builder().build());
            self.content = Content::Closed(writer.finish()?);
        }
        Ok(())
    }

    /// Encoded size: final when closed, the uncompressed estimate when open.
    pub(crate) fn size(&self) -> usize {
        match &self.content {
            Content::Open(writer) => writer.estimated_size(),
            Content::Closed(bytes) => bytes.len(),
        }
    }

    /// Bytes of `buffer.memory` this batch holds.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        self.reservation.bytes()
    }

    /// Closes the batch if needed, stamps the producer state when
    /// `identity` is set, and returns the bytes to send.
    pub(crate) fn payload(
        &mut self,
        identity: Option<(ProducerIdentity, i32)>,
    ) -> Result<Bytes, BatchError> {
        self.close()?;
        let Content::Closed(bytes) = &mut self.content else {
            return Err(BatchError::Empty);
        };
        if let Some((identity, sequence)) = identity.filter(|_| identity != self.stamped) {
            // The request that carried the last attempt has been dropped, so
            // this normally reclaims the buffer without copying.
            let mut owned = BytesMut::from(std::mem::take(bytes));
            set_producer_state(&mut owned, identity.id, identity.epoch, sequence)?;
            *bytes = owned.freeze();
            self.stamped = Some((identity, sequence));
        }
        Ok(bytes.clone())
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
