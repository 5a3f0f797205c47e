//! The broker's wall clock: record timestamps (LogAppendTime, retention,
//! segment age) and the group coordinator's commit and expiry times all
//! read the same one.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch by the system clock; 0 for a clock
/// set before 1970, `i64::MAX` past what an i64 of milliseconds holds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_milliseconds_since_the_epoch() {
        // 2020-01-01T00:00:00Z in ms; in seconds it would be 1000 times smaller.
        let now = now_ms();
        assert!(now > 1_577_836_800_000, "{now}");
    }
}
