//! Creating a scenario's topic and reading every partition back.
//!
//! Reading uses durian's consumer with `assign` (no group, no commits):
//! the end offsets are taken first, then `poll` runs until every
//! partition's position reached them. The consumer does not check batch
//! CRCs (finding S6a-1, docs/RELIABILITY.md): a corrupt batch served by the
//! broker shows up as corrupt test records in the checker's report.

use std::collections::BTreeMap;
use std::time::Duration;

use durian_admin::{Admin, NewTopic};
use durian_consumer::{Consumer, IsolationLevel, OffsetReset, TopicPartition};
use tokio::time::Instant;

use crate::checker::ReadRecord;

/// Creating the topic or reading it back failed.
#[derive(Debug)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for ReadError {}

/// `bootstrap` may list several `host:port`s separated by commas.
///
/// Creates `topic` with `partitions` partitions, retrying for up to 20 s
/// while the broker is still starting.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), ReadError> {
    create_topic_with(bootstrap, NewTopic::new(topic, partitions)).await
}

/// [`create_topic`] for a topic described in full (with config overrides,
/// e.g. a small `segment.bytes` so a scenario gets several segments).
pub async fn create_topic_with(bootstrap: &str, new_topic: NewTopic) -> Result<(), ReadError> {
    let topic = new_topic.name.clone();
    let admin = Admin::builder()
        .bootstrap_servers(bootstrap.split(','))
        .build()
        .map_err(|e| ReadError(format!("admin client: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let results = admin.create_topics([new_topic.clone()]).await;
        let outcome = results.into_values().next();
        match outcome {
            None | Some(Ok(_)) => return Ok(()),
            Some(Err(error)) if error.to_string().contains("TOPIC_ALREADY_EXISTS") => return Ok(()),
            Some(Err(error)) if Instant::now() < deadline => {
                tracing::debug!(%error, "create topic failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(Err(error)) => return Err(ReadError(format!("cannot create {topic}: {error}"))),
        }
    }
}

/// Reads partitions `0..partitions` of `topic` from the start to their
/// current end, within `timeout`.
pub async fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<ReadRecord>, ReadError> {
    read_all_with(
        bootstrap,
        topic,
        partitions,
        timeout,
        IsolationLevel::ReadUncommitted,
    )
    .await
}

/// [`read_all`] at `isolation`: under read_committed the end is each
/// partition's last stable offset and aborted records are skipped.
pub async fn read_all_with(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
    isolation: IsolationLevel,
) -> Result<Vec<ReadRecord>, ReadError> {
    let deadline = Instant::now() + timeout;
    let mut consumer = Consumer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .isolation_level(isolation)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .max_poll_records(10_000)
        .build()
        .map_err(|e| ReadError(format!("consumer: {e}")))?;
    let assigned: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer
        .assign(assigned.clone())
        .map_err(|e| ReadError(format!("assign: {e}")))?;
    let ends: BTreeMap<TopicPartition, i64> = loop {
        match consumer.end_offsets(&assigned).await {
            Ok(ends) => break ends,
            Err(error) if Instant::now() < deadline => {
                tracing::debug!(%error, "end offsets failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(ReadError(format!("end offsets of {topic}: {error}"))),
        }
    };
    let mut records = Vec::new();
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    let done = |positions: &BTreeMap<i32, i64>| {
        ends.iter()
            .all(|(tp, end)| *end <= 0 || positions.get(&tp.partition).is_some_and(|p| p >= end))
    };
    while !done(&positions) {
        if Instant::now() >= deadline {
            return Err(ReadError(format!(
                "read {} records of {topic} in {timeout:?}; positions {positions:?}, ends {ends:?}",
                records.len()
            )));
        }
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .map_err(|e| ReadError(format!("poll: {e}")))?;
        if let Some((partition, error)) = batch.errors.first() {
            return Err(ReadError(format!("reading {partition}: {error}")));
        }
        for record in batch.iter() {
            records.push(ReadRecord {
                partition: record.partition,
                offset: record.offset,
                timestamp: record.timestamp,
                value: record.value.clone().unwrap_or_default(),
            });
        }
        // The consumer's position, not the last record's offset: under
        // read_committed aborted records and transaction markers are
        // skipped, and a partition may end with them.
        for tp in &assigned {
            if let Ok(position) = consumer.position(tp).await {
                positions.insert(tp.partition, position);
            }
        }
    }
    let _ = consumer.close().await;
    Ok(records)
}

/// What the broker's indexes answer for one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexAnswers {
    /// The offset of the first record a consumer gets after seeking to
    /// the asked offset (offset index lookup).
    pub first_after_seek: i64,
    /// The offset ListOffsets returns for the asked timestamp (time index
    /// lookup), `None` if the broker found none.
    pub offset_for_time: Option<i64>,
}

/// Asks the broker to find `offset` by seeking there and `timestamp`
/// through ListOffsets, both in `topic`-`partition`.
pub async fn index_lookups(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    timestamp: i64,
) -> Result<IndexAnswers, ReadError> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .enable_auto_commit(false)
        .build()
        .map_err(|e| ReadError(format!("consumer: {e}")))?;
    let tp = TopicPartition::new(topic, partition);
    consumer
        .assign([tp.clone()])
        .map_err(|e| ReadError(format!("assign: {e}")))?;
    let times = BTreeMap::from([(tp.clone(), timestamp)]);
    let offset_for_time = consumer
        .offsets_for_times(&times)
        .await
        .map_err(|e| ReadError(format!("offsets for times: {e}")))?
        .get(&tp)
        .copied()
        .flatten()
        .map(|(offset, _)| offset);
    consumer
        .seek(&tp, offset)
        .map_err(|e| ReadError(format!("seek: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let first_after_seek = loop {
        if Instant::now() >= deadline {
            return Err(ReadError(format!("nothing read after seeking to {offset}")));
        }
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .map_err(|e| ReadError(format!("poll: {e}")))?;
        if let Some((partition, error)) = batch.errors.first() {
            return Err(ReadError(format!("reading {partition}: {error}")));
        }
        let first = batch.iter().next().map(|record| record.offset);
        if let Some(first) = first {
            break first;
        }
    };
    let _ = consumer.close().await;
    Ok(IndexAnswers {
        first_after_seek,
        offset_for_time,
    })
}
