//! [`ConsumerApi`]: the part of the consumer application code needs,
//! implemented by [`Consumer`] and, with the `testing` feature, by
//! `MockConsumer`, so code written against it can be tested without a broker.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use crate::consumer::{Consumer, PollBatch};
use crate::error::Result;
use crate::types::{OffsetAndMetadata, TopicPartition};

/// Polling, committing and positioning, as [`Consumer`] does them; write
/// application code against `&mut impl ConsumerApi` (or a generic
/// `C: ConsumerApi`) where a test should be able to pass a `MockConsumer`.
/// Anything else (metadata, lag, pause) stays on [`Consumer`] itself.
///
/// The methods return `impl Future`, so the trait is used through
/// generics, not as `dyn ConsumerApi`.
///
/// ```
/// use std::time::Duration;
/// use durian_consumer::{ConsumerApi, Result};
///
/// /// Application code: counts records until a poll comes back empty, then commits.
/// async fn drain(consumer: &mut impl ConsumerApi) -> Result<usize> {
///     let mut seen = 0;
///     loop {
///         let batch = consumer.poll(Duration::from_millis(100)).await?;
///         if batch.is_empty() {
///             consumer.commit().await?;
///             return Ok(seen);
///         }
///         seen += batch.len();
///     }
/// }
/// ```
pub trait ConsumerApi: Send {
    /// Joins the group for `topics` ([`Consumer::subscribe`]).
    fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;

    /// Reads exactly `partitions`, without a group ([`Consumer::assign`]).
    fn assign<I>(&mut self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = TopicPartition>;

    /// The partitions assigned now.
    fn assignment(&self) -> BTreeSet<TopicPartition>;

    /// Waits up to `timeout` for records ([`Consumer::poll`]).
    fn poll(&mut self, timeout: Duration) -> impl Future<Output = Result<PollBatch>> + Send;

    /// Commits the positions of every assigned partition ([`Consumer::commit`]).
    fn commit(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// Commits explicit offsets ([`Consumer::commit_offsets`]).
    fn commit_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The offset of the next record `poll` returns for `partition`.
    fn position(&mut self, partition: &TopicPartition) -> impl Future<Output = Result<i64>> + Send;

    /// Makes the next `poll` read `partition` from `offset` ([`Consumer::seek`]).
    fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<()>;
}

impl ConsumerApi for Consumer {
    fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Consumer::subscribe(self, topics)
    }

    fn assign<I>(&mut self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = TopicPartition>,
    {
        Consumer::assign(self, partitions)
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        Consumer::assignment(self)
    }

    fn poll(&mut self, timeout: Duration) -> impl Future<Output = Result<PollBatch>> + Send {
        Consumer::poll(self, timeout)
    }

    fn commit(&mut self) -> impl Future<Output = Result<()>> + Send {
        Consumer::commit(self)
    }

    fn commit_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> impl Future<Output = Result<()>> + Send {
        Consumer::commit_offsets(self, offsets)
    }

    fn position(&mut self, partition: &TopicPartition) -> impl Future<Output = Result<i64>> + Send {
        Consumer::position(self, partition)
    }

    fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<()> {
        Consumer::seek(self, partition, offset)
    }
}
