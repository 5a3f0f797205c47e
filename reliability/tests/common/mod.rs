//! Helpers shared by the scenario files: a producer configured for fault
//! runs, seeds, and a look at segment files from the outside.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use durian_producer::{Producer, ProducerConfig};

pub mod broker_probe;
pub mod eos;
pub mod group_journal;
pub mod group_member;
pub mod sent;
pub mod transactions;

/// The seed of a randomized scenario: `DURIAN_SEED`, else a random one
/// (printed by the scenario so a failure can be rerun).
pub fn seed() -> u64 {
    std::env::var("DURIAN_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random)
}

/// A size from the environment variable `name`, else `default`.
pub fn sized(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An idempotent acks=all producer with short backoffs and a long
/// delivery timeout, so faults cause retries rather than failures.
pub fn fault_tolerant_producer(bootstrap: &str) -> Producer {
    producer_with(bootstrap, |_| {})
}

/// [`fault_tolerant_producer`] with further settings changed by `edit`.
pub fn producer_with(bootstrap: &str, edit: impl FnOnce(&mut ProducerConfig)) -> Producer {
    Producer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .delivery_timeout(Duration::from_secs(120))
        .configure(|c| {
            c.client.request_timeout = Duration::from_secs(5);
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(250);
            c.client.reconnect_backoff = Duration::from_millis(20);
            c.client.reconnect_backoff_max = Duration::from_millis(250);
            c.client.connection_setup_timeout = Duration::from_secs(2);
            edit(c);
        })
        .build()
        .unwrap()
}

/// The directory of `topic`-`partition` in a broker's data directory.
pub fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir.join("logs").join(format!("{topic}-{partition}"))
}

/// The segments' `.log` paths in a partition directory, oldest first
/// (quarantined files, which end in `.quarantined`, are not among them).
pub fn segment_logs(partition_dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(partition_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

/// The active (newest) segment's `.log` path in a partition directory.
pub fn active_log(partition_dir: &Path) -> PathBuf {
    segment_logs(partition_dir).pop().expect("a segment")
}

/// One batch header in a segment file.
#[derive(Clone, Copy, Debug)]
pub struct BatchAt {
    /// Byte position in the file.
    pub position: usize,
    /// Total size (12-byte prefix included).
    pub size: usize,
    /// Base offset.
    pub base_offset: i64,
    /// Number of records.
    pub records: usize,
}

/// Scans the complete batches of a segment file (test-side, independent of
/// the broker's own scanner).
pub fn batches(log: &[u8]) -> Vec<BatchAt> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 61 <= log.len() {
        let base_offset = i64::from_be_bytes(log[at..at + 8].try_into().unwrap());
        let length = i32::from_be_bytes(log[at + 8..at + 12].try_into().unwrap());
        if length < 49 {
            break;
        }
        let size = 12 + length as usize;
        if at + size > log.len() {
            break;
        }
        let last_delta = i32::from_be_bytes(log[at + 23..at + 27].try_into().unwrap());
        out.push(BatchAt {
            position: at,
            size,
            base_offset,
            records: last_delta as usize + 1,
        });
        at += size;
    }
    out
}
