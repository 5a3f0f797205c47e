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
//!
//! A batch the broker finds too large is split in two (see the
//! accumulator's `split` module): its signal is then completed with the
//! signals of the parts, and each waiting future moves on to the part
//! holding its record, its index shifted accordingly.

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

/// How a batch ended.
#[derive(Clone, Debug)]
enum Outcome {
    /// Every record of the batch got this.
    Resolved(Result<BatchAck, ProducerError>),
    /// The batch was split: each part's signal with the index, in this
    /// batch, of the part's first record; sorted by that index.
    Split(Arc<[(i32, Arc<BatchSignal>)]>),
}

#[derive(Default)]
struct SignalState {
    outcome: Option<Outcome>,
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
        self.finish(Outcome::Resolved(outcome));
    }

    /// Hands the batch's records over to the signals of its parts: `parts`
    /// holds each part's signal with the index of its first record here.
    pub(crate) fn split_into(&self, parts: Vec<(i32, Arc<BatchSignal>)>) {
        self.finish(Outcome::Split(parts.into()));
    }

    fn finish(&self, outcome: Outcome) {
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
        matches!(self.lock().outcome, Some(Outcome::Resolved(_)))
    }

    /// Waits until every record of the batch is resolved (for `flush`),
    /// following splits into every part.
    pub(crate) async fn wait(self: &Arc<Self>) {
        let mut pending = vec![self.clone()];
        while let Some(signal) = pending.pop() {
            let outcome = std::future::poll_fn(|cx| {
                let mut state = signal.lock();
                match &state.outcome {
                    Some(outcome) => Poll::Ready(outcome.clone()),
                    None => {
                        state.wakers.push(cx.waker().clone());
                        Poll::Pending
                    }
                }
            })
            .await;
            if let Outcome::Split(parts) = outcome {
                pending.extend(parts.iter().map(|(_, part)| part.clone()));
            }
        }
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
        loop {
            let signal = this.signal.clone();
            let mut state = signal.lock();
            let part = match &state.outcome {
                Some(Outcome::Resolved(Ok(ack))) => return Poll::Ready(Ok(this.metadata(ack))),
                Some(Outcome::Resolved(Err(error))) => return Poll::Ready(Err(error.clone())),
                Some(Outcome::Split(parts)) => parts
                    .iter()
                    .rev()
                    .find(|(first, _)| *first <= this.index)
                    .cloned(),
                None => {
                    // Re-polls replace this future's own waker instead of adding more.
                    match this.waker_slot.and_then(|slot| state.wakers.get_mut(slot)) {
                        Some(existing) if existing.will_wake(cx.waker()) => {}
                        Some(existing) => existing.clone_from(cx.waker()),
                        None => {
                            this.waker_slot = Some(state.wakers.len());
                            state.wakers.push(cx.waker().clone());
                        }
                    }
                    return Poll::Pending;
                }
            };
            drop(state);
            // The batch was split: follow the record into its part.
            let Some((first, part)) = part else {
                return Poll::Ready(Err(ProducerError::Client(durian_core::Error::Protocol(
                    "a split batch lost track of a record".to_owned(),
                ))));
            };
            this.signal = part;
            this.index -= first;
            this.waker_slot = None;
        }
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
    async fn records_of_a_split_batch_follow_their_part() {
        let whole = BatchSignal::new(2);
        let futures: Vec<_> = (0..5)
            .map(|i| DeliveryFuture::new(whole.clone(), i, 100 + i64::from(i)))
            .collect();
        let waiting = tokio::spawn(futures::future::join_all(futures));
        let flushed = tokio::spawn({
            let whole = whole.clone();
            async move { whole.wait().await }
        });
        tokio::task::yield_now().await;
        let (front, back) = (BatchSignal::new(2), BatchSignal::new(2));
        whole.split_into(vec![(0, front.clone()), (2, back.clone())]);
        // The back part is split again, as a still too large half would be.
        let (back_a, back_b) = (BatchSignal::new(2), BatchSignal::new(2));
        back.split_into(vec![(0, back_a.clone()), (1, back_b.clone())]);
        let ack = |base_offset| {
            Ok(BatchAck {
                base_offset,
                log_append_time: -1,
            })
        };
        front.complete(ack(10));
        back_a.complete(ack(12));
        tokio::task::yield_now().await;
        assert!(!flushed.is_finished(), "flush waits for every part");
        back_b.complete(Err(ProducerError::Aborted));
        flushed.await.unwrap();
        let results = waiting.await.unwrap();
        let offsets: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map(|m| (m.offset, m.timestamp)).ok())
            .collect();
        assert_eq!(
            offsets,
            [
                Some((10, 100)),
                Some((11, 101)),
                Some((12, 102)),
                None,
                None
            ]
        );
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
