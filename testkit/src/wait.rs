//! Waiting for an event instead of sleeping and hoping it happened.
//!
//! A test that needs something to have happened (an offset committed in
//! the background, a segment deleted by retention) looks at it: it polls
//! an observable until it shows the event, with one overall deadline that
//! fails the test with a message saying what never happened.
//!
//! ```no_run
//! use std::time::Duration;
//! use durian_testkit::wait::eventually;
//!
//! # async fn example(mut committed: impl AsyncFnMut() -> Option<i64>) {
//! let offset = eventually(Duration::from_secs(10), "the auto-commit", async || {
//!     committed().await
//! })
//! .await;
//! # }
//! ```

use std::time::Duration;

/// Pause between two looks at the observable. It only paces the polling:
/// the observable decides success and the overall deadline failure.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Polls `probe` until it yields `Some` and returns that value; panics
/// naming `what` when `within` passes first. The deadline covers the probes
/// themselves, so a probe stuck on I/O fails the test too.
pub async fn eventually<T>(
    within: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let polling = async {
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    match tokio::time::timeout(within, polling).await {
        Ok(found) => found,
        Err(_) => panic!("timed out after {within:?} waiting for {what}"),
    }
}
