//! The fetcher: positions, fetches in flight, and buffered records.
//!
//! ```text
//!            start_fetches()                  spawned task per fetch (≤ N per broker)
//!  cursors ──(fetchable partitions by leader)──▶ Fetch request ──▶ response
//!     ▲                                                               │ channel
//!     │ drain(): records handed out, position advances                ▼
//!  buffers ◀──────────── handle(): process_partition per partition ◀──┘
//! ```
//!
//! A partition is fetchable when its position is known, it is not paused
//! and no fetch for it is in flight, so it is in at most one fetch at a
//! time. With nothing buffered the fetch starts at its position. With
//! records still buffered it is a fetch *ahead*, from where the buffered
//! records end, so the broker prepares the next answer while the
//! application drains this one: the consumer is otherwise idle for a
//! round trip per answer. A fetch ahead goes out only while the
//! partition buffers fewer than `max.partition.fetch.bytes` and the whole
//! consumer fewer than `durian.fetch.buffer.bytes` (0: never), so a
//! partition holds at most about two answers' worth and memory stays
//! bounded however slowly the application polls. A fetch ahead whose
//! answer is not records (an error, a divergence, a corrupt batch) is
//! set aside: the partition fetches again once its buffer is drained,
//! from its position, where the answer is handled as before.
//!
//! Up to `durian.fetch.max.in.flight.per.broker` fetches are in flight
//! per broker, for disjoint partitions ([`lanes`]): the broker answers a
//! connection's requests in order, and prepares the next answer while the
//! consumer takes in the last. Only fetches with records to read share a
//! broker; a fetch that would only be a long poll for caught-up
//! partitions goes alone, and waits while other partitions of that broker
//! are draining their buffers ([`plan`]), so it never holds them back for
//! `fetch.max.wait.ms`.
//!
//! Each cursor has a `version` bumped by every seek or reassignment; a
//! response for an older version is dropped, so a seek never races with a
//! fetch that was already in flight.
//!
//! Leader epochs (KIP-320, see [`epochs`]): each fetch names the leader
//! epoch the consumer knows and the epoch of the last batch it read. When
//! metadata shows a newer leader epoch, the partition stops fetching until
//! its position is validated against the new leader's log
//! (OffsetForLeaderEpoch, sent by the consumer); a fetch answer sent under
//! an older epoch than the cursor now knows is dropped; a diverging epoch
//! in a fetch answer, or a validation whose epoch ends before the
//! position, is a log truncation, handled per `auto.offset.reset`.
//!
//! Follower fetching (KIP-392, see [`replica`]): a leader may name a
//! preferred read replica (one in the consumer's `client.rack`); the
//! partition is then fetched from that replica until it errs, is
//! unreachable, leaves the metadata, or `metadata.max.age` passes.
//! Fetch sessions (KIP-227, see [`session`]): after a full first fetch,
//! a broker is told only which partitions changed, and answers only
//! those with news.
//!
//! This file holds the cursors and hands out buffered records; sending
//! fetches is [`dispatch`]'s, applying their answers [`answer`]'s.

mod answer;
mod buffer;
mod dispatch;
mod epochs;
mod lanes;
mod plan;
mod replica;
mod request;
mod response;
mod session;
mod traffic;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use durian_core::Client;
use tokio::sync::mpsc;

pub(crate) use epochs::{epoch_request, parse_epoch_response, ToValidate};
pub use request::{fetch_request, FetchTarget};
pub use response::{process_partition, EpochEnd, PartitionFetch};

use buffer::RecordBuffer;
use dispatch::FetchResult;
#[cfg(test)]
use dispatch::{FetchPlan, Planned};
#[cfg(test)]
use plan::FetchKind;
use session::Sessions;
use traffic::FetchTraffic;

use crate::config::ConsumerConfig;
use crate::error::ConsumerError;
use crate::metrics::PartitionMetrics;
use crate::types::{ConsumerRecord, TopicPartition};

/// Where one assigned partition stands.
#[derive(Debug)]
pub(crate) struct Cursor {
    /// Offset of the next record to hand out; `None` until looked up.
    pub position: Option<i64>,
    /// Leader epoch of the last record handed out (or of the last batch
    /// skipped past): what the next fetch names as its last fetched epoch.
    pub last_epoch: Option<i32>,
    /// The partition's leader epoch as the consumer last saw it in metadata:
    /// what fetches name as the current leader epoch.
    leader_epoch: Option<i32>,
    /// The leader changed: check the position against the new leader's
    /// log before fetching again.
    needs_validation: bool,
    /// Paused by the application.
    pub paused: bool,
    /// Records fetched but not yet handed out.
    buffer: RecordBuffer,
    /// Where the next fetch starts once the buffer is empty.
    buffered_next: i64,
    /// Leader epoch of the last batch before `buffered_next`.
    buffered_next_epoch: Option<i32>,
    /// High watermark from the last fetch (-1 unknown).
    pub high_watermark: i64,
    /// Where the readable log ended at the last fetch: the high watermark,
    /// or the last stable offset under read_committed. `None` until known.
    readable_end: Option<i64>,
    version: u64,
    in_flight: bool,
    /// A fetch ahead was answered with something other than records: no
    /// further fetch ahead until the buffer is drained.
    hold_ahead: bool,
    /// An error to report on the next poll.
    pub pending_error: Option<ConsumerError>,
    /// The position was out of range: reset it by policy.
    pub needs_reset: bool,
    /// The partition's metric keys, built once.
    metrics: PartitionMetrics,
}

impl Cursor {
    /// A newly assigned partition: position unknown, nothing buffered.
    fn new(version: u64, metrics: PartitionMetrics) -> Self {
        Cursor {
            position: None,
            last_epoch: None,
            leader_epoch: None,
            needs_validation: false,
            paused: false,
            buffer: RecordBuffer::default(),
            buffered_next: 0,
            buffered_next_epoch: None,
            high_watermark: -1,
            readable_end: None,
            version,
            in_flight: false,
            hold_ahead: false,
            pending_error: None,
            needs_reset: false,
            metrics,
        }
    }

    /// Whether a fetch from the position may be sent for this partition
    /// now (nothing buffered).
    #[cfg(test)]
    fn fetchable(&self) -> bool {
        self.buffer.is_empty() && self.may_fetch()
    }

    /// Whether a fetch may be sent now, ahead of the buffered records
    /// while they hold fewer than `ahead_below` bytes (0: never ahead).
    fn fetchable_ahead(&self, ahead_below: usize) -> bool {
        let room =
            self.buffer.is_empty() || (!self.hold_ahead && self.buffer.bytes() < ahead_below);
        room && self.may_fetch()
    }

    fn may_fetch(&self) -> bool {
        self.position.is_some()
            && !self.paused
            && !self.in_flight
            && !self.needs_reset
            && !self.needs_validation
    }

    /// Where the next fetch starts: the position, or where the buffered
    /// records end.
    fn fetch_offset(&self) -> Option<i64> {
        if self.buffer.is_empty() {
            self.position
        } else {
            Some(self.buffered_next)
        }
    }

    /// The epoch of the log just before [`Cursor::fetch_offset`]: what a
    /// fetch names as its last fetched epoch.
    fn fetch_epoch(&self) -> Option<i32> {
        if self.buffer.is_empty() {
            self.last_epoch
        } else {
            self.buffered_next_epoch.or(self.last_epoch)
        }
    }
}

/// Positions, buffers and fetches of the assigned partitions.
pub(crate) struct Fetcher {
    client: Client,
    config: Arc<ConsumerConfig>,
    cursors: BTreeMap<TopicPartition, Cursor>,
    /// The fetches in flight, per broker.
    lanes: lanes::Lanes,
    results_tx: mpsc::UnboundedSender<FetchResult>,
    results_rx: mpsc::UnboundedReceiver<FetchResult>,
    next_version: u64,
    /// Where the last drain stopped, so partitions take turns.
    drain_from: Option<TopicPartition>,
    /// Preferred read replicas named by leaders (KIP-392).
    replicas: replica::ReadReplicas,
    /// Fetch requests sent, per broker, since the consumer was created.
    fetches_sent: BTreeMap<i32, u64>,
    /// The fetch session with each broker.
    sessions: Sessions,
    /// Fetch requests sent and their bytes.
    traffic: Arc<FetchTraffic>,
}

impl Fetcher {
    pub(crate) fn new(client: Client, config: Arc<ConsumerConfig>) -> Self {
        let (results_tx, results_rx) = mpsc::unbounded_channel();
        Fetcher {
            client,
            cursors: BTreeMap::new(),
            lanes: lanes::Lanes::new(config.fetch_max_in_flight),
            results_tx,
            results_rx,
            next_version: 1,
            drain_from: None,
            replicas: replica::ReadReplicas::default(),
            fetches_sent: BTreeMap::new(),
            sessions: Sessions::new(config.fetch_sessions),
            traffic: Arc::default(),
            config,
        }
    }

    fn bump(&mut self) -> u64 {
        self.next_version += 1;
        self.next_version
    }

    /// The assigned partitions.
    pub(crate) fn assigned(&self) -> BTreeSet<TopicPartition> {
        self.cursors.keys().cloned().collect()
    }

    /// Adds partitions with unknown positions.
    pub(crate) fn add(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) {
        for tp in partitions {
            let version = self.bump();
            if let Entry::Vacant(entry) = self.cursors.entry(tp) {
                let metrics = PartitionMetrics::new(&self.config.client.client_id, entry.key());
                entry.insert(Cursor::new(version, metrics));
            }
        }
    }

    /// Removes partitions and what was buffered for them.
    pub(crate) fn remove(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.cursors.remove(tp);
            self.replicas.forget(tp);
        }
    }

    /// The cursor of a partition.
    pub(crate) fn cursor(&self, tp: &TopicPartition) -> Option<&Cursor> {
        self.cursors.get(tp)
    }

    /// The mutable cursor of a partition.
    pub(crate) fn cursor_mut(&mut self, tp: &TopicPartition) -> Option<&mut Cursor> {
        self.cursors.get_mut(tp)
    }

    /// Sets the position, dropping buffered records and any fetch in flight.
    pub(crate) fn seek(&mut self, tp: &TopicPartition, offset: i64, epoch: Option<i32>) -> bool {
        let version = self.bump();
        match self.cursors.get_mut(tp) {
            Some(cursor) => {
                cursor.position = Some(offset);
                cursor.last_epoch = epoch;
                // A position with an epoch (a committed offset) is checked
                // against the leader's log before the first fetch.
                if epoch.is_some() {
                    cursor.leader_epoch = None;
                }
                cursor.needs_validation = false;
                cursor.buffer.clear();
                cursor.buffered_next = offset;
                cursor.buffered_next_epoch = epoch;
                cursor.version = version;
                cursor.in_flight = false;
                cursor.hold_ahead = false;
                cursor.needs_reset = false;
                cursor.pending_error = None;
                true
            }
            None => false,
        }
    }

    /// Partitions whose position must be looked up (committed or reset).
    pub(crate) fn without_position(&self) -> Vec<TopicPartition> {
        self.cursors
            .iter()
            .filter(|(_, c)| c.position.is_none() && c.pending_error.is_none())
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Partitions whose position fell out of range.
    pub(crate) fn out_of_range(&self) -> Vec<TopicPartition> {
        self.cursors
            .iter()
            .filter(|(_, c)| c.needs_reset && c.pending_error.is_none())
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Positions of all partitions with a known position, with the epoch of
    /// the last record handed out: what a commit of "everything returned" sends.
    pub(crate) fn positions(&self) -> BTreeMap<TopicPartition, (i64, Option<i32>)> {
        self.cursors
            .iter()
            .filter_map(|(tp, c)| c.position.map(|p| (tp.clone(), (p, c.last_epoch))))
            .collect()
    }

    /// Whether any buffered record or error is ready to hand out.
    pub(crate) fn has_ready(&self) -> bool {
        self.cursors
            .values()
            .any(|c| c.pending_error.is_some() || (!c.paused && !c.buffer.is_empty()))
    }

    /// Takes the errors waiting to be reported.
    pub(crate) fn take_errors(&mut self) -> Vec<(TopicPartition, ConsumerError)> {
        self.cursors
            .iter_mut()
            .filter_map(|(tp, c)| c.pending_error.take().map(|e| (tp.clone(), e)))
            .collect()
    }

    /// Hands out up to `max` buffered records, partitions taking turns,
    /// and advances positions past them.
    #[cfg(test)]
    pub(crate) fn drain(&mut self, max: usize) -> Vec<ConsumerRecord> {
        self.drain_by_partition(max)
            .into_iter()
            .flat_map(|(_, records)| records)
            .collect()
    }

    /// Hands out up to `max` buffered records, partitions taking turns,
    /// each partition's records together (so a caller groups them without
    /// a lookup per record), and advances positions past them.
    pub(crate) fn drain_by_partition(
        &mut self,
        max: usize,
    ) -> Vec<(TopicPartition, Vec<ConsumerRecord>)> {
        let mut out = Vec::new();
        let mut failed = Vec::new();
        let mut left = max;
        let start = self.drain_from.take();
        let order: Vec<TopicPartition> = match &start {
            Some(from) => self
                .cursors
                .range(from.clone()..)
                .chain(self.cursors.range(..from.clone()))
                .map(|(tp, _)| tp.clone())
                .collect(),
            None => self.cursors.keys().cloned().collect(),
        };
        for tp in order {
            if left == 0 {
                self.drain_from = Some(tp);
                break;
            }
            let Some(cursor) = self.cursors.get_mut(&tp) else {
                continue;
            };
            if cursor.paused || cursor.buffer.is_empty() {
                continue;
            }
            let take = left.min(cursor.buffer.len());
            let mut records = Vec::with_capacity(take);
            let drained = cursor.buffer.drain_into(&tp, take, &mut records);
            left -= records.len();
            if let Some(last) = records.last() {
                cursor.position = Some(last.offset + 1);
                cursor.last_epoch = (last.leader_epoch >= 0).then_some(last.leader_epoch);
            }
            if let Err(error) = drained {
                failed.push((tp.clone(), error));
                if !records.is_empty() {
                    out.push((tp, records));
                }
                continue;
            }
            if cursor.buffer.is_empty() {
                cursor.hold_ahead = false;
                // Past trailing control batches and compacted-away offsets
                // too, and the epoch of the log there.
                if cursor.position.is_some_and(|p| p < cursor.buffered_next) {
                    cursor.position = Some(cursor.buffered_next);
                    cursor.last_epoch = cursor.buffered_next_epoch.or(cursor.last_epoch);
                }
            }
            out.push((tp, records));
        }
        for (tp, error) in failed {
            self.stop_at_undecodable(&tp, error);
        }
        out
    }

    /// A record of `tp` could not be decoded (its batch's CRC was right:
    /// a producer's bug, not damage): nothing after it may be handed out.
    /// The partition stops at its position, which is that record; the
    /// version drops any fetch ahead in flight; the error is reported, and
    /// fetching from there reports it again until the application seeks
    /// past it, as with a damaged batch.
    fn stop_at_undecodable(&mut self, tp: &TopicPartition, error: durian_core::record::BatchError) {
        let version = self.bump();
        let Some(cursor) = self.cursors.get_mut(tp) else {
            return;
        };
        let offset = cursor.position.unwrap_or(cursor.buffered_next);
        cursor.buffer.clear();
        cursor.buffered_next = offset;
        cursor.version = version;
        cursor.in_flight = false;
        cursor.hold_ahead = false;
        cursor.pending_error = Some(ConsumerError::CorruptBatch {
            partition: tp.clone(),
            offset,
            reason: error.to_string(),
        });
    }

    /// Whether any fetch is in flight.
    pub(crate) fn fetching(&self) -> bool {
        self.lanes.any()
    }

    /// Fetch requests sent per broker node id since the consumer was created.
    pub(crate) fn fetches_sent(&self) -> BTreeMap<i32, u64> {
        self.fetches_sent.clone()
    }

    /// Bytes of the batches buffered across all partitions.
    fn buffered_bytes(&self) -> usize {
        self.cursors.values().map(|c| c.buffer.bytes()).sum()
    }

    /// What is buffered now: (records, key/value/header bytes), and the
    /// number of fetches in flight.
    pub(crate) fn buffered(&self) -> (usize, usize, usize) {
        let (records, bytes) = self.cursors.values().fold((0, 0), |(records, bytes), c| {
            (records + c.buffer.len(), bytes + c.buffer.bytes())
        });
        (records, bytes, self.lanes.count())
    }
}

impl Fetcher {
    /// Fetch requests sent so far and their encoded body bytes.
    pub(crate) fn fetch_traffic(&self) -> (u64, u64) {
        self.traffic.totals()
    }
}

#[cfg(test)]
mod ahead_tests;
#[cfg(test)]
mod epoch_tests;
#[cfg(test)]
mod lanes_tests;
#[cfg(test)]
mod long_poll_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;
