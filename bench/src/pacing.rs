//! The fixed-rate sender and the receiving side's bookkeeping shared by the
//! latency scenario of every client.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::measure::Latency;
use crate::payload;

/// Calls `send` `total` times at `rate` per second. When the sender falls
/// behind (a slow `send`), overdue records go out back to back, so the
/// offered load stays the same and the delay shows up as latency.
pub async fn paced<F, Fut>(rate: u64, total: u64, mut send: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        send().await?;
    }
    Ok(())
}

/// Collects the age of each stamped value the consumer sees, until `total`
/// arrived or the sender has finished and `drain` has passed since.
///
/// Before the paced load starts, the sender puts one short warm-up value in
/// every partition and waits (see [`Collector::ready`]) until the consumer
/// has seen them all: otherwise the consumer's start-up (metadata, offset
/// lookups) would show up as the latency of the first records.
#[derive(Debug)]
pub struct Collector {
    samples: Vec<u64>,
    total: u64,
    drain: Duration,
    sender_done: watch::Receiver<bool>,
    drain_deadline: Option<Instant>,
    warmups_expected: u64,
    warmups_seen: u64,
    ready: watch::Sender<bool>,
}

/// Resolves once the consumer has seen every warm-up value.
#[derive(Debug)]
pub struct ConsumerReady(watch::Receiver<bool>);

impl ConsumerReady {
    /// Waits up to `timeout` for the consumer to be ready.
    pub async fn wait(mut self, timeout: Duration) -> Result<(), String> {
        tokio::time::timeout(timeout, self.0.wait_for(|ready| *ready))
            .await
            .map_err(|_| {
                format!("the consumer did not see the warm-up records within {timeout:?}")
            })?
            .map(drop)
            .map_err(|_| "the consumer stopped before it was ready".to_owned())
    }

    /// Blocking form of [`ConsumerReady::wait`], for threads outside tokio.
    pub fn wait_blocking(self, timeout: Duration) -> Result<(), String> {
        let deadline = std::time::Instant::now() + timeout;
        while !*self.0.borrow() {
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "the consumer did not see the warm-up records within {timeout:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

/// The value of a warm-up record: shorter than a stamp, so never a sample.
pub const WARM_UP: &[u8] = b"w";

/// Tells the [`Collector`] that sending has finished.
#[derive(Debug)]
pub struct SenderDone(watch::Sender<bool>);

impl SenderDone {
    /// Marks the end of sending; the collector then waits at most its drain time.
    pub fn done(&self) {
        let _ = self.0.send(true);
    }
}

impl Collector {
    /// A collector expecting `warmups` warm-up values, then `total` stamped values.
    pub fn new(
        total: u64,
        warmups: u64,
        drain: Duration,
    ) -> (Collector, SenderDone, ConsumerReady) {
        let (done_tx, done_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = watch::channel(warmups == 0);
        let collector = Collector {
            samples: Vec::with_capacity(total as usize),
            total,
            drain,
            sender_done: done_rx,
            drain_deadline: None,
            warmups_expected: warmups,
            warmups_seen: 0,
            ready: ready_tx,
        };
        (collector, SenderDone(done_tx), ConsumerReady(ready_rx))
    }

    /// Records one value: a stamped value gives a sample, a warm-up counts
    /// towards readiness.
    pub fn observe(&mut self, value: &[u8]) {
        if let Some(age) = payload::age_micros(value) {
            self.samples.push(age);
        } else if value == WARM_UP {
            self.warmups_seen += 1;
            if self.warmups_seen >= self.warmups_expected {
                let _ = self.ready.send(true);
            }
        }
    }

    /// Whether the consumer should stop polling.
    pub fn finished(&mut self) -> bool {
        if self.samples.len() as u64 >= self.total {
            return true;
        }
        if self.drain_deadline.is_none() && *self.sender_done.borrow() {
            self.drain_deadline = Some(Instant::now() + self.drain);
        }
        self.drain_deadline.is_some_and(|d| Instant::now() > d)
    }

    /// The percentiles, or an error naming how many records never arrived.
    pub fn into_latency(mut self) -> Result<Latency, String> {
        let received = self.samples.len() as u64;
        if received < self.total {
            return Err(format!(
                "only {received} of {} latency records arrived",
                self.total
            ));
        }
        Ok(Latency::from_samples(&mut self.samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn collector_stops_after_drain_and_reports_missing() {
        let (mut collector, done, ready) = Collector::new(3, 1, Duration::from_millis(10));
        collector.observe(&payload::stamped(16, b"filler--filler--"));
        collector.observe(WARM_UP);
        ready
            .wait(Duration::from_secs(1))
            .await
            .expect("one warm-up seen");
        assert!(!collector.finished());
        done.done();
        assert!(!collector.finished());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(collector.finished());
        let err = collector.into_latency().expect_err("two missing");
        assert!(err.contains("only 1 of 3"), "{err}");
    }

    #[tokio::test]
    async fn paced_sends_every_record_at_the_rate() {
        let mut sent = 0u32;
        let started = std::time::Instant::now();
        paced(1000, 50, || {
            sent += 1;
            async { Ok(()) }
        })
        .await
        .expect("no send fails");
        assert_eq!(sent, 50);
        // 50 records at 1000/s cannot finish before the 49th is due.
        assert!(started.elapsed() >= Duration::from_millis(49));
    }
}
