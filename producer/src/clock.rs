//! One clock read per `send`.
//!
//! A record without a timestamp gets the wall-clock time of its send, and
//! the send also needs a monotonic instant (the start of `max.block.ms`,
//! the sticky partition's turn, a new batch's creation for `linger.ms` and
//! `delivery.timeout.ms`). Reading both clocks for every record showed as
//! ~8 % of `durian ship`'s CPU. Here the wall-clock time is derived from
//! the monotonic reading: each thread keeps an anchor (a monotonic instant
//! and the wall-clock time read right after it) and adds the monotonic
//! time elapsed since. The anchor is renewed once it is [`REANCHOR`] old,
//! so a step of the system clock (an NTP correction, a manual change)
//! shows in timestamps within that long, and the rate difference of the
//! two clocks (NTP slews by at most 500 ppm) adds under 0.05 ms.
//!
//! Under tokio's paused test clock the monotonic reading is the paused
//! one, so timestamps then move with the paused clock between renewals.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// How long an anchor serves before the wall clock is read again.
pub(crate) const REANCHOR: Duration = Duration::from_millis(100);

thread_local! {
    /// This thread's anchor: a monotonic instant and the time since the
    /// epoch read just after it.
    static ANCHOR: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// The wall-clock time at the monotonic instant `now`, in milliseconds
/// since the epoch (0 before 1970), from this thread's anchor. An anchor
/// [`REANCHOR`] or more away from `now`, either way, is renewed first.
pub(crate) fn wall_millis_at(now: Instant) -> i64 {
    let since_epoch = ANCHOR.with(|anchor| {
        let (at, wall) = match anchor.get() {
            Some((at, wall)) if now.max(at) - now.min(at) < REANCHOR => (at, wall),
            _ => {
                let fresh = read_anchor();
                anchor.set(Some(fresh));
                fresh
            }
        };
        if now >= at {
            wall + (now - at)
        } else {
            wall.saturating_sub(at - now)
        }
    });
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// A new anchor: the wall clock read between two monotonic reads, paired
/// with their midpoint. A thread descheduled between the reads would pair
/// times far apart and skew every timestamp until the next renewal, so a
/// wide bracket (over [`BRACKET`]) is read again, a few times at most.
fn read_anchor() -> (Instant, Duration) {
    let mut best = None;
    for _ in 0..3 {
        let before = Instant::now();
        let wall = wall_since_epoch();
        let width = before.elapsed();
        let anchor = (before + width / 2, wall);
        if width <= BRACKET {
            return anchor;
        }
        // Keep the narrowest bracket seen, in case none is narrow enough.
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, anchor));
        }
    }
    best.map_or_else(
        || (Instant::now(), wall_since_epoch()),
        |(_, anchor)| anchor,
    )
}

/// The widest bracket an anchor is taken from without a second try.
const BRACKET: Duration = Duration::from_micros(100);

/// The system clock's time since the epoch (zero if it is set before 1970).
fn wall_since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall_millis() -> i64 {
        i64::try_from(wall_since_epoch().as_millis()).unwrap_or(i64::MAX)
    }

    #[test]
    fn derived_times_stay_with_the_system_clock() {
        // Many reads across several anchors: each derived time lies
        // between wall-clock reads taken just before and just after it,
        // give or take a millisecond of rounding and clock rate.
        let end = std::time::Instant::now() + 3 * REANCHOR;
        let mut reads = 0;
        while std::time::Instant::now() < end {
            let before = wall_millis();
            let derived = wall_millis_at(Instant::now());
            let after = wall_millis();
            assert!(
                before - 1 <= derived && derived <= after + 1,
                "{before} <= {derived} <= {after}"
            );
            reads += 1;
        }
        assert!(reads > 100, "only {reads} reads");
    }

    #[test]
    fn instants_either_side_of_the_anchor_get_their_own_wall_time() {
        let start = Instant::now();
        let at_start = wall_millis_at(start);
        // A second ahead (past the anchor's life, so it is renewed first).
        let ahead = wall_millis_at(start + Duration::from_secs(1));
        assert!(
            (at_start + 999..=at_start + 1001).contains(&ahead),
            "{ahead} vs {at_start} + 1000"
        );
        // Just before the (renewed) anchor: counted back from it.
        if let Some(before) = start.checked_sub(Duration::from_millis(50)) {
            let behind = wall_millis_at(before);
            assert!(
                (at_start - 51..=at_start - 49).contains(&behind),
                "{behind} vs {at_start} - 50"
            );
        }
    }
}
