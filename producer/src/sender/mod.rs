//! The sender task: drains ready batches per broker, dispatches requests to
//! the brokers' sinks, applies responses, and runs InitProducerId.
//!
//! ```text
//!            ┌──────────────── one loop, one task ─────────────────┐
//!  wakeup ──▶│ expire ▸ producer id ▸ ready_nodes ▸ take ▸ seal ▸ store │──SinkJob──▶ sink(node) ──▶ broker
//!  events ──▶│ apply replies: ack / retry / split / fail / bump / throttle │◀──Reply────┘
//!            └──────────────────────────────────────────────────────────┘
//! ```
//!
//! One task decides everything, so ordering rules (one batch per partition
//! per request, retries before newer batches, nothing to a new leader while
//! the old one has requests of the partition in flight, epoch bumps only
//! when nothing is in flight) are checked in one place without races.
//! Batches are compressed (`seal`) between two short holds of the
//! accumulator's lock, so `send` calls are never blocked by compression.
//!
//! A produce response with `throttle_time_ms` > 0 (KIP-219: the broker
//! answers at once and expects the client to wait) pauses that broker's
//! requests for that long; other brokers are not affected.

mod encode;
mod precise_timer;
mod request;
mod sink;
mod span;
mod transaction;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use durian_core::backoff::Backoff;
use durian_core::{Error, KafkaError, Target};
use kafka_protocol::messages::{InitProducerIdRequest, ProducerId};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::accumulator::{seal, BatchOutcome, DrainRules, Effects};
use crate::config::Acks;
use crate::error::{FatalError, ProducerError};
use crate::idempotence::{IdentityState, ProducerIdentity};
use crate::lifecycle::State;
use crate::metrics::Metrics;
use crate::shared::Shared;
use precise_timer::PreciseTimer;
use sink::{spawn_sink, SinkJob, SinkReply};

/// Something the sender task must react to.
#[derive(Debug)]
pub(crate) enum SenderEvent {
    /// A sink finished a request.
    Reply(SinkReply),
    /// InitProducerId finished.
    ProducerId(Result<ProducerIdentity, Error>),
    /// AddPartitionsToTxn finished for these partitions.
    PartitionsAdded {
        partitions: Vec<(Arc<str>, i32)>,
        result: Result<(), crate::transaction::RpcFailure>,
    },
}

/// A batch carried by a request in flight.
#[derive(Debug)]
struct BatchRef {
    topic: StrBytes,
    partition: i32,
    batch_id: u64,
}

struct Sender {
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<SenderEvent>,
    sinks: HashMap<i32, mpsc::UnboundedSender<SinkJob>>,
    /// Requests in flight by id, with the batches they carry.
    requests: HashMap<u64, (i32, Vec<BatchRef>)>,
    next_request: u64,
    /// `None` without idempotence.
    identity: Option<IdentityState>,
    producer_id_pending: bool,
    producer_id_retry_at: Option<Instant>,
    producer_id_backoff: Backoff,
    /// Brokers that asked for a pause (throttle_time_ms), and until when.
    throttled_until: HashMap<i32, Instant>,
    /// The transaction manager's identity generation last adopted.
    txn_generation: u64,
    /// An AddPartitionsToTxn is in flight.
    adding_partitions: bool,
}

/// Runs the sender until the producer is closed and everything is resolved.
pub(crate) async fn run(shared: Arc<Shared>) {
    let (events, mut inbox) = mpsc::unbounded_channel();
    let config = &shared.config;
    let mut sender = Sender {
        identity: config.enable_idempotence.then_some(IdentityState::NeedsId),
        events,
        sinks: HashMap::new(),
        requests: HashMap::new(),
        next_request: 0,
        producer_id_pending: false,
        producer_id_retry_at: None,
        producer_id_backoff: Backoff::new(
            config.client.retry_backoff,
            config.client.retry_backoff_max,
        ),
        shared: shared.clone(),
        throttled_until: HashMap::new(),
        txn_generation: 0,
        adding_partitions: false,
    };
    let mut metadata = shared.client.subscribe_metadata();
    // linger.ms deadlines to the microsecond (see precise_timer.rs); the
    // tokio sleep below stays as the fallback and for paused test clocks.
    let timer = PreciseTimer::start();
    loop {
        let next_wake = sender.step(Instant::now());
        if sender.finished() {
            break;
        }
        if let Some(timer) = &timer {
            timer.arm(next_wake.map(Instant::into_std));
        }
        let sleep_until = next_wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            _ = shared.wakeup.notified() => {}
            Some(event) = inbox.recv() => sender.handle(event),
            Ok(()) = metadata.changed() => {}
            () = timer_fired(timer.as_ref()) => {}
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
    shared.lifecycle.advance(State::Closed);
    shared.sender_done.notify_waiters();
    tracing::debug!("producer sender stopped");
}

/// Resolves when the precise timer fires; never without one.
async fn timer_fired(timer: Option<&PreciseTimer>) {
    match timer {
        Some(timer) => timer.fired().await,
        None => std::future::pending().await,
    }
}

impl Sender {
    /// One pass: expire, manage the producer id, send what is ready.
    /// Returns when to look again if nothing wakes the task earlier.
    fn step(&mut self, now: Instant) -> Option<Instant> {
        let shared = self.shared.clone();
        if shared.lifecycle.is_aborting() {
            let effects = shared.accumulator().fail_all(&ProducerError::Aborted, true);
            self.apply(effects);
            return None;
        }
        if let Some(fatal) = shared.fatal.get() {
            let effects = shared.accumulator().fail_all(fatal, false);
            self.apply(effects);
            return None;
        }
        let effects = shared.accumulator().expire(now);
        self.apply(effects);
        match shared.txn.clone() {
            Some(txn) => self.drive_transaction(&txn, now),
            None => self.manage_producer_id(now),
        }

        let metadata = shared.client.metadata();
        let rules = DrainRules {
            now,
            linger: shared.config.linger,
            hurry: shared.hurry.load(Ordering::Acquire) > 0 || shared.lifecycle.is_closing(),
            max_in_flight: shared.config.max_in_flight,
        };
        let scan = shared.accumulator().ready_nodes(&metadata, &rules);
        if scan.unknown_leader {
            shared
                .client
                .request_metadata_refresh("a partition with records to send has no leader");
        }
        let stamp = match self.identity {
            None => None,
            Some(state) => match state.sendable() {
                Some(identity) => Some(identity),
                // No id yet, or a bump waits for in-flight requests.
                None => return self.earliest(scan.next_wake),
            },
        };
        self.throttled_until.retain(|_, until| *until > now);
        for node in scan.nodes {
            let in_flight = self.requests.values().filter(|(n, _)| *n == node).count();
            if in_flight >= shared.config.max_in_flight || self.throttled_until.contains_key(&node)
            {
                continue;
            }
            let (taken, effects) = shared.accumulator().take_ready(
                node,
                &metadata,
                &rules,
                shared.config.max_request_size,
                stamp,
            );
            self.apply(effects);
            if taken.is_empty() {
                continue;
            }
            // Compression, with the lock released.
            let sealed = seal(taken);
            let (batches, effects) = shared.accumulator().store_sealed(sealed);
            self.apply(effects);
            if !batches.is_empty() {
                self.dispatch(node, batches, now);
            }
        }
        self.earliest(scan.next_wake)
    }

    fn earliest(&self, wake: Option<Instant>) -> Option<Instant> {
        [
            wake,
            self.producer_id_retry_at,
            self.throttled_until.values().min().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn finished(&self) -> bool {
        let shared = &self.shared;
        shared.lifecycle.is_closing() && self.requests.is_empty() && shared.accumulator().is_empty()
    }

    /// Starts InitProducerId when an id is needed (first use, or a bump
    /// once nothing is in flight).
    fn manage_producer_id(&mut self, now: Instant) {
        let Some(state) = self.identity else {
            return;
        };
        let wanted = match state {
            IdentityState::NeedsId => true,
            IdentityState::BumpNeeded(_) => self.requests.is_empty(),
            IdentityState::Ready(_) => false,
        };
        if !wanted
            || self.producer_id_pending
            || self.producer_id_retry_at.is_some_and(|at| at > now)
        {
            return;
        }
        self.producer_id_pending = true;
        self.producer_id_retry_at = None;
        let (id, epoch) = state.init_request();
        tracing::debug!(producer_id = id, epoch, "requesting a producer id");
        let client = self.shared.client.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let request = InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(i32::MAX)
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(epoch);
            let result = client
                .send(Target::Any, request)
                .await
                .and_then(|response| {
                    KafkaError::check(response.error_code, None)?;
                    Ok(ProducerIdentity {
                        id: response.producer_id.0,
                        epoch: response.producer_epoch,
                    })
                });
            let _ = events.send(SenderEvent::ProducerId(result));
        });
    }

    fn dispatch(
        &mut self,
        node: i32,
        mut batches: Vec<crate::accumulator::DrainedBatch>,
        now: Instant,
    ) {
        let config = &self.shared.config;
        let request_id = self.next_request;
        self.next_request += 1;
        // A request never outlives the earliest delivery deadline it
        // carries by much, so expired records are reported on time even
        // when a broker stops answering.
        let earliest = batches.iter().map(|b| b.deadline).min().unwrap_or(now);
        let timeout = config
            .client
            .request_timeout
            .min(earliest.saturating_duration_since(now))
            .max(Duration::from_millis(50));
        let bytes: usize = batches.iter().map(|b| b.payload.len()).sum();
        let (request, records) = request::build_request(
            config.acks.wire_value(),
            config.client.request_timeout,
            config.transactional_id.as_deref(),
            &mut batches,
        );
        tracing::debug!(
            node,
            request_id,
            batches = batches.len(),
            bytes,
            "sending produce request"
        );
        let refs = batches
            .into_iter()
            .map(|b| BatchRef {
                topic: b.topic,
                partition: b.partition,
                batch_id: b.batch_id,
            })
            .collect();
        self.requests.insert(request_id, (node, refs));
        Metrics::add(&self.shared.metrics.requests_sent, 1);
        self.shared
            .metrics
            .in_flight_requests
            .store(self.requests.len() as u64, Ordering::Relaxed);
        let job = SinkJob {
            request_id,
            request,
            batches: records,
            expect_response: config.acks != Acks::None,
            timeout,
            max_version: match &self.shared.txn {
                Some(txn) if !txn.is_v2() => sink::PRODUCE_TV1_MAX,
                _ => sink::PRODUCE_VERSIONS.max,
            },
        };
        let sink = self
            .sinks
            .entry(node)
            .or_insert_with(|| spawn_sink(self.shared.client.clone(), node, self.events.clone()));
        if let Err(mpsc::error::SendError(job)) = sink.send(job) {
            // The sink task is gone (it cannot panic on input, but be safe):
            // start a new one for this and later requests.
            let fresh = spawn_sink(self.shared.client.clone(), node, self.events.clone());
            let _ = fresh.send(job);
            self.sinks.insert(node, fresh);
        }
    }

    fn handle(&mut self, event: SenderEvent) {
        match event {
            SenderEvent::Reply(reply) => self.handle_reply(reply),
            SenderEvent::ProducerId(result) => self.handle_producer_id(result),
            SenderEvent::PartitionsAdded { partitions, result } => {
                self.handle_partitions_added(&partitions, result)
            }
        }
    }

    fn handle_reply(&mut self, reply: SinkReply) {
        let Some((node, batches)) = self.requests.remove(&reply.request_id) else {
            return;
        };
        self.shared
            .metrics
            .in_flight_requests
            .store(self.requests.len() as u64, Ordering::Relaxed);
        let now = Instant::now();
        if let Ok(Some(response)) = &reply.result {
            self.throttle(node, response.throttle_time_ms, now);
        }
        let outcomes: Vec<BatchOutcome> = match &reply.result {
            Ok(Some(response)) => request::response_outcomes(
                response,
                batches.iter().map(|b| (&*b.topic, b.partition)),
            ),
            Ok(None) => batches
                .iter()
                .map(|_| {
                    BatchOutcome::Acked(crate::delivery::BatchAck {
                        base_offset: -1,
                        log_append_time: -1,
                    })
                })
                .collect(),
            Err(error) => {
                tracing::debug!(node, %error, "produce request failed");
                self.shared
                    .client
                    .report_error(&Target::Broker(node), error);
                batches
                    .iter()
                    .map(|_| request::transport_outcome(error, reply.handed_over))
                    .collect()
            }
        };
        let mut effects = Effects::default();
        let mut accumulator = self.shared.accumulator();
        for (batch, outcome) in batches.iter().zip(outcomes) {
            match &outcome {
                BatchOutcome::Retry(error)
                | BatchOutcome::NotSent(error)
                | BatchOutcome::Sequence { error, .. } => {
                    tracing::debug!(topic = %batch.topic, partition = batch.partition, %error, "batch will be retried");
                    if reply.result.is_ok() {
                        self.shared
                            .client
                            .report_error(&Target::Broker(node), error);
                    }
                }
                BatchOutcome::Failed(error) | BatchOutcome::RequestFailed { error, .. } => {
                    tracing::warn!(topic = %batch.topic, partition = batch.partition, %error, "batch failed");
                }
                _ => {}
            }
            effects.merge(accumulator.complete(
                &batch.topic,
                batch.partition,
                batch.batch_id,
                outcome,
                now,
            ));
        }
        drop(accumulator);
        self.apply(effects);
    }

    /// Pauses requests to `node` for `throttle_ms` (KIP-219), keeping the
    /// later end if it is already paused.
    fn throttle(&mut self, node: i32, throttle_ms: i32, now: Instant) {
        let Ok(millis) = u64::try_from(throttle_ms) else {
            return;
        };
        if millis == 0 {
            return;
        }
        let metrics = &self.shared.metrics;
        Metrics::add(&metrics.throttled_responses, 1);
        Metrics::add(&metrics.throttle_time_ms, millis);
        tracing::debug!(
            node,
            throttle_ms,
            "broker asked to throttle produce requests"
        );
        let until = now + Duration::from_millis(millis);
        let entry = self.throttled_until.entry(node).or_insert(until);
        *entry = (*entry).max(until);
    }

    fn handle_producer_id(&mut self, result: Result<ProducerIdentity, Error>) {
        self.producer_id_pending = false;
        match result {
            Ok(identity) => {
                let bumped = matches!(self.identity, Some(IdentityState::BumpNeeded(_)));
                tracing::info!(
                    producer_id = identity.id,
                    epoch = identity.epoch,
                    bumped,
                    "producer id granted"
                );
                if bumped {
                    Metrics::add(&self.shared.metrics.epoch_bumps, 1);
                }
                let effects = self.shared.accumulator().reset_sequences();
                if effects.failed_batches > 0 {
                    tracing::warn!(
                        batches = effects.failed_batches,
                        "batches whose last attempt went unanswered failed at the epoch bump \
                         (they may have been written; resending could duplicate them)"
                    );
                }
                self.apply(effects);
                self.identity = Some(IdentityState::Ready(identity));
                self.producer_id_backoff.reset();
            }
            Err(error) if error.is_retriable() => {
                let delay = self.producer_id_backoff.next_delay();
                tracing::debug!(%error, ?delay, "InitProducerId failed; retrying");
                self.producer_id_retry_at = Some(Instant::now() + delay);
            }
            Err(error) => {
                self.set_fatal(FatalError::InitProducerId(error));
            }
        }
    }

    fn apply(&mut self, effects: Effects) {
        let metrics = &self.shared.metrics;
        Metrics::add(&metrics.records_sent, effects.acked_records);
        Metrics::add(&metrics.batches_sent, effects.acked_batches);
        Metrics::add(&metrics.bytes_sent, effects.acked_bytes);
        Metrics::add(&metrics.retries, effects.retried_batches);
        Metrics::add(&metrics.errors, effects.failed_batches);
        Metrics::add(&metrics.batches_split, effects.split_batches);
        Metrics::export(&self.shared.config.client.client_id, &effects);
        if let Some(txn) = self.shared.txn.clone() {
            self.transaction_effects(&txn, &effects);
        }
        if effects.bump {
            if let Some(state) = &mut self.identity {
                if state.sendable().is_some() {
                    tracing::warn!(
                        "sequence gap: bumping the producer epoch once nothing is in flight"
                    );
                }
                state.request_bump();
            }
        }
        if let Some(reason) = effects.fatal {
            self.set_fatal(reason);
        }
    }

    fn set_fatal(&mut self, reason: FatalError) {
        tracing::error!(%reason, "producer failed fatally");
        let error = match &self.shared.txn {
            Some(txn) => {
                txn.set_fatal();
                txn.fatal_error(reason)
            }
            None => ProducerError::Fatal(reason),
        };
        let _ = self.shared.fatal.set(error);
        if let Some(fatal) = self.shared.fatal.get() {
            let effects = self.shared.accumulator().fail_all(fatal, false);
            Metrics::add(&self.shared.metrics.errors, effects.failed_batches);
        }
    }
}
