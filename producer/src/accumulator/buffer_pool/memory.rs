//! `buffer.memory` as a semaphore of bytes.
//!
//! A batch reserves what it holds, not what it may hold: opening one
//! reserves `min(batch.size, 16 KiB)` (or the first record's size, if
//! larger), and an append that would outgrow the reservation first grows
//! it, doubling up to `batch.size`. So a large `batch.size` costs memory
//! only where batches fill, and many mostly-empty batches (keyed records
//! over many partitions) hold no more than with Kafka's 16 KiB default.
//! The reservation travels with the batch and is returned when the batch
//! is dropped (acknowledged, failed or expired). A `send` that finds no
//! room, for a new batch or for growing one, waits in FIFO order up to
//! `max.block.ms`: this is the producer's backpressure. Bytes in use can
//! never exceed the budget, because a batch's buffer is grown to its
//! reservation before a record goes in, never beyond it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ProducerError;

/// The byte budget.
#[derive(Clone, Debug)]
pub(crate) struct MemoryBudget {
    semaphore: Arc<Semaphore>,
    total: usize,
}

/// Bytes held by one batch; released on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    permit: OwnedSemaphorePermit,
    bytes: usize,
}

impl Reservation {
    /// How many bytes this reservation holds.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds `bytes` to this reservation if they are free right now.
    pub(crate) fn try_grow(&mut self, bytes: usize) -> bool {
        let Ok(permits) = u32::try_from(bytes) else {
            return false;
        };
        match self
            .permit
            .semaphore()
            .clone()
            .try_acquire_many_owned(permits)
        {
            Ok(more) => {
                self.permit.merge(more);
                self.bytes += bytes;
                true
            }
            Err(_) => false,
        }
    }

    /// Adds `other` to this reservation (bytes waited for to grow a
    /// batch). A reservation from another budget is given back instead.
    pub(crate) fn absorb(&mut self, other: Reservation) {
        // `merge` requires permits of one semaphore; a producer has one
        // budget, so the check only keeps a misuse from panicking.
        if Arc::ptr_eq(self.permit.semaphore(), other.permit.semaphore()) {
            self.bytes += other.bytes;
            self.permit.merge(other.permit);
        }
    }

    /// Moves `bytes` of this reservation into a new one (for the halves of
    /// a split batch); `None` when it holds fewer.
    pub(crate) fn split_off(&mut self, bytes: usize) -> Option<Reservation> {
        let permit = self.permit.split(bytes)?;
        self.bytes -= bytes;
        Some(Reservation { permit, bytes })
    }
}

impl MemoryBudget {
    /// A budget of `total` bytes (validated to fit in a `u32`).
    pub(crate) fn new(total: usize) -> Self {
        MemoryBudget {
            semaphore: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes currently reserved by batches.
    pub(crate) fn in_use(&self) -> usize {
        self.total
            .saturating_sub(self.semaphore.available_permits())
    }

    /// Reserves `bytes` without waiting, if they are free right now.
    pub(crate) fn try_reserve(&self, bytes: usize) -> Option<Reservation> {
        let permits = u32::try_from(bytes).ok()?;
        let permit = self
            .semaphore
            .clone()
            .try_acquire_many_owned(permits)
            .ok()?;
        Some(Reservation { permit, bytes })
    }

    /// Reserves `bytes`, waiting at most `max_wait` for other batches to
    /// give room back.
    pub(crate) async fn reserve(
        &self,
        bytes: usize,
        max_wait: Duration,
    ) -> Result<Reservation, ProducerError> {
        let too_large = || ProducerError::RecordTooLarge {
            size: bytes,
            limit: self.total,
            setting: "buffer.memory",
        };
        if bytes > self.total {
            return Err(too_large());
        }
        let permits = u32::try_from(bytes).map_err(|_| too_large())?;
        let acquire = self.semaphore.clone().acquire_many_owned(permits);
        match tokio::time::timeout(max_wait, acquire).await {
            Ok(Ok(permit)) => Ok(Reservation { permit, bytes }),
            // The semaphore is never closed; treat it like a full buffer.
            Ok(Err(_)) | Err(_) => Err(ProducerError::BufferFull {
                limit: self.total,
                waited: max_wait,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn send_waits_for_room_then_fails_after_max_block() {
        let budget = MemoryBudget::new(100);
        let first = budget.reserve(60, Duration::from_secs(1)).await.unwrap();
        assert_eq!(budget.in_use(), 60);
        assert!(budget.try_reserve(50).is_none());
        let started = tokio::time::Instant::now();
        let err = budget
            .reserve(50, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, ProducerError::BufferFull { limit: 100, .. }));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        // Room given back within the wait lets the send go on.
        let waiter = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(50, Duration::from_secs(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(first);
        let second = waiter.await.unwrap().unwrap();
        assert_eq!((second.bytes(), budget.in_use()), (50, 50));
    }

    #[test]
    fn a_reservation_grows_only_while_the_budget_has_room() {
        let budget = MemoryBudget::new(100);
        let mut held = budget.try_reserve(40).unwrap();
        assert!(held.try_grow(50));
        assert_eq!((held.bytes(), budget.in_use()), (90, 90));
        assert!(!held.try_grow(11), "only 10 bytes are free");
        assert_eq!((held.bytes(), budget.in_use()), (90, 90));
        let more = budget.try_reserve(10).unwrap();
        held.absorb(more);
        assert_eq!((held.bytes(), budget.in_use()), (100, 100));
        // A reservation of another budget is not taken in, but returned.
        let other = MemoryBudget::new(10);
        held.absorb(other.try_reserve(10).unwrap());
        assert_eq!((held.bytes(), other.in_use()), (100, 0));
        drop(held);
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn a_reservation_larger_than_the_budget_fails_at_once() {
        let budget = MemoryBudget::new(100);
        let err = budget
            .reserve(101, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("buffer.memory = 100"), "{err}");
    }
}
