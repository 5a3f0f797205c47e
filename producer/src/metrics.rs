//! Counters of a producer, read as a [`ProducerMetrics`] snapshot.
//!
//! Counters are updated per batch or per request, never per record, with
//! relaxed atomics: a snapshot is a consistent-enough view for monitoring,
//! not a synchronisation point.
//!
//! The same counts also go to the `metrics` facade (issue 20) under
//! `durian.producer.*`, labelled with the `client.id`, for applications
//! that install a recorder (docs/OBSERVABILITY.md); without one that is a
//! no-op.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A point-in-time view of a producer's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged by the brokers.
    pub records_sent: u64,
    /// Batch bytes acknowledged (as sent, so compressed when a codec is set).
    pub bytes_sent: u64,
    /// Batches acknowledged.
    pub batches_sent: u64,
    /// Produce requests sent.
    pub requests_sent: u64,
    /// Batch attempts that failed and were queued again.
    pub retries: u64,
    /// Batches that failed for good (their records got an error).
    pub errors: u64,
    /// Bytes of `buffer.memory` held by batches right now.
    pub buffer_in_use: u64,
    /// `buffer.memory`.
    pub buffer_limit: u64,
    /// Produce requests awaiting their response right now.
    pub in_flight_requests: u64,
    /// Epoch bumps (KIP-360) so far.
    pub epoch_bumps: u64,
    /// Batches split in two because a broker found them too large.
    pub batches_split: u64,
    /// Produce responses that asked the producer to back off
    /// (`throttle_time_ms` > 0, KIP-219).
    pub throttled_responses: u64,
    /// Milliseconds of throttling asked for by those responses, in total.
    pub throttle_time_ms: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) records_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) batches_sent: AtomicU64,
    pub(crate) requests_sent: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) in_flight_requests: AtomicU64,
    pub(crate) epoch_bumps: AtomicU64,
    pub(crate) batches_split: AtomicU64,
    pub(crate) throttled_responses: AtomicU64,
    pub(crate) throttle_time_ms: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Sends what one round of completions acknowledged, retried and
    /// failed to the `metrics` facade; per completion round, never per
    /// record.
    pub(crate) fn export(client_id: &str, effects: &crate::accumulator::Effects) {
        let pairs = [
            ("durian.producer.records_sent", effects.acked_records),
            ("durian.producer.bytes_sent", effects.acked_bytes),
            ("durian.producer.batches_sent", effects.acked_batches),
            ("durian.producer.retries", effects.retried_batches),
            ("durian.producer.batch_errors", effects.failed_batches),
        ];
        for (name, n) in pairs {
            if n > 0 {
                metrics::counter!(name, "client.id" => client_id.to_owned()).increment(n);
            }
        }
    }

    pub(crate) fn snapshot(&self, buffer_in_use: usize, buffer_limit: usize) -> ProducerMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProducerMetrics {
            records_sent: get(&self.records_sent),
            bytes_sent: get(&self.bytes_sent),
            batches_sent: get(&self.batches_sent),
            requests_sent: get(&self.requests_sent),
            retries: get(&self.retries),
            errors: get(&self.errors),
            buffer_in_use: buffer_in_use as u64,
            buffer_limit: buffer_limit as u64,
            in_flight_requests: get(&self.in_flight_requests),
            epoch_bumps: get(&self.epoch_bumps),
            batches_split: get(&self.batches_split),
            throttled_responses: get(&self.throttled_responses),
            throttle_time_ms: get(&self.throttle_time_ms),
        }
    }
}

/// Where the `metrics` macros would place these metrics: this module, at
/// INFO, as `histogram!` called here describes them.
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The key of `durian.producer.batch_size_bytes` for `topic`, built once
/// per topic so that an acknowledged batch allocates nothing for it. A
/// key rather than a handle: a handle stays bound to the recorder of its
/// registration, and the application may install one later.
pub(crate) fn batch_size_key(topic: &Arc<str>) -> metrics::Key {
    metrics::Key::from_parts(
        "durian.producer.batch_size_bytes",
        vec![metrics::Label::new("topic", topic.clone())],
    )
}

/// Records the size of one acknowledged batch under `key`
/// ([`batch_size_key`]); per batch, never per record.
pub(crate) fn record_batch_size(key: &metrics::Key, bytes: usize) {
    metrics::with_recorder(|recorder| {
        recorder
            .register_histogram(key, &METADATA)
            .record(bytes as f64);
    });
}
