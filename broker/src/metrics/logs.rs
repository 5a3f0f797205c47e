//! The log gauges of the metrics page: log end offset per partition (for a
//! bounded number of partitions) and the bytes the logs hold on disk.
//!
//! Read at scrape time, each partition's lock held only to read two
//! numbers, so serving a scrape never slows produce or fetch for long.

use std::fmt::Write as _;

use crate::state::BrokerState;
use crate::storage::lock_log;

/// Most partitions whose log end offset is listed, in (topic, partition)
/// order: a broker with more still renders a page of bounded size; the
/// rest are counted in `durian_broker_log_end_offsets_omitted`.
pub const MAX_PARTITIONS_LISTED: usize = 1000;

/// Writes the log gauges of `state` to `page`.
pub fn render(page: &mut String, state: &BrokerState) {
    let partitions = state.logs().partitions();
    let mut total_bytes: u64 = 0;
    let mut offsets = String::new();
    for (index, (topic, partition)) in partitions.iter().enumerate() {
        let Some(log) = state.logs().get(topic, *partition) else {
            continue;
        };
        let (end, bytes) = {
            let log = lock_log(&log);
            (log.log_end_offset(), log.size_bytes())
        };
        total_bytes = total_bytes.saturating_add(bytes);
        if index < MAX_PARTITIONS_LISTED {
            // Kafka topic names are ASCII letters, digits, '.', '_' and
            // '-', so they need no label escaping.
            let _ = writeln!(
                offsets,
                "durian_broker_log_end_offset{{topic=\"{topic}\",partition=\"{partition}\"}} {end}"
            );
        }
    }
    super::header(
        page,
        "log_end_offset",
        "gauge",
        "Offset the next record of a partition will get (the first 1000 partitions in \
         topic, partition order).",
    );
    page.push_str(&offsets);
    super::header(
        page,
        "log_end_offsets_omitted",
        "gauge",
        "Partitions left out of durian_broker_log_end_offset by its limit.",
    );
    let _ = writeln!(
        page,
        "durian_broker_log_end_offsets_omitted {}",
        partitions.len().saturating_sub(MAX_PARTITIONS_LISTED)
    );
    super::header(
        page,
        "log_size_bytes",
        "gauge",
        "Bytes of all partition log segments in the data directory (indexes and checkpoints \
         not counted).",
    );
    let _ = writeln!(page, "durian_broker_log_size_bytes {total_bytes}");
}
