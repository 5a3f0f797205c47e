//! Fetches in flight per broker: up to `durian.fetch.max.in.flight.per.broker`
//! of them, each in a numbered lane with its own fetch session.
//!
//! A broker answers a connection's requests in order, one at a time. With
//! one fetch in flight it idles from the moment its answer is written
//! until the consumer has taken the answer in and sent the next fetch;
//! with a second one queued on the connection, it prepares that answer
//! meanwhile. Each partition is in at most one fetch (its cursor's
//! `in_flight`), so the fetches of one broker name disjoint partitions and
//! positions stay right whichever answer is handled first.
//!
//! A long poll (a fetch whose partitions are all caught up) is held by the
//! broker for up to `fetch.max.wait.ms`, and everything sent behind it on
//! the connection waits too. So a fetch joins others in flight to a broker
//! only when all of them, and it, have records to return at once
//! ([`Room::Reading`]); a long poll goes out only to a broker with nothing
//! in flight, and nothing joins it.
//!
//! A fetch session (KIP-227) is a sequence of requests, each answered
//! before the next: every lane keeps its own session with the broker
//! ([`super::session`]), keyed by (broker, lane).

use std::collections::BTreeMap;

use super::plan::FetchKind;
use crate::types::TopicPartition;

/// What a broker may be sent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// Nothing in flight: up to this many fetches, of any kind.
    Any(usize),
    /// Fetches with records to read are in flight: up to this many more,
    /// each with records to read.
    Reading(usize),
    /// Every lane is taken, or a long poll is in flight.
    Full,
}

/// The lanes taken per broker, with the kind of fetch in each.
#[derive(Debug)]
pub(crate) struct Lanes {
    max: usize,
    taken: BTreeMap<i32, BTreeMap<usize, FetchKind>>,
}

impl Lanes {
    /// No fetch in flight; up to `max` (at least 1) per broker.
    pub(crate) fn new(max: usize) -> Lanes {
        Lanes {
            max: max.max(1),
            taken: BTreeMap::new(),
        }
    }

    /// What `node` may be sent now.
    pub(crate) fn room(&self, node: i32) -> Room {
        let Some(taken) = self.taken.get(&node).filter(|t| !t.is_empty()) else {
            return Room::Any(self.max);
        };
        if taken.len() >= self.max || taken.values().any(|k| *k == FetchKind::LongPoll) {
            Room::Full
        } else {
            Room::Reading(self.max - taken.len())
        }
    }

    /// Takes the lowest free lane of `node` for a fetch of `kind`.
    pub(super) fn take(&mut self, node: i32, kind: FetchKind) -> usize {
        let taken = self.taken.entry(node).or_default();
        let lane = (0..).find(|l| !taken.contains_key(l)).unwrap_or(0);
        taken.insert(lane, kind);
        lane
    }

    /// Frees a lane whose fetch was answered.
    pub(super) fn free(&mut self, node: i32, lane: usize) {
        if let Some(taken) = self.taken.get_mut(&node) {
            taken.remove(&lane);
            if taken.is_empty() {
                self.taken.remove(&node);
            }
        }
    }

    /// Whether any fetch is in flight.
    pub(super) fn any(&self) -> bool {
        !self.taken.is_empty()
    }

    /// Whether a fetch to `node` is in flight.
    pub(super) fn busy(&self, node: i32) -> bool {
        self.taken.contains_key(&node)
    }

    /// Fetches in flight across all brokers.
    pub(super) fn count(&self) -> usize {
        self.taken.values().map(BTreeMap::len).sum()
    }
}

/// Splits the partitions planned for one broker into at most `room`
/// fetches (see [`Room`]), so the broker answers a smaller first one
/// while it prepares the next. Kinds are [`FetchKind::sure`]'s: each
/// fetch holds at least one partition known to have records to read, so
/// none of them is held by the broker; the others (caught up, or with a
/// log end not known yet) ride along. Without any such partition the
/// fetch stays one, counted as a long poll.
pub(crate) fn split(
    partitions: Vec<(TopicPartition, FetchKind)>,
    room: usize,
) -> Vec<(FetchKind, Vec<TopicPartition>)> {
    let reading = partitions
        .iter()
        .filter(|(_, kind)| *kind == FetchKind::Reading)
        .count();
    if reading == 0 {
        let all = partitions.into_iter().map(|(tp, _)| tp).collect();
        return vec![(FetchKind::LongPoll, all)];
    }
    let fetches = reading.min(room.max(1));
    let mut out: Vec<Vec<TopicPartition>> = vec![Vec::new(); fetches];
    let (mut next_reading, mut next_other) = (0, 0);
    for (tp, kind) in partitions {
        let slot = if kind == FetchKind::Reading {
            &mut next_reading
        } else {
            &mut next_other
        };
        out[*slot % fetches].push(tp);
        *slot += 1;
    }
    out.into_iter()
        .map(|partitions| (FetchKind::Reading, partitions))
        .collect()
}
