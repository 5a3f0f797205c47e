//! Producing a scenario's records and recording every outcome.
//!
//! ```text
//! produce() ── send(record) ──▶ Producer ──▶ broker
//!    │  (id, DeliveryFuture)
//!    ▼
//! collector task: awaits each future in send order ──▶ SendLedger
//! ```
//!
//! Records go to an explicit partition (`key % partitions`), so even a
//! send that fails is known to belong to one partition, and a key's
//! records stay in one partition as with keyed partitioning.

use std::time::Duration;

use bytes::Bytes;
use durian_producer::{DeliveryFuture, Producer, ProducerRecord};
use tokio::sync::mpsc;

use crate::ledger::{Outcome, SendLedger, SentRecord};
use crate::record::RecordId;

/// What a scenario sends.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Identifies this run's records.
    pub run_id: u64,
    /// The topic (must exist).
    pub topic: String,
    /// Its partition count.
    pub partitions: i32,
    /// Distinct keys; record `n` has key `n % keys`.
    pub keys: u32,
    /// How many records.
    pub records: u64,
    /// Filler bytes per value (the value is 36 bytes longer).
    pub payload: usize,
    /// After every `pause_every` sends, sleep `pause` (spreads a run over
    /// time so faults land in the middle of it); 0 never pauses.
    pub pause_every: u64,
    /// See `pause_every`.
    pub pause: Duration,
}

impl Workload {
    /// A workload of `records` records over 16 keys with 64-byte payloads,
    /// sent as fast as the producer takes them.
    pub fn new(topic: impl Into<String>, partitions: i32, records: u64) -> Workload {
        Workload {
            run_id: rand::random(),
            topic: topic.into(),
            partitions: partitions.max(1),
            keys: 16,
            records,
            payload: 64,
            pause_every: 0,
            pause: Duration::ZERO,
        }
    }

    /// The id of send number `n`.
    pub fn id(&self, n: u64) -> RecordId {
        let keys = u64::from(self.keys.max(1));
        RecordId {
            run_id: self.run_id,
            key: (n % keys) as u32,
            sequence: n / keys,
            send_index: n,
        }
    }

    /// The partition record `id` is sent to.
    pub fn partition_of(&self, id: &RecordId) -> i32 {
        (id.key % self.partitions.max(1) as u32) as i32
    }
}

/// Sends the workload through `producer`, waits for every delivery and
/// returns the ledger. `progress` is called after each send with the
/// number of sends so far (scenarios use it to time their faults).
pub async fn produce(
    producer: &Producer,
    workload: &Workload,
    mut progress: impl FnMut(u64),
) -> SendLedger {
    let (deliveries_tx, mut deliveries_rx) = mpsc::unbounded_channel::<(u64, DeliveryFuture)>();
    let mut ledger = SendLedger::new();
    let collector = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        while let Some((n, delivery)) = deliveries_rx.recv().await {
            outcomes.push((n, Outcome::from_delivery(&delivery.await)));
        }
        outcomes
    });
    for n in 0..workload.records {
        let id = workload.id(n);
        let partition = workload.partition_of(&id);
        ledger.push(SentRecord {
            id,
            partition,
            outcome: Outcome::Pending,
        });
        let record = ProducerRecord::<Bytes, Bytes>::new(
            workload.topic.clone(),
            id.encode(workload.payload),
        )
        .with_key(id.kafka_key())
        .with_partition(partition);
        match producer.send(record).await {
            Ok(delivery) => {
                let _ = deliveries_tx.send((n, delivery));
            }
            Err(error) => {
                ledger.resolve(n, Outcome::from_error(&error));
            }
        }
        progress(n + 1);
        if workload.pause_every > 0 && (n + 1) % workload.pause_every == 0 {
            tokio::time::sleep(workload.pause).await;
        }
    }
    drop(deliveries_tx);
    match collector.await {
        Ok(outcomes) => {
            for (n, outcome) in outcomes {
                ledger.resolve(n, outcome);
            }
        }
        Err(error) => {
            tracing::error!(%error, "the delivery collector failed; outcomes stay Pending")
        }
    }
    ledger
}
