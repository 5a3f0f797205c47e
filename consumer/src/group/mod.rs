//! Group membership, run by a background task independent of `poll`.
//!
//! ```text
//!         commands (subscribe, rejoin, leave)
//!  Consumer ─────────────────────────────────────▶ GroupTask
//!     ▲   ◀── events (assigned, revoke, lost) ────   │ FindCoordinator, JoinGroup,
//!     │   ◀── identity watch (generation, member) ─  │ SyncGroup, Heartbeat, LeaveGroup
//!     └── last poll time (shared) ──────────────────▶│ (max.poll.interval.ms check)
//! ```
//!
//! The task heartbeats on its own schedule, so a slow application does not
//! lose its membership while it stays within `max.poll.interval.ms`.
//! Revocations wait for the application: the task sends an event carrying
//! an acknowledgement and proceeds only after the consumer's next `poll`
//! has run the listener (and, with auto-commit, committed). Coordinator
//! moves and loading are retried inside the task and never reach `poll`.
//!
//! `group.protocol` picks the task: [`task`] speaks the classic protocol
//! (JoinGroup/SyncGroup, assignors in the leader), [`consumer_protocol`]
//! KIP-848's ConsumerGroupHeartbeat. Both talk to the consumer through
//! the same events, commands and identity watch.

mod consumer_protocol;
mod link;
pub mod requests;
mod task;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use durian_core::{Client, CoordinatorKind, Target};
use regex::Regex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use requests::MemberIdentityState;

use crate::config::{ConsumerConfig, GroupProtocol};
use crate::error::ConsumerError;
use crate::types::TopicPartition;

/// What the application subscribed to.
#[derive(Clone, Debug)]
pub enum SubscriptionSpec {
    /// A fixed list of topics.
    Topics(BTreeSet<String>),
    /// Every topic whose whole name matches, re-evaluated as topics appear.
    Pattern(Regex),
}

/// Something the consumer must act on in its next `poll`.
#[derive(Debug)]
pub(crate) enum GroupEvent {
    /// A rebalance completed: revoke `revoked` (cooperative), then add `added`.
    Assigned {
        added: Vec<TopicPartition>,
        revoked: Vec<TopicPartition>,
        ack: oneshot::Sender<()>,
    },
    /// Eager protocol: give back everything before the task rejoins.
    RevokeAll {
        partitions: Vec<TopicPartition>,
        ack: oneshot::Sender<()>,
    },
    /// Partitions lost without an orderly revocation.
    Lost {
        partitions: Vec<TopicPartition>,
        poll_timeout: bool,
    },
    /// Membership failed for good.
    Fatal(ConsumerError),
}

/// Requests from the consumer to the task.
#[derive(Debug)]
pub(crate) enum GroupCommand {
    Subscribe(SubscriptionSpec),
    /// Resume membership after a poll timeout.
    Rejoin,
    /// Leave the group (LeaveGroup unless static) and stop.
    Leave(oneshot::Sender<()>),
}

/// Where a group's membership requests go: its coordinator, looked up
/// (and re-looked up after it moves) by the client.
fn coordinator(group_id: &str) -> Target {
    Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: group_id.to_owned(),
    }
}

/// The consumer's side of the membership task.
pub(crate) struct GroupHandle {
    pub events: mpsc::UnboundedReceiver<GroupEvent>,
    pub commands: mpsc::UnboundedSender<GroupCommand>,
    pub last_poll: Arc<Mutex<Instant>>,
    pub identity: watch::Receiver<MemberIdentityState>,
    /// How many revocations the consumer has applied, counted before it
    /// acknowledges each (so before the heartbeat that brings the epoch
    /// after it). Shared with commits in the background: under KIP-848 a
    /// revocation keeps the member epoch, so a commit refused as stale
    /// tells by this count, not by the epoch, that a partition it carries
    /// may have been given up since it was taken.
    pub revocations: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl GroupHandle {
    /// Starts the task for `group_id`; it waits for a subscription.
    pub(crate) fn start(client: Client, config: Arc<ConsumerConfig>, group_id: String) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (identity_tx, identity) = watch::channel(MemberIdentityState {
            member_id: String::new(),
            generation: -1,
            losses: 0,
        });
        let last_poll = Arc::new(Mutex::new(Instant::now()));
        let link = link::TaskLink {
            events: events_tx,
            commands: commands_rx,
            last_poll: last_poll.clone(),
            identity: identity_tx,
        };
        let task = match config.group_protocol {
            GroupProtocol::Classic => {
                tokio::spawn(task::GroupTask::new(client, config, group_id, link).run())
            }
            GroupProtocol::Consumer => tokio::spawn(
                consumer_protocol::ConsumerGroupTask::new(client, config, group_id, link).run(),
            ),
        };
        GroupHandle {
            events,
            commands,
            last_poll,
            identity,
            revocations: Arc::default(),
            task,
        }
    }

    /// Records that the application polled.
    pub(crate) fn touch(&self) {
        *self.last_poll.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Leaves the group and waits (bounded) for the task to finish.
    pub(crate) async fn leave(&mut self, timeout: std::time::Duration) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(GroupCommand::Leave(ack)).is_ok() {
            let _ = tokio::time::timeout(timeout, done).await;
        }
        self.task.abort();
    }
}

impl Drop for GroupHandle {
    fn drop(&mut self) {
        // Without close(), the member simply stops heartbeating and the
        // coordinator removes it after session.timeout.ms.
        self.task.abort();
    }
}
