//! Rebalance callbacks.
//!
//! The group task never calls application code. It queues events, and the
//! application's own `poll` runs the listener, with the consumer at hand,
//! so `on_partitions_revoked` can commit what was processed before the
//! partitions go to another member.

use async_trait::async_trait;

use crate::consumer::Consumer;
use crate::types::TopicPartition;

/// Hooks called from [`Consumer::poll`] around rebalances.
///
/// Eager assignors revoke everything before each rebalance and assign the
/// full new set after it; cooperative-sticky revokes and assigns only the
/// partitions that move.
///
/// `C` is the consumer handed to the hooks: [`Consumer`] unless said
/// otherwise, so `impl RebalanceListener for X` keeps meaning the real
/// consumer. A listener that should also run under the `testing`
/// feature's `MockConsumer` implements it for every
/// [`ConsumerApi`](crate::ConsumerApi):
///
/// ```
/// use async_trait::async_trait;
/// use durian_consumer::{ConsumerApi, RebalanceListener, TopicPartition};
///
/// /// Commits what was processed before partitions move elsewhere.
/// struct CommitOnRevoke;
///
/// #[async_trait]
/// impl<C: ConsumerApi> RebalanceListener<C> for CommitOnRevoke {
///     async fn on_partitions_revoked(&mut self, consumer: &mut C, _: &[TopicPartition]) {
///         if let Err(error) = consumer.commit().await {
///             eprintln!("commit before revocation failed: {error}");
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait RebalanceListener<C: Send = Consumer>: Send {
    /// Partitions are about to be given away; commit their progress now.
    /// The consumer still owns them while this runs.
    async fn on_partitions_revoked(&mut self, consumer: &mut C, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }

    /// Partitions were added to the assignment; positions are set from
    /// committed offsets when the next fetch needs them.
    async fn on_partitions_assigned(&mut self, consumer: &mut C, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }

    /// Partitions were lost without an orderly revocation (the session
    /// expired, the member was fenced, or poll came too late); other
    /// members may already own them, so committing is pointless.
    async fn on_partitions_lost(&mut self, consumer: &mut C, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }
}

/// A listener that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopListener;

impl<C: Send> RebalanceListener<C> for NoopListener {}
