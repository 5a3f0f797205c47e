//! A wake-up for the sender task with sub-millisecond precision.
//!
//! tokio's timer wheel ticks in whole milliseconds: a deadline is rounded
//! up to the next tick, and the runtime parks in `epoll_wait`, whose
//! timeout is rounded up to a millisecond again. A batch waiting for
//! `linger.ms` therefore left on average ~0.5–1 ms late, which showed as
//! a p50 latency ~0.3 ms behind librdkafka's (whose timers are
//! microsecond-precise) at linger 5 ms. This timer is one small thread per
//! producer that sleeps on a condition variable (a futex with a
//! high-resolution timeout) until the armed deadline and then wakes the
//! sender through a `Notify`.
//!
//! The sender keeps its tokio sleep as well and takes whichever fires
//! first, so behaviour under tokio's paused test clock is unchanged.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

/// The timer's handle; dropping it stops the thread.
pub(crate) struct PreciseTimer {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    changed: Condvar,
    fired: Notify,
}

#[derive(Default)]
struct State {
    deadline: Option<Instant>,
    closed: bool,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PreciseTimer {
    /// Starts the timer thread; `None` if no thread could be started (the
    /// sender then relies on tokio's timer alone).
    pub(crate) fn start() -> Option<PreciseTimer> {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            fired: Notify::new(),
        });
        let thread_inner = inner.clone();
        match std::thread::Builder::new()
            .name("durian-producer-timer".to_owned())
            .spawn(move || run(&thread_inner))
        {
            Ok(_) => Some(PreciseTimer { inner }),
            Err(e) => {
                tracing::warn!(error = %e, "no producer timer thread; linger timing falls back to tokio's 1 ms timer");
                None
            }
        }
    }

    /// Wakes [`PreciseTimer::fired`] at `deadline` (replacing the previous
    /// deadline), or never for `None`.
    pub(crate) fn arm(&self, deadline: Option<Instant>) {
        let mut state = self.inner.lock();
        // The sender re-arms on every pass, mostly with a later deadline
        // (the next batch's linger) or none. Only an earlier one needs the
        // thread woken: otherwise it wakes at the deadline it sleeps
        // towards, finds the new one and sleeps on. This keeps the
        // cross-thread wake-ups to about one per linger period instead of
        // one per sender pass (a futex pair each).
        let sooner = match (deadline, state.deadline) {
            (Some(new), Some(old)) => new < old,
            (Some(_), None) => true,
            (None, _) => false,
        };
        state.deadline = deadline;
        if sooner {
            self.inner.changed.notify_one();
        }
    }

    /// Resolves once an armed deadline has passed. A firing that nobody
    /// awaited is kept (one at most) and resolves the next call at once.
    pub(crate) async fn fired(&self) {
        self.inner.fired.notified().await;
    }
}

impl Drop for PreciseTimer {
    fn drop(&mut self) {
        self.inner.lock().closed = true;
        self.inner.changed.notify_one();
    }
}

fn run(inner: &Inner) {
    let mut state = inner.lock();
    loop {
        if state.closed {
            return;
        }
        state = match state.deadline {
            None => inner.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
            Some(deadline) => {
                let now = Instant::now();
                if deadline <= now {
                    state.deadline = None;
                    inner.fired.notify_one();
                    continue;
                }
                inner
                    .changed
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Waits for a firing, failing the test (rather than hanging it) when
    /// none comes within 10 s: a broken timer must show as a failure.
    async fn fired_within_10s(timer: &PreciseTimer) {
        tokio::time::timeout(Duration::from_secs(10), timer.fired())
            .await
            .expect("the timer never fired");
    }

    #[tokio::test]
    async fn fires_at_the_armed_deadline_not_before() {
        let timer = PreciseTimer::start().unwrap();
        let armed = Instant::now();
        timer.arm(Some(armed + Duration::from_millis(3)));
        fired_within_10s(&timer).await;
        assert!(armed.elapsed() >= Duration::from_millis(3));
    }

    #[tokio::test]
    async fn rearming_replaces_the_deadline_and_disarming_cancels_it() {
        let timer = PreciseTimer::start().unwrap();
        let start = Instant::now();
        timer.arm(Some(start + Duration::from_secs(60)));
        timer.arm(Some(start + Duration::from_millis(2)));
        fired_within_10s(&timer).await;

        timer.arm(Some(Instant::now() + Duration::from_millis(5)));
        timer.arm(None);
        let waited = tokio::time::timeout(Duration::from_millis(100), timer.fired()).await;
        assert!(waited.is_err(), "a disarmed timer does not fire");
    }

    #[tokio::test]
    async fn a_later_deadline_replaces_an_earlier_one_without_firing_at_it() {
        // `arm` does not wake the thread for a later deadline: it must
        // still find the new one when the old one passes, and sleep on.
        let timer = PreciseTimer::start().unwrap();
        let start = Instant::now();
        timer.arm(Some(start + Duration::from_millis(2)));
        timer.arm(Some(start + Duration::from_millis(40)));
        fired_within_10s(&timer).await;
        assert!(start.elapsed() >= Duration::from_millis(40));
    }
}
