//! Sending commits and committed-offset lookups to the coordinator.
//!
//! Both travel on the admin connection class rather than the group one: a
//! JoinGroup parked for a whole rebalance would otherwise hold back a
//! commit queued behind it on the same connection. Coordinator moves and
//! loading are retried until `request.timeout.ms` runs out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use durian_core::backoff::Backoff;
use durian_core::retry::{retry, AttemptError};
use durian_core::{
    Client, CoordinatorKind, Error as CoreError, KafkaCode, KafkaError, SendOptions, Target,
    TrafficClass,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::Consumer;
use crate::error::{ConsumerError, Result};
use crate::group::GroupEvent;
use crate::group::MemberIdentityState;
use crate::offsets::{
    offset_commit_request, offset_fetch_request, parse_offset_commit, parse_offset_fetch,
    CommitIdentity,
};
use crate::spans;
use crate::types::{OffsetAndMetadata, TopicPartition};
use crate::versioned::send_versioned;

fn target(group_id: &str) -> Target {
    Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: group_id.to_owned(),
    }
}

fn options() -> SendOptions {
    SendOptions {
        class: Some(TrafficClass::Admin),
        ..SendOptions::default()
    }
}

/// Codes that mean the commit came from a generation the group left behind.
fn is_rebalance_code(code: KafkaCode) -> bool {
    matches!(
        code,
        KafkaCode::REBALANCE_IN_PROGRESS
            | KafkaCode::ILLEGAL_GENERATION
            | KafkaCode::UNKNOWN_MEMBER_ID
            | KafkaCode::FENCED_INSTANCE_ID
            | KafkaCode::STALE_MEMBER_EPOCH
            | KafkaCode::FENCED_MEMBER_EPOCH
    )
}

/// How many newer member epochs a commit refused as STALE_MEMBER_EPOCH
/// follows before giving up.
const STALE_EPOCH_RETRIES: usize = 3;

/// What a commit refused as stale watches to follow the member to a
/// newer epoch, and to learn whether it may.
pub(crate) struct Membership {
    /// The identity the membership task publishes (epoch, member id, losses).
    identity: watch::Receiver<MemberIdentityState>,
    /// The consumer's revocation count ([`crate::group::GroupHandle::revocations`]).
    revocations: Arc<AtomicU64>,
}

/// Commits `offsets`, retrying coordinator errors. Under
/// `group.protocol=consumer` the epoch may move on while the commit is on
/// its way; a STALE_MEMBER_EPOCH refusal then waits (bounded by
/// `request.timeout.ms`) for the membership task to publish the epoch its
/// next heartbeat brings (`membership`), and commits again with it,
/// unless the member gave partitions up meanwhile: lost them (fenced,
/// then rejoined), or applied a revocation. The offsets may then be of
/// partitions another member owns, and the refusal stands.
///
/// The revocation case concerns commits in the background
/// (`commit_async`): the application's next `poll` may apply a revocation
/// while the commit is on its way, and KIP-848 keeps the member epoch
/// through a revocation and moves it only once the member acknowledged
/// it, so the refusal arrives just as a newer epoch does. The consumer
/// counts a revocation before acknowledging it, so a commit that sees the
/// newer epoch also sees the count, and a commit taken after the
/// revocation (which carries none of its partitions) starts from the new
/// count and still follows. Kafka's Java consumer follows a newer epoch
/// only for its auto-commit before a revocation and fails every other
/// stale commit; this one follows it for any commit, which is safe
/// because a give-up in between stops it.
pub(crate) async fn send_commit(
    client: &Client,
    identity: &CommitIdentity,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    mut membership: Option<Membership>,
) -> Result<()> {
    let mut identity = identity.clone();
    let mut attempts = 0;
    loop {
        let result = send_commit_once(client, &identity, offsets).await;
        let stale = matches!(
            result,
            Err(ConsumerError::CommitFailed(KafkaCode::STALE_MEMBER_EPOCH))
        );
        let Some(membership) = membership
            .as_mut()
            .filter(|_| stale && attempts < STALE_EPOCH_RETRIES)
        else {
            return result;
        };
        attempts += 1;
        let wait = client.config().request_timeout;
        let updates = &mut membership.identity;
        loop {
            let now = updates.borrow_and_update().clone();
            let revocations = membership.revocations.load(Ordering::SeqCst);
            if now.losses != identity.losses || revocations != identity.revocations {
                return result;
            }
            if now.generation != identity.generation && now.generation > 0 {
                identity.generation = now.generation;
                identity.member_id = now.member_id;
                break;
            }
            match tokio::time::timeout(wait, updates.changed()).await {
                Ok(Ok(())) => {}
                _ => return result,
            }
        }
    }
}

async fn send_commit_once(
    client: &Client,
    identity: &CommitIdentity,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let target = target(&identity.group_id);
    let deadline = Instant::now() + client.config().request_timeout;
    let mut backoff = Backoff::new(
        client.config().retry_backoff,
        client.config().retry_backoff_max,
    );
    let outcome = retry(deadline, &mut backoff, || async {
        let metadata = client.metadata();
        let request = offset_commit_request(identity, offsets, &metadata);
        let response = client.send_with(target.clone(), request, options()).await?;
        let errors = parse_offset_commit(&response, &metadata);
        match errors.into_iter().next() {
            None => Ok(Ok(())),
            Some((_, code)) if is_rebalance_code(code) => {
                Ok(Err(ConsumerError::CommitFailed(code)))
            }
            Some((tp, code)) => {
                let error = CoreError::Kafka(KafkaError {
                    code,
                    message: Some(format!("committing {tp}")),
                });
                client.report_error(&target, &error);
                Err(AttemptError::throttled(error, response.throttle_time_ms))
            }
        }
    })
    .instrument(spans::group_span("commit", &identity.group_id))
    .await;
    match outcome {
        Ok(result) => result,
        Err(error) => Err(ConsumerError::Client(error)),
    }
}

/// The committed offsets of `partitions`, `None` where nothing was committed.
pub(crate) async fn fetch_committed(
    client: &Client,
    group_id: &str,
    partitions: &BTreeSet<TopicPartition>,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let target = target(group_id);
    let deadline = Instant::now() + client.config().request_timeout;
    let mut backoff = Backoff::new(
        client.config().retry_backoff,
        client.config().retry_backoff_max,
    );
    let found = retry(deadline, &mut backoff, || async {
        let response = send_versioned(client, target.clone(), TrafficClass::Admin, |version| {
            offset_fetch_request(group_id, partitions, version)
        })
        .await?;
        parse_offset_fetch(&response).map_err(|error| {
            client.report_error(&target, &error);
            AttemptError::throttled(error, response.throttle_time_ms)
        })
    })
    .await?;
    Ok(partitions
        .iter()
        .map(|tp| (tp.clone(), found.get(tp).cloned().flatten()))
        .collect())
}

impl Consumer {
    /// Positions that changed since the last commit, optionally only of `only`.
    fn uncommitted_positions(
        &self,
        only: Option<&[TopicPartition]>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.fetcher
            .positions()
            .into_iter()
            .filter(|(tp, _)| only.is_none_or(|set| set.contains(tp)))
            .filter(|(tp, (offset, _))| self.last_committed.get(tp) != Some(offset))
            .map(|(tp, (offset, epoch))| {
                (
                    tp,
                    OffsetAndMetadata {
                        offset,
                        metadata: None,
                        leader_epoch: epoch,
                    },
                )
            })
            .collect()
    }

    /// The identity a commit of positions carries, with the positions it
    /// may carry: those changed since the last commit (optionally only of
    /// `only`), less every partition the membership task reported lost
    /// that `poll` has not applied yet.
    ///
    /// The membership task reports a loss (eviction: UNKNOWN_MEMBER_ID,
    /// ILLEGAL_GENERATION) and then rejoins on its own, so the consumer can
    /// see the new generation before its next `poll` has dropped the lost
    /// partitions' positions. Committed under that generation, which the
    /// coordinator accepts for any partition, such a position could move
    /// the new owner's committed offset backwards. The identity is read
    /// before the queued events: the task reports the loss before it
    /// publishes a new generation, so a loss behind the generation read
    /// here is always in the queue by then.
    pub(super) fn commit_snapshot(
        &mut self,
        only: Option<&[TopicPartition]>,
    ) -> Result<(CommitIdentity, BTreeMap<TopicPartition, OffsetAndMetadata>)> {
        let identity = self.commit_identity()?;
        let lost = self.pending_losses();
        let mut offsets = self.uncommitted_positions(only);
        offsets.retain(|tp, _| !lost.contains(tp));
        Ok((identity, offsets))
    }

    /// Partitions named by loss events that `poll` has not applied yet;
    /// takes the task's queued events into the consumer's own queue (in
    /// order), where the next `poll` applies them.
    fn pending_losses(&mut self) -> BTreeSet<TopicPartition> {
        if let Some(group) = &mut self.group {
            while let Ok(event) = group.events.try_recv() {
                self.events.push_back(event);
            }
        }
        self.events
            .iter()
            .filter_map(|event| match event {
                GroupEvent::Lost { partitions, .. } => Some(partitions),
                _ => None,
            })
            .flatten()
            .cloned()
            .collect()
    }

    pub(super) fn commit_identity(&self) -> Result<CommitIdentity> {
        let group_id = self.group_id()?.to_owned();
        let (generation, member_id, losses, revocations) = match &self.group {
            Some(group) => {
                let identity = group.identity.borrow();
                (
                    identity.generation,
                    identity.member_id.clone(),
                    identity.losses,
                    group.revocations.load(Ordering::SeqCst),
                )
            }
            None => (-1, String::new(), 0, 0),
        };
        Ok(CommitIdentity {
            group_id,
            generation,
            member_id,
            group_instance_id: self.config.group_instance_id.clone(),
            losses,
            revocations,
        })
    }

    /// The membership task's identity updates and the revocation count,
    /// to follow a newer member epoch when a commit is refused as stale.
    fn membership(&self) -> Option<Membership> {
        self.group.as_ref().map(|group| Membership {
            identity: group.identity.clone(),
            revocations: group.revocations.clone(),
        })
    }

    /// Starts an auto-commit in the background when one is due and none
    /// is running. Only positions of records already returned are
    /// committed, so a crash never skips records (at-least-once), and
    /// only of partitions still owned.
    pub(super) fn maybe_auto_commit(&mut self) {
        if !self.config.enable_auto_commit || self.config.group_id.is_none() {
            return;
        }
        if let Some(task) = &self.auto_commit_task {
            if !task.is_finished() {
                return;
            }
            self.auto_commit_task = None;
        }
        if self.last_auto_commit.elapsed() < self.config.auto_commit_interval {
            return;
        }
        self.last_auto_commit = Instant::now();
        let Ok((identity, offsets)) = self.commit_snapshot(None) else {
            return;
        };
        if offsets.is_empty() {
            return;
        }
        self.auto_commit_task = Some(self.spawn_commit(identity, offsets));
    }

    /// Commits the positions of every assigned partition (the offsets
    /// after the records `poll` returned) and waits for the answer.
    /// Partitions lost to an eviction are left out even before the next
    /// `poll` applies the loss.
    pub async fn commit(&mut self) -> Result<()> {
        let (identity, offsets) = self.commit_snapshot(None)?;
        self.commit_as(identity, offsets).await
    }

    /// Commits explicit offsets and waits for the answer.
    ///
    /// The offsets are sent as given, under the member's current
    /// generation, whether or not the consumer owns their partitions now:
    /// the classic group protocol does not check ownership, and neither
    /// does this method (as Kafka's Java consumer does not). Committing
    /// offsets of a partition another member owns moves its committed
    /// offset; [`Consumer::commit`] never does that.
    pub async fn commit_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let identity = self.commit_identity()?;
        self.commit_as(identity, offsets).await
    }

    /// Sends `offsets` under `identity`, waits, and remembers them as committed.
    pub(super) async fn commit_as(
        &mut self,
        identity: CommitIdentity,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let membership = self.membership();
        send_commit(&self.client, &identity, &offsets, membership).await?;
        for (tp, offset) in offsets {
            self.last_committed.insert(tp, offset.offset);
        }
        Ok(())
    }

    /// Commits the current positions in the background (those of
    /// partitions still owned, as [`Consumer::commit`]); await the handle
    /// for the result, or drop it.
    pub fn commit_async(&mut self) -> Result<JoinHandle<Result<()>>> {
        let (identity, offsets) = self.commit_snapshot(None)?;
        Ok(self.spawn_commit(identity, offsets))
    }

    fn spawn_commit(
        &mut self,
        identity: CommitIdentity,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> JoinHandle<Result<()>> {
        let membership = self.membership();
        let client = self.client.clone();
        // Counted as committed right away so the next auto-commit does not
        // resend them; a failed commit is reported through the handle.
        for (tp, offset) in &offsets {
            self.last_committed.insert(tp.clone(), offset.offset);
        }
        tokio::spawn(async move { send_commit(&client, &identity, &offsets, membership).await })
    }

    /// The committed offsets of `partitions` (`None` where nothing was committed).
    pub async fn committed(
        &self,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        fetch_committed(&self.client, self.group_id()?, partitions).await
    }
}
