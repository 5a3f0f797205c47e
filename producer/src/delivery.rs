//! Delivery futures: one shared completion per batch, one small future per record.
//!
//! ```text
//!  batch ──▶ Arc<BatchSignal> ◀── DeliveryFuture { signal, index, timestamp }  (one per record)
//!              │ complete(Ok(ack) | Err(e)) once, wakes every waiting record
//! ```
//!
//! A record's future allocates nothing of its own: the batch holds one
//! signal, and each future keeps the record's position in the batch, from
//! which its offset follows (`base offset + index`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::error::ProducerError;
use crate::record::RecordMetadata;

/// How the broker acknowledged a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchAck {
    /// Offset of the first record; -1 when unknown.
    pub base_offset: i64,
    /// The broker's append time for LogAppendTime topics, else -1.
    pub log_append_time: i64,
}

#[derive(Default)]
struct SignalState {
    outcome: Option<Result<BatchAck, ProducerError>>,
    wakers: Vec<Waker>,
}

/// The completion of one batch, shared by the futures of its records.
pub(crate) struct BatchSignal {
    partition: i32,
    state: Mutex<SignalState>,
}

impl std::fmt::Debug for BatchSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSignal")
            .field("partition", &self.partition)
            .field("complete", &self.is_complete())
            .finish()
    }
}

impl BatchSignal {
    pub(crate) fn new(partition: i32) -> Arc<Self> {
        Arc::new(BatchSignal {
            partition,
            state: Mutex::new(SignalState::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, SignalState> {
        // Each critical section leaves the state consistent; recover.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves every record of the batch; later calls are ignored, so a
    /// batch is reported exactly once.
    pub(crate) fn complete(&self, outcome: Result<BatchAck, ProducerError>) {
        let wakers = {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return;
            }
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether the batch has been resolved.
    pub(crate) fn is_complete(&self) -> bool {
        self.lock().outcome.is_some()
    }

    /// Waits until the batch is resolved (for `flush`).
    pub(crate) async fn wait(self: &Arc<Self>) {
        let _ = DeliveryFuture {
            signal: self.clone(),
            index: 0,
            timestamp: 0,
            waker_slot: None,
        }
        .await;
    }
}

/// Resolves to where one record was written, or why it was not.
///
/// Returned by [`Producer::send`](crate::Producer::send) once the record is
/// buffered. Dropping it does not cancel the record.
pub struct DeliveryFuture {
    signal: Arc<BatchSignal>,
    index: i32,
    timestamp: i64,
    waker_slot: Option<usize>,
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("partition", &self.signal.partition)
            .field("index", &self.index)
            .field("complete", &self.signal.is_complete())
            .finish()
    }
}

impl DeliveryFuture {
    pub(crate) fn new(signal: Arc<BatchSignal>, index: i32, timestamp: i64) -> Self {
        DeliveryFuture {
            signal,
            index,
            timestamp,
            waker_slot: None,
        }
    }

    /// The partition the record was assigned to.
    pub fn partition(&self) -> i32 {
        self.signal.partition
    }

    fn metadata(&self, ack: &BatchAck) -> RecordMetadata {
        let offset = if ack.base_offset < 0 {
            -1
        } else {
            ack.base_offset + i64::from(self.index)
        };
        let timestamp = if ack.log_append_time >= 0 {
            ack.log_append_time
        } else {
            self.timestamp
        };
        RecordMetadata {
            partition: self.signal.partition,
            offset,
            timestamp,
        }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ProducerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.signal.lock();
        if let Some(outcome) = &state.outcome {
            return Poll::Ready(match outcome {
                Ok(ack) => Ok(this.metadata(ack)),
                Err(error) => Err(error.clone()),
            });
        }
        // Re-polls replace this future's own waker instead of adding more.
        match this.waker_slot.and_then(|slot| state.wakers.get_mut(slot)) {
            Some(existing) if existing.will_wake(cx.waker()) => {}
            Some(existing) => existing.clone_from(cx.waker()),
            None => {
                this.waker_slot = Some(state.wakers.len());
                state.wakers.push(cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_record_of_a_batch_gets_its_offset() {
        let signal = BatchSignal::new(3);
        let first = DeliveryFuture::new(signal.clone(), 0, 100);
        let second = DeliveryFuture::new(signal.clone(), 1, 101);
        let waiter = tokio::spawn(second);
        tokio::task::yield_now().await;
        signal.complete(Ok(BatchAck {
            base_offset: 40,
            log_append_time: -1,
        }));
        signal.complete(Err(ProducerError::Aborted)); // ignored: already resolved
        let second = waiter.await.unwrap().unwrap();
        assert_eq!(
            second,
            RecordMetadata {
                partition: 3,
                offset: 41,
                timestamp: 101
            }
        );
        assert_eq!(first.await.unwrap().offset, 40);
    }

    #[tokio::test]
    async fn failures_and_unknown_offsets_reach_every_record() {
        let signal = BatchSignal::new(0);
        let record = DeliveryFuture::new(signal.clone(), 5, 7);
        signal.complete(Ok(BatchAck {
            base_offset: -1,
            log_append_time: 900,
        }));
        let meta = record.await.unwrap();
        assert_eq!((meta.offset, meta.timestamp), (-1, 900));
        let failed = BatchSignal::new(0);
        let record = DeliveryFuture::new(failed.clone(), 0, 0);
        failed.complete(Err(ProducerError::Closed));
        assert!(matches!(record.await, Err(ProducerError::Closed)));
    }
}
