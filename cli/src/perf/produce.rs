//! `durian perf produce`: send N records of a fixed size as fast as the
//! producer takes them (or at a fixed rate) and time each one from `send`
//! to its acknowledgement.
//!
//! ```text
//!  send loop ── (permit, delivery future, send instant) ──▶ collector task
//!   │ waits for a permit when WINDOW records are unacknowledged     │ awaits futures in any order,
//!   │ waits in `send` when buffer.memory is full                    │ records latency, counts progress
//!   └ sleeps until record i is due when --rate is set               ▼
//!                                                          histogram + failures
//! ```
//!
//! Memory stays bounded for any `--num`: the producer's buffer.memory
//! bounds the bytes, and the permits bound how many delivery futures are
//! held at once (a future holds no payload, but millions of them would
//! still add up).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use durian::producer::{DeliveryFuture, Producer, ProducerRecord};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::histogram::LatencyHistogram;
use super::progress::{Progress, ProgressReporter};
use super::PerfReport;
use crate::CliError;

/// Most records sent but not yet acknowledged or failed.
const WINDOW: usize = 100_000;

/// What `durian perf produce` was asked to do.
#[derive(Clone, Debug)]
pub struct ProduceRun {
    /// Topic to write to (it must exist).
    pub topic: String,
    /// Records to send.
    pub num: u64,
    /// Bytes of each record's value (no key).
    pub size: usize,
    /// Records per second, or as fast as possible when `None`.
    pub rate: Option<f64>,
}

/// A record handed to the producer and not yet resolved.
struct Pending {
    delivery: DeliveryFuture,
    sent_at: Instant,
    _permit: OwnedSemaphorePermit,
}

/// What the collector saw.
struct Outcome {
    latency: LatencyHistogram,
    failed: u64,
    first_error: Option<String>,
}

/// Sends the records through `producer` and measures them. The producer is
/// closed at the end. Fails if any record failed, naming the first reason.
pub async fn run(producer: Producer, run: &ProduceRun) -> Result<PerfReport, CliError> {
    let progress = Arc::new(Progress::default());
    let payload = payload(run.size);
    let started = Instant::now();
    let reporter = ProgressReporter::start("produced", progress.clone(), run.num, started);
    let (pending_tx, pending_rx) = mpsc::unbounded_channel();
    let collector = tokio::spawn(collect(pending_rx, progress.clone(), run.size as u64));
    let window = Arc::new(Semaphore::new(WINDOW));

    let sent = send_all(&producer, run, &payload, &window, &pending_tx, started).await;
    // Closing the channel lets the collector finish once the rest resolve.
    drop(pending_tx);
    let outcome = collector
        .await
        .map_err(|e| CliError::new(format!("the delivery collector stopped: {e}")))?;
    let elapsed = started.elapsed();
    let closed = producer.close(Duration::from_secs(30)).await;
    reporter.finish().await;

    sent?;
    if let Some(error) = outcome.first_error {
        return Err(CliError::new(format!(
            "{} of {} records failed; the first failure: {error}",
            outcome.failed, run.num
        )));
    }
    closed?;
    let (records, bytes) = progress.snapshot();
    Ok(PerfReport {
        verb: "produced",
        records,
        bytes,
        elapsed,
        latency: outcome.latency.summary(),
        latency_label: "send → ack",
        first_record: None,
    })
}

/// The send loop: one record at a time, paced by the rate, the window and
/// the producer's own backpressure.
async fn send_all(
    producer: &Producer,
    run: &ProduceRun,
    payload: &Bytes,
    window: &Arc<Semaphore>,
    pending: &mpsc::UnboundedSender<Pending>,
    started: Instant,
) -> Result<(), CliError> {
    for index in 0..run.num {
        if let Some(rate) = run.rate {
            // Record i is due at i / rate seconds; sleeping until then
            // keeps the average exact without a busy loop.
            let due = started + Duration::from_secs_f64(index as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = window
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CliError::new("the delivery window was closed"))?;
        let sent_at = Instant::now();
        let record = ProducerRecord::new(run.topic.clone(), payload.clone());
        let delivery = producer
            .send(record)
            .await
            .map_err(|e| CliError::new(format!("sending record {index}: {e}")))?;
        let handed = pending.send(Pending {
            delivery,
            sent_at,
            _permit: permit,
        });
        if handed.is_err() {
            return Err(CliError::new("the delivery collector stopped early"));
        }
    }
    Ok(())
}

/// Awaits every delivery in whatever order they resolve, so one slow
/// partition does not delay the latency measured for the others.
async fn collect(
    mut pending: mpsc::UnboundedReceiver<Pending>,
    progress: Arc<Progress>,
    size: u64,
) -> Outcome {
    let mut in_flight = FuturesUnordered::new();
    let mut outcome = Outcome {
        latency: LatencyHistogram::new(),
        failed: 0,
        first_error: None,
    };
    loop {
        tokio::select! {
            Some(next) = pending.recv() => in_flight.push(async move {
                let result = next.delivery.await;
                // The permit is released here, when the record resolved.
                (result, next.sent_at.elapsed())
            }),
            Some((result, latency)) = in_flight.next() => match result {
                Ok(_) => {
                    outcome.latency.record(latency);
                    progress.add(1, size);
                }
                Err(error) => {
                    outcome.failed += 1;
                    outcome.first_error.get_or_insert_with(|| error.to_string());
                }
            },
            else => break,
        }
    }
    outcome
}

/// A value of `size` bytes: upper-case letters from a fixed xorshift
/// sequence, so compression codecs see text-like data instead of zeros
/// (which would make every codec look miraculous).
pub fn payload(size: usize) -> Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'A' + (state % 26) as u8
        })
        .collect();
    Bytes::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_size_and_is_not_uniform() {
        let value = payload(1_000);
        assert_eq!(value.len(), 1_000);
        assert!(value.iter().all(u8::is_ascii_uppercase));
        let distinct: std::collections::BTreeSet<u8> = value.iter().copied().collect();
        assert!(distinct.len() > 20, "{distinct:?}");
        assert!(payload(0).is_empty());
    }
}
