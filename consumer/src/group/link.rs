//! The membership task's side of its channels to the consumer, shared by
//! the classic task and the KIP-848 one: both speak to `poll` through the
//! same events, commands, identity watch and last poll time, so what they
//! do with them (losing partitions, waiting out a poll timeout, handing
//! over an assignment) lives here once.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::requests::MemberIdentityState;
use super::{GroupCommand, GroupEvent, SubscriptionSpec};
use crate::error::ConsumerError;
use crate::types::TopicPartition;

/// How the wait after a poll timeout ended.
pub(super) enum Resume {
    /// The application polled again: join anew.
    Rejoin,
    /// The consumer left or is gone.
    Stop,
}

/// What a membership task holds of the consumer: built once by
/// [`super::GroupHandle::start`] and moved into whichever task runs.
pub(super) struct TaskLink {
    /// Events for the consumer's next `poll`.
    pub(super) events: mpsc::UnboundedSender<GroupEvent>,
    /// Requests from the consumer.
    pub(super) commands: mpsc::UnboundedReceiver<GroupCommand>,
    /// When the application last polled (the consumer writes it).
    pub(super) last_poll: Arc<Mutex<Instant>>,
    /// The member identity that commits carry.
    pub(super) identity: watch::Sender<MemberIdentityState>,
}

impl TaskLink {
    /// Waits for the first subscription; `None` when the consumer left
    /// (acknowledged here) or is gone before subscribing.
    pub(super) async fn first_subscription(&mut self) -> Option<SubscriptionSpec> {
        loop {
            match self.commands.recv().await {
                Some(GroupCommand::Subscribe(spec)) => return Some(spec),
                Some(GroupCommand::Leave(ack)) => {
                    let _ = ack.send(());
                    return None;
                }
                Some(GroupCommand::Rejoin) => {}
                None => return None,
            }
        }
    }

    /// Whether the application has not polled within `max_poll_interval`.
    pub(super) fn poll_overdue(&self, max_poll_interval: Duration) -> bool {
        let last = *self.last_poll.lock().unwrap_or_else(|p| p.into_inner());
        last.elapsed() > max_poll_interval
    }

    /// Reports every partition in `owned` lost and empties it. A poll
    /// timeout is reported even with nothing owned, since `poll` must
    /// learn that it has to rejoin.
    ///
    /// The loss count in the identity moves only after the event is
    /// queued, so a commit that sees the new count also finds the event
    /// (and leaves the lost partitions out).
    pub(super) fn lose(&self, owned: &mut BTreeSet<TopicPartition>, poll_timeout: bool) {
        let partitions: Vec<TopicPartition> = std::mem::take(owned).into_iter().collect();
        if !partitions.is_empty() || poll_timeout {
            let _ = self.events.send(GroupEvent::Lost {
                partitions,
                poll_timeout,
            });
        }
        self.identity.send_modify(|identity| identity.losses += 1);
    }

    /// Publishes the member id and generation commits are to carry,
    /// keeping the loss count.
    pub(super) fn publish(&self, member_id: &str, generation: i32) {
        self.identity.send_modify(|identity| {
            member_id.clone_into(&mut identity.member_id);
            identity.generation = generation;
        });
    }

    /// After leaving for a poll timeout: waits until `poll` runs again,
    /// taking in subscription changes meanwhile.
    pub(super) async fn wait_for_poll(
        &mut self,
        subscription: &mut Option<SubscriptionSpec>,
    ) -> Resume {
        loop {
            match self.commands.recv().await {
                Some(GroupCommand::Rejoin) => return Resume::Rejoin,
                Some(GroupCommand::Subscribe(spec)) => *subscription = Some(spec),
                Some(GroupCommand::Leave(ack)) => {
                    let _ = ack.send(());
                    return Resume::Stop;
                }
                None => return Resume::Stop,
            }
        }
    }

    /// Hands `added` and `revoked` to the consumer; the receiver resolves
    /// once its `poll` applied them. `None` when the consumer is gone.
    pub(super) fn assign(
        &self,
        added: Vec<TopicPartition>,
        revoked: Vec<TopicPartition>,
    ) -> Option<oneshot::Receiver<()>> {
        let (ack, done) = oneshot::channel();
        self.events
            .send(GroupEvent::Assigned {
                added,
                revoked,
                ack,
            })
            .ok()
            .map(|()| done)
    }

    /// Ends membership for good with `message`, logged and handed to `poll`.
    pub(super) fn fail(&self, group_id: &str, message: String) {
        tracing::error!(group = %group_id, %message, "group membership failed");
        let _ = self
            .events
            .send(GroupEvent::Fatal(ConsumerError::Group(message)));
    }
}
