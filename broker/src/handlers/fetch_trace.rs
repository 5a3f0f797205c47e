//! Diagnostics for Fetch's long poll (issue 18, a consume stall).
//!
//! A fetch that parks reports, at `debug`, what it saw per partition (the
//! fetch offset, the high watermark and log end offset, the bytes read)
//! and its `min_bytes`; when it wakes, why (an append to one of its
//! partitions, its deadline, shutdown) and how long it waited. Every
//! answer is reported at `trace` the same way. Enable with e.g.
//! `RUST_LOG=durian_broker::handlers::fetch_trace=trace`.
//!
//! The summaries are only built when the level is enabled, so the fetch
//! path pays one level check per decision otherwise.

use std::fmt::Write as _;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use tracing::Level;

use super::fetch_encode::token_index;
use crate::catalog::TopicMeta;
use crate::storage::FileRange;

/// Why a parked fetch stopped waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    /// A partition it reads was appended to.
    Append,
    /// A topic it reads was deleted.
    TopicGone,
    /// Its `max_wait_ms` ran out.
    Deadline,
    /// The broker is shutting down.
    Shutdown,
}

/// What one look for data found, for the trace lines.
pub(super) struct Look<'a> {
    /// The partitions asked for, as resolved.
    pub topics: &'a [(FetchTopic, Result<TopicMeta, i16>)],
    /// What the look read, in the same order.
    pub read: &'a [FetchableTopicResponse],
    /// The file ranges placeholders in `read` name.
    pub files: &'a [FileRange],
    /// Bytes read in all.
    pub bytes: usize,
    /// The request's `min_bytes`.
    pub min_bytes: usize,
    /// How long the fetch has been waiting so far.
    pub waited: Duration,
}

/// Reports a fetch that is about to park because it has less than
/// `min_bytes`.
pub(super) fn parking(look: &Look<'_>, remaining: Duration) {
    if tracing::enabled!(Level::DEBUG) {
        tracing::debug!(
            bytes = look.bytes,
            min_bytes = look.min_bytes,
            waited_ms = look.waited.as_millis() as u64,
            remaining_ms = remaining.as_millis() as u64,
            partitions = %summary(look),
            "fetch parks"
        );
    }
}

/// Reports why a parked fetch woke.
pub(super) fn woke(wake: Wake, waited: Duration) {
    tracing::debug!(?wake, waited_ms = waited.as_millis() as u64, "fetch wakes");
}

/// Reports the answer a fetch sends.
pub(super) fn answering(look: &Look<'_>) {
    if tracing::enabled!(Level::TRACE) {
        tracing::trace!(
            bytes = look.bytes,
            min_bytes = look.min_bytes,
            waited_ms = look.waited.as_millis() as u64,
            partitions = %summary(look),
            "fetch answers"
        );
    }
}

/// `topic-partition@fetch_offset hw=.. leo=.. bytes=..` for each partition
/// read (`err=..` instead for one that failed). The broker keeps one
/// replica, so the log end offset is the high watermark.
fn summary(look: &Look<'_>) -> String {
    let mut out = String::new();
    for ((request, _), read) in look.topics.iter().zip(look.read) {
        let name = if request.topic.is_empty() {
            request.topic_id.to_string()
        } else {
            request.topic.to_string()
        };
        for (asked, got) in request.partitions.iter().zip(&read.partitions) {
            let _ = write!(out, "{name}-{}@{} ", asked.partition, asked.fetch_offset);
            if got.error_code != 0 {
                let _ = write!(out, "err={}; ", got.error_code);
            } else {
                let bytes = got.records.as_ref().map_or(0, |records| {
                    token_index(records)
                        .and_then(|i| look.files.get(i))
                        .map_or(records.len(), FileRange::len)
                });
                let _ = write!(
                    out,
                    "hw={} leo={} bytes={bytes}; ",
                    got.high_watermark, got.high_watermark
                );
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::fetch_request::FetchPartition;
    use kafka_protocol::messages::fetch_response::PartitionData;
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    #[test]
    fn the_summary_pairs_each_partition_asked_with_its_answer() {
        let request = FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(vec![
                FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(7),
                FetchPartition::default()
                    .with_partition(1)
                    .with_fetch_offset(3),
            ]);
        let topics = [(request, Err(0))];
        let read = [FetchableTopicResponse::default().with_partitions(vec![
            PartitionData::default()
                .with_partition_index(0)
                .with_high_watermark(9)
                .with_records(Some(Bytes::from_static(b"abc"))),
            PartitionData::default()
                .with_partition_index(1)
                .with_error_code(1),
        ])];
        let look = Look {
            topics: &topics,
            read: &read,
            files: &[],
            bytes: 3,
            min_bytes: 1,
            waited: Duration::ZERO,
        };
        assert_eq!(summary(&look), "t-0@7 hw=9 leo=9 bytes=3; t-1@3 err=1; ");
    }
}
