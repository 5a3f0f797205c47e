//! A partition's leader-epoch history (Kafka's leader-epoch cache, in
//! memory): where each epoch starts, and the OffsetForLeaderEpoch answer
//! computed from it.

/// The first offset of one leader epoch (an entry of Kafka's leader-epoch
/// cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochStart {
    /// The leader epoch.
    pub epoch: i32,
    /// The log end offset when the epoch began: its first offset.
    pub start_offset: i64,
}

/// A partition's leader epochs and where each starts, oldest first, with
/// strictly increasing epochs and non-decreasing start offsets; the last
/// entry is the current epoch. Kafka's `LeaderEpochFileCache`, kept in
/// memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochHistory {
    entries: Vec<EpochStart>,
}

/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
const UNDEFINED: (i32, i64) = (-1, -1);

impl Default for EpochHistory {
    /// Epoch 0 from offset 0: every partition's history before its first
    /// leader change, and a single broker's forever.
    fn default() -> Self {
        EpochHistory {
            entries: vec![EpochStart {
                epoch: 0,
                start_offset: 0,
            }],
        }
    }
}

impl EpochHistory {
    /// The entries, oldest first.
    #[cfg(test)]
    pub fn entries(&self) -> &[EpochStart] {
        &self.entries
    }

    /// Records that `epoch` starts at `start_offset`, as Kafka's
    /// `assign`: a repeat of the latest epoch at the same or a later
    /// offset changes nothing; otherwise entries with an epoch at least
    /// `epoch` or a start at least `start_offset` are dropped first (an
    /// epoch in which nothing was written leaves no entry behind).
    /// Negative epochs or offsets are ignored.
    #[cfg(any(test, feature = "testing"))]
    pub fn assign(&mut self, epoch: i32, start_offset: i64) {
        if epoch < 0 || start_offset < 0 {
            return;
        }
        if let Some(last) = self.entries.last() {
            if last.epoch == epoch && start_offset >= last.start_offset {
                return;
            }
        }
        while self
            .entries
            .last()
            .is_some_and(|e| e.epoch >= epoch || e.start_offset >= start_offset)
        {
            self.entries.pop();
        }
        self.entries.push(EpochStart {
            epoch,
            start_offset,
        });
    }

    /// The entries once the log starts at `log_start` (Kafka's
    /// `truncateFromStart`): entries starting at or before it are dropped
    /// and the last of them comes back starting at `log_start`.
    fn starting_at(&self, log_start: i64) -> Vec<EpochStart> {
        let before = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= log_start)
            .count();
        let mut entries = Vec::with_capacity(self.entries.len());
        if let Some(last_removed) = before.checked_sub(1).map(|i| self.entries[i]) {
            entries.push(EpochStart {
                epoch: last_removed.epoch,
                start_offset: log_start,
            });
        }
        entries.extend_from_slice(&self.entries[before..]);
        entries
    }

    /// The answer to OffsetForLeaderEpoch for `requested`, as
    /// `(leader_epoch, end_offset)`, computed like Kafka's
    /// `LeaderEpochFileCache::endOffsetFor` on a log spanning
    /// `log_start..log_end`:
    ///
    /// - -1 (undefined) → (-1, -1);
    /// - the current epoch → (it, `log_end`);
    /// - an epoch with a later one → (the largest known epoch ≤ it, the
    ///   start of the first epoch after it), i.e. where it ended;
    /// - an epoch before every known one → (it, the start of the earliest
    ///   known epoch): its data is gone, the log resumes there;
    /// - an epoch after every known one → (-1, -1).
    pub fn end_offset_for(&self, requested: i32, log_start: i64, log_end: i64) -> (i32, i64) {
        if requested == UNDEFINED.0 {
            return UNDEFINED;
        }
        let entries = self.starting_at(log_start);
        if entries.last().is_some_and(|e| e.epoch == requested) {
            return (requested, log_end);
        }
        let Some(higher) = entries.iter().find(|e| e.epoch > requested) else {
            return UNDEFINED;
        };
        match entries.iter().rev().find(|e| e.epoch <= requested) {
            None => (requested, higher.start_offset),
            Some(floor) => (floor.epoch, higher.start_offset),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn history(entries: &[(i32, i64)]) -> EpochHistory {
        let mut history = EpochHistory { entries: vec![] };
        for &(epoch, start) in entries {
            history.assign(epoch, start);
        }
        assert_eq!(history.entries().len(), entries.len(), "{entries:?}");
        history
    }

    #[test]
    fn the_initial_history_is_epoch_zero_up_to_the_log_end() {
        let initial = EpochHistory::default();
        assert_eq!(initial.end_offset_for(0, 0, 10), (0, 10));
        assert_eq!(initial.end_offset_for(0, 4, 10), (0, 10));
        assert_eq!(initial.end_offset_for(1, 0, 10), (-1, -1), "unknown epoch");
        assert_eq!(initial.end_offset_for(-1, 0, 10), (-1, -1), "undefined");
    }

    #[test]
    fn an_epoch_ends_where_the_next_known_one_starts() {
        let h = history(&[(0, 0), (1, 5), (3, 12)]);
        assert_eq!(h.end_offset_for(0, 0, 20), (0, 5));
        assert_eq!(h.end_offset_for(1, 0, 20), (1, 12));
        // No entry for 2: the largest known epoch below it, and where 3 starts.
        assert_eq!(h.end_offset_for(2, 0, 20), (1, 12));
        assert_eq!(h.end_offset_for(3, 0, 20), (3, 20), "current: log end");
        assert_eq!(h.end_offset_for(4, 0, 20), (-1, -1), "future epoch");
    }

    #[test]
    fn epochs_before_the_earliest_known_one_end_at_its_start() {
        let h = history(&[(2, 7), (4, 9)]);
        // Kafka answers with the requested epoch and the first known start.
        assert_eq!(h.end_offset_for(1, 0, 30), (1, 7));
        assert_eq!(h.end_offset_for(0, 0, 30), (0, 7));
    }

    #[test]
    fn the_log_start_cuts_the_history_like_kafka() {
        let h = history(&[(0, 0), (1, 5), (2, 10)]);
        // Log starts at 7: epoch 0 is gone, epoch 1 now starts at 7.
        assert_eq!(h.end_offset_for(0, 7, 15), (0, 7));
        assert_eq!(h.end_offset_for(1, 7, 15), (1, 10));
        assert_eq!(h.end_offset_for(2, 7, 15), (2, 15));
        // Log starts at 10: only epoch 2 remains.
        assert_eq!(h.end_offset_for(1, 10, 15), (1, 10));
        assert_eq!(h.end_offset_for(0, 10, 15), (0, 10));
        assert_eq!(h.end_offset_for(2, 12, 15), (2, 15));
    }

    #[test]
    fn assign_keeps_epochs_and_offsets_monotonic() {
        let mut h = EpochHistory::default();
        h.assign(0, 3);
        assert_eq!(
            h,
            EpochHistory::default(),
            "same epoch, later offset: no-op"
        );
        // Nothing was written in epoch 0: a bump at offset 0 replaces it.
        h.assign(1, 0);
        assert_eq!(
            h.entries(),
            &[EpochStart {
                epoch: 1,
                start_offset: 0
            }]
        );
        assert_eq!(h.end_offset_for(0, 0, 4), (0, 0));
        h.assign(2, 4);
        h.assign(3, 4);
        assert_eq!(
            h.entries().iter().map(|e| e.epoch).collect::<Vec<_>>(),
            vec![1, 3],
            "epoch 2 wrote nothing"
        );
        assert_eq!(h.end_offset_for(2, 0, 9), (1, 4));
        h.assign(-1, 10);
        h.assign(5, -1);
        assert_eq!(h.entries().len(), 2, "negative values are ignored");
    }
}
