//! Which partitions to fetch from which broker now, and when to hold a
//! long poll back.
//!
//! A broker holds a Fetch for up to `fetch.max.wait.ms` while it has
//! fewer than `fetch.min.bytes` to return across the whole request, and
//! answers the requests of one connection in order. A Fetch that names
//! only partitions already at the end of their log is therefore a long
//! poll that blocks every other fetch to that broker. Sending one while
//! other partitions of the broker still have records buffered would make
//! those partitions, once drained, wait out the long poll although the
//! broker has records for them: with the default 500 ms wait that cost a
//! multi-partition read from the beginning most of its throughput.
//!
//! So a fetch naming only caught-up partitions waits until no partition
//! of that broker is still draining its buffer; the caught-up partitions
//! then ride along in the next fetch, which the records of the others
//! make the broker answer at once. A fetch ahead (a partition with records
//! still buffered, see [`super`]) counts as reading when its buffered
//! records end before the log does, and otherwise as a long poll that
//! holds itself back: it drains.
//!
//! A broker with fetches in flight ([`Lanes`]) takes more only while
//! those have records to return at once, and only a fetch that does too:
//! a long poll goes to a broker with nothing in flight.

use std::collections::{BTreeMap, BTreeSet};

use super::lanes::{Lanes, Room};
use super::Cursor;
use crate::types::TopicPartition;

/// What a fetch for a partition is expected to do at the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FetchKind {
    /// Records are left to read (or the log end is not known yet): the
    /// broker answers at once.
    Reading,
    /// The partition is at the end of its log: the broker holds the
    /// request until records arrive or `fetch.max.wait.ms` passes.
    LongPoll,
}

impl FetchKind {
    /// The kind of fetch a partition would get from its position.
    #[cfg(test)]
    pub(crate) fn of(cursor: &Cursor) -> FetchKind {
        FetchKind::at(cursor.position, cursor.readable_end)
    }

    /// The kind of the fetch a partition would send now, ahead of its
    /// buffered records if it has any.
    pub(super) fn next(cursor: &Cursor) -> FetchKind {
        FetchKind::at(cursor.fetch_offset(), cursor.readable_end)
    }

    /// The kind of the fetch a partition would send now as far as sharing
    /// its broker with other fetches goes ([`super::lanes`]): an unknown
    /// log end counts as a long poll, since the broker may hold it.
    pub(super) fn sure(cursor: &Cursor) -> FetchKind {
        match (cursor.fetch_offset(), cursor.readable_end) {
            (Some(offset), Some(end)) if offset < end => FetchKind::Reading,
            _ => FetchKind::LongPoll,
        }
    }

    fn at(offset: Option<i64>, readable_end: Option<i64>) -> FetchKind {
        match (offset, readable_end) {
            (Some(offset), Some(end)) if offset >= end => FetchKind::LongPoll,
            _ => FetchKind::Reading,
        }
    }
}

/// The fetches to send now.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FetchPlanning {
    /// Partitions to fetch per leader.
    pub fetches: BTreeMap<i32, Vec<TopicPartition>>,
    /// Some fetchable partition has no known leader.
    pub leaderless: bool,
}

/// Groups the fetchable partitions by the broker to fetch them from,
/// among brokers with room for another fetch ([`Lanes::room`]), holding
/// back a fetch that would only be a long poll while another partition of
/// that broker is still draining or another fetch to it is in flight.
/// `leader` gives the broker to fetch a partition from (its leader or a
/// preferred read replica). A partition with records buffered is fetched
/// ahead while they hold fewer than `ahead_below` bytes (0: never).
pub(crate) fn plan_fetches<'a>(
    cursors: impl IntoIterator<Item = (&'a TopicPartition, &'a Cursor)>,
    lanes: &Lanes,
    ahead_below: usize,
    mut leader: impl FnMut(&TopicPartition) -> Option<i32>,
) -> FetchPlanning {
    let mut planning = FetchPlanning::default();
    let mut reading = BTreeSet::new();
    let mut draining = BTreeSet::new();
    // Brokers with a partition surely answered at once: only those may
    // take a fetch beside others in flight.
    let mut sure = BTreeSet::new();
    for (tp, cursor) in cursors {
        let fetchable = cursor.fetchable_ahead(ahead_below);
        // Paused partitions drain nothing, so they never hold a fetch back.
        let is_draining = !cursor.paused && !cursor.buffer.is_empty();
        if !fetchable && !is_draining {
            continue;
        }
        let Some(node) = leader(tp) else {
            planning.leaderless |= fetchable;
            continue;
        };
        if lanes.room(node) == Room::Full {
            continue;
        }
        if !fetchable {
            draining.insert(node);
            continue;
        }
        if FetchKind::sure(cursor) == FetchKind::Reading {
            sure.insert(node);
        }
        if FetchKind::next(cursor) == FetchKind::Reading {
            reading.insert(node);
        } else if is_draining {
            // Caught up ahead of its buffer: as a long poll it would hold
            // back this partition's own next fetch once it is drained.
            draining.insert(node);
        }
        planning.fetches.entry(node).or_default().push(tp.clone());
    }
    planning.fetches.retain(|node, _| match lanes.room(*node) {
        Room::Any(_) => reading.contains(node) || !draining.contains(node),
        Room::Reading(_) | Room::Full => sure.contains(node),
    });
    planning
}
