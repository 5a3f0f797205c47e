//! [`MockProducer`]: a producer without a broker, for tests of application
//! code written against [`ProducerApi`] (cargo feature `testing`).
//!
//! ```text
//!  send ─▶ fail_next_sends? ─▶ Err            (nothing recorded)
//!       └▶ recorded in sent() ─▶ auto-complete? ─▶ fail_next_deliveries? ─▶ future: Err
//!                                    │                                 └──▶ future: Ok(next offset)
//!                                    └ held until complete_next / fail_next_pending / flush
//! ```
//!
//! Deliveries are real [`DeliveryFuture`]s, completed the way the sender
//! completes them, so code awaiting them behaves as in production.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::api::ProducerApi;
use crate::delivery::{BatchAck, BatchSignal, DeliveryFuture};
use crate::error::ProducerError;
use crate::record::ProducerRecord;

mod transactions;
use transactions::MockTransactions;

/// A delivery held back (auto-complete off) until the test releases it.
#[derive(Debug)]
struct Held {
    topic: String,
    partition: i32,
    signal: Arc<BatchSignal>,
}

#[derive(Debug)]
struct State<K, V> {
    sent: Vec<ProducerRecord<K, V>>,
    next_offsets: HashMap<(String, i32), i64>,
    send_failures: VecDeque<ProducerError>,
    delivery_failures: VecDeque<ProducerError>,
    auto_complete: bool,
    held: VecDeque<Held>,
    flushes: usize,
    closed: bool,
    /// Transactional calls, once `init_transactions` ran.
    txn: MockTransactions<K, V>,
}

/// A producer that records what it is given instead of sending it.
///
/// Every accepted record is kept, with the partition it went to, in
/// [`sent`](Self::sent). Deliveries succeed with offsets counting from 0
/// per partition, unless the test asked for failures or holds them back.
/// Clones share one state, so a test keeps a clone to inspect what the
/// code under test sent.
///
/// The partition is the record's explicit one, else 0: the mock has no
/// metadata to partition by key.
///
/// ```
/// # futures::executor::block_on(async {
/// use durian_producer::{MockProducer, ProducerApi, ProducerError, ProducerRecord};
/// let producer = MockProducer::<String, String>::new();
/// producer.fail_next_deliveries(1, ProducerError::Aborted);
/// let first = producer.send(ProducerRecord::new("t", "a".to_owned())).await.unwrap();
/// let second = producer.send(ProducerRecord::new("t", "b".to_owned())).await.unwrap();
/// assert!(matches!(first.await, Err(ProducerError::Aborted)));
/// assert_eq!(second.await.unwrap().offset, 0);
/// assert_eq!(producer.sent().len(), 2);
/// # });
/// ```
#[derive(Debug)]
pub struct MockProducer<K = bytes::Bytes, V = bytes::Bytes> {
    state: Arc<Mutex<State<K, V>>>,
}

impl<K, V> Clone for MockProducer<K, V> {
    fn clone(&self) -> Self {
        MockProducer {
            state: self.state.clone(),
        }
    }
}

impl<K, V> Default for MockProducer<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> MockProducer<K, V> {
    /// A mock that completes every delivery as soon as it is sent.
    pub fn new() -> Self {
        MockProducer {
            state: Arc::new(Mutex::new(State {
                sent: Vec::new(),
                next_offsets: HashMap::new(),
                send_failures: VecDeque::new(),
                delivery_failures: VecDeque::new(),
                auto_complete: true,
                held: VecDeque::new(),
                flushes: 0,
                closed: false,
                txn: MockTransactions::default(),
            })),
        }
    }

    /// A mock that holds every delivery until [`complete_next`](Self::complete_next),
    /// [`fail_next_pending`](Self::fail_next_pending) or a flush releases it
    /// (Java's `autoComplete=false`): for testing code that must not wait
    /// on deliveries, or that handles them arriving late.
    pub fn holding_deliveries() -> Self {
        let mock = Self::new();
        mock.state().auto_complete = false;
        mock
    }

    fn state(&self) -> MutexGuard<'_, State<K, V>> {
        // Each update leaves the state whole; a panicking test thread
        // elsewhere must not hide it from the assertions that follow.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next `count` calls of `send` fail with `error` and record nothing
    /// (as a full buffer or a failing serializer would).
    pub fn fail_next_sends(&self, count: usize, error: ProducerError) {
        let mut state = self.state();
        state
            .send_failures
            .extend(std::iter::repeat_n(error, count));
    }

    /// The deliveries of the next `count` records fail with `error` (as
    /// a broker refusing them would); the records are still recorded.
    pub fn fail_next_deliveries(&self, count: usize, error: ProducerError) {
        let mut state = self.state();
        state
            .delivery_failures
            .extend(std::iter::repeat_n(error, count));
    }

    /// Completes the oldest held delivery successfully; false if none is held.
    pub fn complete_next(&self) -> bool {
        let mut state = self.state();
        match state.held.pop_front() {
            Some(held) => {
                state.acknowledge(held);
                true
            }
            None => false,
        }
    }

    /// Fails the oldest held delivery with `error`; false if none is held.
    pub fn fail_next_pending(&self, error: ProducerError) -> bool {
        // Taken out first so the lock is not held while waiters are woken.
        let held = self.state().held.pop_front();
        match held {
            Some(held) => {
                held.signal.complete(Err(error));
                true
            }
            None => false,
        }
    }

    /// How many deliveries are held.
    pub fn pending(&self) -> usize {
        self.state().held.len()
    }

    /// How many times `flush` was called (`close` counts as one).
    pub fn flushes(&self) -> usize {
        self.state().flushes
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Forgets the recorded records (not the offsets already handed out).
    pub fn clear(&self) {
        self.state().sent.clear();
    }

    fn accept(&self, mut record: ProducerRecord<K, V>) -> Result<DeliveryFuture, ProducerError>
    where
        K: Clone,
        V: Clone,
    {
        let mut state = self.state();
        if state.closed {
            return Err(ProducerError::Closed);
        }
        state.txn.check_send()?;
        if let Some(error) = state.send_failures.pop_front() {
            return Err(error);
        }
        let partition = record.partition.unwrap_or(0);
        if partition < 0 {
            return Err(ProducerError::InvalidPartition {
                topic: record.topic,
                partition,
                partitions: 1,
            });
        }
        record.partition = Some(partition);
        let timestamp = *record.timestamp.get_or_insert_with(now_millis);
        let held = Held {
            topic: record.topic.clone(),
            partition,
            signal: BatchSignal::new(partition),
        };
        let future = DeliveryFuture::new(held.signal.clone(), 0, timestamp);
        // Inside a transaction the record shows in `sent` at the commit.
        if let Some(record) = state.txn.hold(record) {
            state.sent.push(record);
        }
        if let Some(error) = state.delivery_failures.pop_front() {
            held.signal.complete(Err(error));
        } else if state.auto_complete {
            state.acknowledge(held);
        } else {
            state.held.push_back(held);
        }
        Ok(future)
    }

    /// Releases every held delivery successfully, as a real flush waits
    /// for them to be acknowledged.
    fn complete_all(&self) {
        let mut state = self.state();
        state.flushes += 1;
        while let Some(held) = state.held.pop_front() {
            state.acknowledge(held);
        }
    }
}

impl<K: Clone, V: Clone> MockProducer<K, V> {
    /// Every record accepted so far, in send order, each with the
    /// partition it went to and its timestamp filled in.
    pub fn sent(&self) -> Vec<ProducerRecord<K, V>> {
        self.state().sent.clone()
    }
}

impl<K, V> State<K, V> {
    /// Gives the record the next offset of its partition.
    fn acknowledge(&mut self, held: Held) {
        let next = self
            .next_offsets
            .entry((held.topic, held.partition))
            .or_insert(0);
        let base_offset = *next;
        *next += 1;
        held.signal.complete(Ok(BatchAck {
            base_offset,
            log_append_time: -1,
        }));
    }
}

impl<K, V> ProducerApi<K, V> for MockProducer<K, V>
where
    K: Clone + Send + Sync,
    V: Clone + Send + Sync,
{
    async fn send(&self, record: ProducerRecord<K, V>) -> Result<DeliveryFuture, ProducerError> {
        self.accept(record)
    }

    async fn flush(&self) -> Result<(), ProducerError> {
        self.complete_all();
        Ok(())
    }

    async fn close(&self, _timeout: Duration) -> Result<(), ProducerError> {
        self.complete_all();
        self.state().closed = true;
        Ok(())
    }
}

/// The wall-clock time in milliseconds since the epoch: a mock send's
/// timestamp when the record has none.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
