//! The uniform sticky partitioner for records without a key (KIP-794).
//!
//! All null-key records of a topic go to one partition until `batch.size`
//! bytes have been produced to it, or its turn has lasted `linger.ms` (at
//! least 5 ms); then another partition is drawn. The time limit matters
//! with a large `batch.size` (1,000,000 by default): at a low rate a batch
//! leaves on linger long before it is full, and without it every record
//! of the next megabyte, minutes of traffic, would go to one partition.
//! A turn of at least `linger.ms` costs no batching: the turn's batch
//! leaves when linger.ms has passed anyway. (librdkafka's
//! `sticky.partitioning.linger.ms` bounds a turn by time alone.) With
//! adaptive partitioning the draw is weighted by how short each
//! partition's queue is, so partitions led by a broker that falls behind
//! (its queues grow) get fewer new records. Only partitions with a leader
//! are drawn while any has one.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::TopicPartitions;

/// The shortest turn of a sticky partition, so that `linger.ms` 0 does not
/// draw a new partition for every record.
pub(crate) const MIN_TURN: Duration = Duration::from_millis(5);

/// Sticky state of one topic.
#[derive(Clone, Debug, Default)]
pub(crate) struct StickyPartition {
    current: Option<i32>,
    produced: usize,
    /// When the current partition was drawn.
    since: Option<Instant>,
}

impl StickyPartition {
    /// The partition for the next null-key record at `now`; a turn that
    /// began `turn` or longer ago ends first. `queued(p)` is the number of
    /// batches waiting in partition `p`.
    pub(crate) fn partition<R: Rng>(
        &mut self,
        partitions: &TopicPartitions,
        adaptive: bool,
        queued: impl Fn(i32) -> usize,
        rng: &mut R,
        (now, turn): (Instant, Duration),
    ) -> i32 {
        let in_turn = self
            .since
            .is_some_and(|since| now.saturating_duration_since(since) < turn);
        if let Some(current) = self.current.filter(|_| in_turn) {
            if current < partitions.count {
                return current;
            }
        }
        let chosen = draw(partitions, adaptive, queued, rng);
        self.current = Some(chosen);
        self.produced = 0;
        self.since = Some(now);
        chosen
    }

    /// Counts `bytes` appended to `partition`; after `batch_size` bytes the
    /// next record draws a new partition.
    pub(crate) fn appended(&mut self, partition: i32, bytes: usize, batch_size: usize) {
        if self.current == Some(partition) {
            self.produced = self.produced.saturating_add(bytes);
            if self.produced >= batch_size {
                self.current = None;
            }
        }
    }
}

/// Draws a partition, weighting each by `max queue + 1 - its queue` when
/// adaptive (the longest queue still has weight 1), uniformly otherwise.
fn draw<R: Rng>(
    partitions: &TopicPartitions,
    adaptive: bool,
    queued: impl Fn(i32) -> usize,
    rng: &mut R,
) -> i32 {
    let count = partitions.candidates().count();
    if count == 0 {
        return 0;
    }
    if !adaptive {
        let pick = rng.random_range(0..count);
        return partitions.candidates().nth(pick).unwrap_or(0);
    }
    let longest = partitions.candidates().map(&queued).max().unwrap_or(0);
    let weight = |p: i32| longest + 1 - queued(p).min(longest);
    let total: usize = partitions.candidates().map(weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for p in partitions.candidates() {
        let w = weight(p);
        if ticket < w {
            return p;
        }
        ticket -= w;
    }
    partitions.candidates().last().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const TURN: Duration = Duration::from_millis(5);

    fn at(now: Instant) -> (Instant, Duration) {
        (now, TURN)
    }

    fn six() -> TopicPartitions {
        TopicPartitions {
            count: 6,
            available: (0..6).collect(),
        }
    }

    #[test]
    fn sticks_until_batch_size_bytes_then_switches() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(7);
        let mut sticky = StickyPartition::default();
        let first = sticky.partition(&six(), false, |_| 0, &mut rng, at(now));
        for _ in 0..9 {
            assert_eq!(
                sticky.partition(&six(), false, |_| 0, &mut rng, at(now)),
                first
            );
            sticky.appended(first, 100, 1000);
        }
        // 900 bytes so far; the tenth record reaches 1000 and ends the stint.
        assert_eq!(
            sticky.partition(&six(), false, |_| 0, &mut rng, at(now)),
            first
        );
        sticky.appended(first, 100, 1000);
        let mut switched = false;
        for _ in 0..20 {
            let next = sticky.partition(&six(), false, |_| 0, &mut rng, at(now));
            switched |= next != first;
            sticky.appended(next, 1000, 1000);
        }
        assert!(switched, "20 draws over 6 partitions never left {first}");
    }

    #[test]
    fn a_turn_ends_after_its_time_even_below_batch_size() {
        let start = Instant::now();
        let mut rng = StdRng::seed_from_u64(11);
        let mut sticky = StickyPartition::default();
        let first = sticky.partition(&six(), false, |_| 0, &mut rng, at(start));
        sticky.appended(first, 100, 1_000_000);
        // Within the turn: the same partition, however few bytes.
        let later = start + TURN - Duration::from_micros(1);
        assert_eq!(
            sticky.partition(&six(), false, |_| 0, &mut rng, at(later)),
            first
        );
        // Each turn that runs out draws again: over 20 turns, some other
        // partition comes up.
        let mut seen = std::collections::BTreeSet::new();
        for k in 1..=20 {
            let now = start + TURN * k;
            let p = sticky.partition(&six(), false, |_| 0, &mut rng, at(now));
            sticky.appended(p, 100, 1_000_000);
            // Records within a turn stay with its partition.
            assert_eq!(sticky.partition(&six(), false, |_| 0, &mut rng, at(now)), p);
            seen.insert(p);
        }
        assert!(seen.len() > 1, "20 turns all went to {seen:?}");
    }

    #[test]
    fn only_available_partitions_are_drawn() {
        let mut rng = StdRng::seed_from_u64(1);
        let partitions = TopicPartitions {
            count: 6,
            available: vec![4],
        };
        for _ in 0..50 {
            let mut sticky = StickyPartition::default();
            assert_eq!(
                sticky.partition(&partitions, true, |_| 0, &mut rng, at(Instant::now())),
                4
            );
        }
    }

    #[test]
    fn adaptive_draws_prefer_short_queues() {
        let mut rng = StdRng::seed_from_u64(3);
        // Partition 0's broker lags: 9 batches queued, the others none.
        let queued = |p: i32| if p == 0 { 9 } else { 0 };
        let mut hits = [0usize; 6];
        for _ in 0..5_100 {
            let p = draw(&six(), true, queued, &mut rng);
            hits[p as usize] += 1;
        }
        // Weights: partition 0 -> 1, the others -> 10 each (51 in total).
        assert!(hits[0] < 250, "lagging partition drawn {} times", hits[0]);
        for (p, n) in hits.iter().enumerate().skip(1) {
            assert!(*n > 700, "partition {p} drawn only {n} times");
        }
    }
}
