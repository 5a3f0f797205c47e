//! The metadata refresh task.
//!
//! ```text
//!  request_refresh(reason) ─┐
//!  refresh(reason).await ───┼─▶ ticket counter ──wake──▶ refresh task
//!  metadata.max.age.ms ─────┘                            │ debounce (min interval)
//!                                                         │ fetch ─▶ merge ─▶ publish snapshot
//!  waiters ◀──────────── progress (ticket, outcome) ◀─────┘
//! ```
//!
//! Every trigger increments a ticket counter and records its reason. The
//! task serves all tickets issued before a fetch starts with that one fetch,
//! so a burst of triggers costs one request. Two fetches are at least
//! `min_interval` apart, a failed fetch is retried with backoff, and the
//! metadata is refreshed at least every `max_age`. `refresh(..).await`
//! takes a ticket and waits for a fetch that started after it was taken.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use kafka_protocol::messages::MetadataResponse;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::ClusterMetadata;
use crate::backoff::Backoff;
use crate::error::{Error, Result};

/// At most this many distinct reasons are remembered per refresh, for logs.
const MAX_REASONS: usize = 16;

/// Why a metadata refresh was asked for; shows up in logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataTrigger {
    /// A short human-readable reason, e.g. "NOT_LEADER_OR_FOLLOWER from broker 2".
    pub reason: Cow<'static, str>,
}

impl MetadataTrigger {
    /// A trigger with the given reason.
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        MetadataTrigger {
            reason: reason.into(),
        }
    }
}

impl From<&'static str> for MetadataTrigger {
    fn from(reason: &'static str) -> Self {
        MetadataTrigger::new(reason)
    }
}

impl From<String> for MetadataTrigger {
    fn from(reason: String) -> Self {
        MetadataTrigger::new(reason)
    }
}

/// Where the refresh task gets Metadata responses from.
pub trait MetadataSource: Send + Sync + 'static {
    /// Fetches metadata for `topics` (empty: brokers and controller only).
    fn fetch(&self, topics: BTreeSet<String>) -> BoxFuture<'_, Result<MetadataResponse>>;
}

/// Timing of the refresh task.
#[derive(Clone, Debug)]
pub struct RefreshTiming {
    /// Minimum time between the starts of two fetches.
    pub min_interval: Duration,
    /// Refresh at least this often.
    pub max_age: Duration,
    /// First and maximum wait after a failed fetch.
    pub retry_backoff: (Duration, Duration),
}

#[derive(Clone, Debug, Default)]
struct Progress {
    /// The highest ticket a finished fetch has served.
    served: u64,
    /// The error of that fetch, if it failed.
    error: Option<Error>,
}

#[derive(Default)]
struct Control {
    requested: u64,
    reasons: Vec<Cow<'static, str>>,
    topics: BTreeSet<String>,
}

struct Shared {
    snapshot: watch::Sender<Arc<ClusterMetadata>>,
    /// The published snapshot's generation, stored after it is published:
    /// a per-record cache check reads it without taking the snapshot (a
    /// lock and a reference count shared with every other reader).
    generation: AtomicU64,
    progress: watch::Sender<Progress>,
    control: Mutex<Control>,
    wake: Notify,
    stop: watch::Sender<bool>,
}

impl Shared {
    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request(&self, trigger: MetadataTrigger) -> u64 {
        let ticket = {
            let mut control = self.control();
            control.requested += 1;
            if control.reasons.len() < MAX_REASONS && !control.reasons.contains(&trigger.reason) {
                control.reasons.push(trigger.reason);
            }
            control.requested
        };
        self.wake.notify_one();
        ticket
    }
}

/// Owner of the metadata snapshot and its refresh task.
///
/// Dropping it stops the task.
pub struct MetadataManager {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MetadataManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataManager")
            .field("generation", &self.snapshot().generation)
            .finish()
    }
}

impl Drop for MetadataManager {
    fn drop(&mut self) {
        self.shared.stop.send_replace(true);
    }
}

impl MetadataManager {
    /// Starts the refresh task; no fetch happens until something triggers one.
    pub fn start(source: Arc<dyn MetadataSource>, timing: RefreshTiming) -> Self {
        let first = ClusterMetadata::default();
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(first.generation),
            snapshot: watch::channel(Arc::new(first)).0,
            progress: watch::channel(Progress::default()).0,
            control: Mutex::new(Control::default()),
            wake: Notify::new(),
            stop: watch::channel(false).0,
        });
        tokio::spawn(run(shared.clone(), source, timing));
        MetadataManager { shared }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<ClusterMetadata> {
        self.shared.snapshot.borrow().clone()
    }

    /// The current snapshot's generation, without taking the snapshot.
    /// Never ahead of [`snapshot`](Self::snapshot): a caller that sees a
    /// generation finds that snapshot (or a newer one) published.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// A receiver that sees every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ClusterMetadata>> {
        self.shared.snapshot.subscribe()
    }

    /// Asks for a refresh without waiting for it.
    pub fn request_refresh(&self, trigger: impl Into<MetadataTrigger>) {
        self.shared.request(trigger.into());
    }

    /// The error of the last finished fetch, if it failed (`None` once a
    /// fetch succeeds again).
    pub fn last_error(&self) -> Option<Error> {
        self.shared.progress.borrow().error.clone()
    }

    /// Asks for a refresh and waits for a fetch that started after this
    /// call; returns the new snapshot or that fetch's error.
    pub async fn refresh(
        &self,
        trigger: impl Into<MetadataTrigger>,
    ) -> Result<Arc<ClusterMetadata>> {
        let ticket = self.shared.request(trigger.into());
        let mut progress = self.shared.progress.subscribe();
        let outcome = progress
            .wait_for(|p| p.served >= ticket)
            .await
            .map_err(|_| Error::Shutdown)?
            .error
            .clone();
        match outcome {
            Some(error) => Err(error),
            None => Ok(self.snapshot()),
        }
    }

    /// Adds topics of interest; returns `true` (and triggers a refresh) if
    /// any of them was new.
    pub fn add_topics<I, S>(&self, topics: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let added = {
            let mut control = self.shared.control();
            let before = control.topics.len();
            control.topics.extend(topics.into_iter().map(Into::into));
            control.topics.len() > before
        };
        if added {
            self.request_refresh("new topics of interest");
        }
        added
    }

    /// The topics of interest.
    pub fn topics(&self) -> BTreeSet<String> {
        self.shared.control().topics.clone()
    }
}

async fn run(shared: Arc<Shared>, source: Arc<dyn MetadataSource>, timing: RefreshTiming) {
    let mut stop = shared.stop.subscribe();
    let mut backoff = Backoff::new(timing.retry_backoff.0, timing.retry_backoff.1);
    let mut served: u64 = 0;
    let mut last_start: Option<Instant> = None;
    let mut last_success = Instant::now();
    let mut retry_after: Option<Duration> = None;
    loop {
        // Wait until a ticket is outstanding or the metadata is too old.
        let due = last_success + timing.max_age;
        while shared.control().requested <= served {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep_until(due) => {
                    shared.request(MetadataTrigger::new("metadata.max.age.ms elapsed"));
                }
            }
        }
        // Debounce: triggers arriving meanwhile are served by this fetch too.
        if let Some(start) = last_start {
            let gap = retry_after.take().unwrap_or(timing.min_interval);
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep_until(start + gap) => {}
            }
        }
        let (ticket, reasons, topics) = {
            let mut control = shared.control();
            (
                control.requested,
                std::mem::take(&mut control.reasons),
                control.topics.clone(),
            )
        };
        tracing::debug!(?reasons, topics = topics.len(), "refreshing metadata");
        last_start = Some(Instant::now());
        let fetched = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            fetched = source.fetch(topics.clone()) => fetched,
        };
        served = ticket;
        match fetched {
            Ok(response) => {
                let next = shared.snapshot.borrow().merge(&response, &topics);
                let generation = next.generation;
                shared.snapshot.send_replace(Arc::new(next));
                // After the snapshot, so a reader that sees this generation
                // finds its snapshot published (`generation` is never ahead).
                shared.generation.store(generation, Ordering::Release);
                shared.progress.send_replace(Progress {
                    served,
                    error: None,
                });
                backoff.reset();
                last_success = Instant::now();
            }
            Err(error) => {
                tracing::debug!(%error, "metadata refresh failed");
                let retriable = error.is_retriable();
                shared.progress.send_replace(Progress {
                    served,
                    error: Some(error),
                });
                if retriable {
                    retry_after = Some(backoff.next_delay());
                    shared.request(MetadataTrigger::new("retrying a failed refresh"));
                }
            }
        }
    }
}
