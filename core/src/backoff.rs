//! Jittered exponential backoff.
//!
//! Each call to [`Backoff::next_delay`] doubles the base wait up to a cap and
//! then scatters it by ±20 %, so that many clients that failed at the same
//! moment (a broker restart) do not come back at the same moment.

use std::time::Duration;

use rand::Rng;

/// The fraction by which each delay is randomly shortened or lengthened.
const JITTER: f64 = 0.2;

/// Exponential backoff state; [`Backoff::reset`] after a success.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempts: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and never exceeding `max` (before jitter).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            attempts: 0,
        }
    }

    /// The wait before the next attempt; grows with each call.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.undithered_delay();
        self.attempts = self.attempts.saturating_add(1);
        let factor = rand::rng().random_range((1.0 - JITTER)..=(1.0 + JITTER));
        base.mul_f64(factor)
    }

    /// How many delays have been handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over from the initial delay.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    fn undithered_delay(&self) -> Duration {
        // 2^20 times any sane initial delay is beyond every cap, so the
        // exponent is clamped there to keep the multiplication finite.
        let multiplier = 2u32.saturating_pow(self.attempts.min(20));
        self.initial.saturating_mul(multiplier).min(self.max)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn within_jitter(delay: Duration, base_ms: u64) -> bool {
        let ms = delay.as_secs_f64() * 1000.0;
        let base = base_ms as f64;
        ms >= base * (1.0 - JITTER) - 1e-6 && ms <= base * (1.0 + JITTER) + 1e-6
    }

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        for expected in [100, 200, 400, 800, 1000, 1000] {
            let delay = backoff.next_delay();
            assert!(within_jitter(delay, expected), "{delay:?} vs {expected}");
        }
        assert_eq!(backoff.attempts(), 6);
    }

    #[test]
    fn reset_starts_over_and_huge_attempt_counts_do_not_overflow() {
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
        for _ in 0..200 {
            backoff.next_delay();
        }
        assert!(within_jitter(backoff.next_delay(), 1000));
        backoff.reset();
        assert!(within_jitter(backoff.next_delay(), 50));
    }
}
