//! Record values every client sends: log-like text, so lz4 has realistic
//! work to do (a run of one repeated byte would compress to nothing).
//!
//! The first 8 bytes of a latency record hold its send time, so the
//! consumer can compute the end-to-end delay.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

const LEVELS: [&str; 4] = ["INFO", "WARN", "DEBUG", "ERROR"];
const SERVICES: [&str; 6] = ["checkout", "search", "auth", "cart", "billing", "ingest"];
const MESSAGES: [&str; 6] = [
    "request completed",
    "cache miss for key",
    "retrying upstream call",
    "user session refreshed",
    "slow query detected",
    "payload accepted",
];

/// `count` distinct values of `size` bytes, cycled through by the senders.
pub fn values(size: usize, count: usize) -> Vec<Bytes> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count.max(1))
        .map(|i| {
            let mut text = String::with_capacity(size + 128);
            while text.len() < size {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let pick = (state >> 33) as usize;
                text.push_str(&format!(
                    "2026-11-23T14:{:02}:{:02}.{:03}Z {} {} [{}] {} id={:08x} ",
                    pick % 60,
                    (pick >> 6) % 60,
                    (pick >> 12) % 1000,
                    LEVELS[pick % LEVELS.len()],
                    SERVICES[(pick >> 3) % SERVICES.len()],
                    i,
                    MESSAGES[(pick >> 5) % MESSAGES.len()],
                    pick as u32,
                ));
            }
            text.truncate(size);
            Bytes::from(text.into_bytes())
        })
        .collect()
}

/// Nanoseconds since the Unix epoch (wall clock: producer and consumer share it).
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A latency record: the send time in the first 8 bytes, then filler up to `size`.
pub fn stamped(size: usize, filler: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(size.max(8));
    value.extend_from_slice(&now_nanos().to_be_bytes());
    let rest = size.saturating_sub(8).min(filler.len());
    value.extend_from_slice(&filler[..rest]);
    value
}

/// Microseconds since the send time stamped in `value`; `None` if too short.
pub fn age_micros(value: &[u8]) -> Option<u64> {
    let stamp = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    Some(now_nanos().saturating_sub(stamp) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_size_asked_and_differ() {
        let v = values(100, 16);
        assert_eq!(v.len(), 16);
        assert!(v.iter().all(|b| b.len() == 100));
        assert_ne!(v[0], v[1]);
    }

    #[test]
    fn stamp_round_trips() {
        let value = stamped(100, &[b'x'; 200]);
        assert_eq!(value.len(), 100);
        assert!(age_micros(&value).expect("long enough") < 1_000_000);
        assert!(age_micros(&[1, 2]).is_none());
    }
}
