//! The one retry loop of durian.
//!
//! [`retry`] runs an operation until it succeeds, fails with an error that
//! is not retriable, or the deadline leaves no room for another attempt.
//! Between attempts it waits the longer of the backoff delay and the
//! throttle time the broker asked for (`throttle_time_ms`), so a throttled
//! client never comes back sooner than the broker allows.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::error::Error;

/// A failed attempt: the error and, if the broker sent one, its throttle time.
#[derive(Debug)]
pub struct AttemptError {
    /// Why the attempt failed.
    pub error: Error,
    /// How long the broker asked the client to stay away.
    pub throttle: Option<Duration>,
}

impl AttemptError {
    /// A failure the broker also throttled, from a response's `throttle_time_ms`.
    pub fn throttled(error: Error, throttle_time_ms: i32) -> Self {
        let throttle = u64::try_from(throttle_time_ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        AttemptError { error, throttle }
    }
}

impl From<Error> for AttemptError {
    fn from(error: Error) -> Self {
        AttemptError {
            error,
            throttle: None,
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or time runs out.
///
/// An error is retried when [`Error::is_retriable`] says so and the next
/// attempt could still start before `deadline`; otherwise that error is
/// returned as it is, so the caller learns the real cause rather than a bare
/// timeout. The backoff is not reset here: callers own its lifetime.
///
/// ```
/// # async fn demo() -> durian_core::Result<()> {
/// use std::time::Duration;
/// use durian_core::{backoff::Backoff, retry::retry};
/// let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
/// let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
/// let value = retry(deadline, &mut backoff, || async { Ok(42) }).await?;
/// assert_eq!(value, 42);
/// # Ok(()) }
/// ```
pub async fn retry<T, F, Fut>(
    deadline: Instant,
    backoff: &mut Backoff,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    loop {
        let failure = match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        if !failure.error.is_retriable() {
            return Err(failure.error);
        }
        let wait = backoff
            .next_delay()
            .max(failure.throttle.unwrap_or(Duration::ZERO));
        let resume = Instant::now() + wait;
        if resume >= deadline {
            return Err(failure.error);
        }
        tracing::debug!(error = %failure.error, ?wait, "retrying after a retriable error");
        tokio::time::sleep_until(resume).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::{KafkaCode, KafkaError};
    use std::sync::atomic::{AtomicU32, Ordering};

    fn retriable() -> Error {
        Error::Kafka(KafkaError {
            code: KafkaCode::LEADER_NOT_AVAILABLE,
            message: None,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retriable_errors_until_success() {
        let calls = AtomicU32::new(0);
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(40));
        let deadline = Instant::now() + Duration::from_secs(10);
        let value = retry(deadline, &mut backoff, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(retriable().into())
            } else {
                Ok("done")
            }
        })
        .await
        .unwrap();
        assert_eq!(value, "done");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_errors_return_at_once() {
        let calls = AtomicU32::new(0);
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(40));
        let deadline = Instant::now() + Duration::from_secs(10);
        let err = retry(deadline, &mut backoff, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::config("x", "bad").into())
        })
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Config { .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_deadline_with_the_last_error() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(100));
        let start = Instant::now();
        let deadline = start + Duration::from_millis(1000);
        let err = retry(deadline, &mut backoff, || async {
            Err::<(), _>(retriable().into())
        })
        .await
        .unwrap_err();
        assert_eq!(err.kafka_code(), Some(KafkaCode::LEADER_NOT_AVAILABLE));
        assert!(Instant::now() < deadline);
        // Each wait is at least 80 ms, so at most 12 attempts fit in a second.
        assert!(backoff.attempts() <= 13, "{}", backoff.attempts());
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_time_extends_the_wait() {
        let calls = AtomicU32::new(0);
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(1));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(60);
        retry(deadline, &mut backoff, || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(AttemptError::throttled(retriable(), 5_000))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(5_000));
    }
}
