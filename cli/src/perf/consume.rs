//! `durian perf consume`: read N records of a topic from its beginning,
//! with a group (`-g`) or without one (every partition assigned), and time
//! it. Bytes are keys plus values, as the producer side counts them.
//!
//! There is no per-record latency on this side (records were written
//! before the run, so their age says nothing about the consumer); the
//! summary gives the time until the first record arrived instead, which
//! for a group includes joining it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use durian::consumer::{Consumer, TopicPartition};

use super::progress::{Progress, ProgressReporter};
use super::PerfReport;
use crate::CliError;

/// What `durian perf consume` was asked to do.
#[derive(Clone, Debug)]
pub struct ConsumeRun {
    /// Topic to read.
    pub topic: String,
    /// Records to read before stopping.
    pub num: u64,
    /// Consumer group; `None` reads every partition without a group.
    pub group: Option<String>,
    /// Give up after this long without a new record.
    pub idle_timeout: Duration,
}

/// Reads `run.num` records with `consumer` (built with
/// `auto.offset.reset=earliest`), then closes it. Fails when the topic does
/// not exist, a partition reports an error, or no record arrives for
/// `idle_timeout`.
pub async fn run(mut consumer: Consumer, run: &ConsumeRun) -> Result<PerfReport, CliError> {
    // Looked up in both modes: subscribing to a missing topic would only
    // wait for it until the idle timeout.
    let partitions = partitions_of(&consumer, &run.topic).await?;
    if run.group.is_some() {
        consumer.subscribe([run.topic.as_str()])?;
    } else {
        consumer.assign(partitions)?;
    }
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let reporter = ProgressReporter::start("consumed", progress.clone(), run.num, started);
    let read = read(&mut consumer, run, &progress, started).await;
    let elapsed = started.elapsed();
    reporter.finish().await;
    let first_record = read?;
    consumer.close().await?;
    let (records, bytes) = progress.snapshot();
    Ok(PerfReport {
        verb: "consumed",
        records,
        bytes,
        elapsed,
        latency: None,
        latency_label: "",
        first_record,
    })
}

/// Polls until `run.num` records were counted; returns when the first came.
async fn read(
    consumer: &mut Consumer,
    run: &ConsumeRun,
    progress: &Progress,
    started: Instant,
) -> Result<Option<Duration>, CliError> {
    let mut first_record = None;
    let mut counted = 0u64;
    let mut last_record = Instant::now();
    while counted < run.num {
        let batch = consumer.poll(Duration::from_millis(200)).await?;
        if let Some((partition, error)) = batch.errors.first() {
            return Err(CliError::new(format!(
                "{}-{}: {error}",
                partition.topic, partition.partition
            )));
        }
        if batch.is_empty() {
            if last_record.elapsed() >= run.idle_timeout {
                return Err(CliError::new(format!(
                    "read {counted} of {} records, then nothing for {:?}; \
                     does {} hold that many records?",
                    run.num, run.idle_timeout, run.topic
                )));
            }
            continue;
        }
        last_record = Instant::now();
        first_record.get_or_insert_with(|| started.elapsed());
        // Count no more than asked for, so the summary is about exactly N.
        let wanted = usize::try_from(run.num - counted).unwrap_or(usize::MAX);
        for record in batch.iter().take(wanted) {
            let bytes = record.key.as_ref().map_or(0, |k| k.len())
                + record.value.as_ref().map_or(0, |v| v.len());
            progress.add(1, bytes as u64);
            counted += 1;
        }
    }
    Ok(first_record)
}

/// Every partition of `topic`, from a metadata request.
async fn partitions_of(consumer: &Consumer, topic: &str) -> Result<Vec<TopicPartition>, CliError> {
    let client = consumer.client();
    client.add_topics([topic]);
    client.refresh_metadata("durian perf consume").await?;
    let metadata = client.metadata();
    let described = metadata
        .topics
        .get(topic)
        .filter(|t| t.error.is_none() && !t.partitions.is_empty())
        .ok_or_else(|| CliError::new(format!("topic {topic} does not exist")))?;
    Ok(described
        .partitions
        .keys()
        .map(|&partition| TopicPartition::new(topic, partition))
        .collect())
}
