//! Driving reconciliation: the steps [`super::reconcile::plan`] computes
//! are handed to the consumer one at a time (revocations first), each
//! acknowledged by a heartbeat as soon as the consumer applied it.

use std::collections::BTreeSet;

use durian_core::Target;
use kafka_protocol::messages::MetadataRequest;
use tokio::time::Instant;
use uuid::Uuid;

use super::{reconcile, Beat, ConsumerGroupTask};
use crate::group::GroupCommand;
use crate::types::TopicPartition;

impl ConsumerGroupTask {
    /// Brings the owned partitions to the pending target: revocations
    /// first, each step acknowledged by a heartbeat right away so that
    /// the coordinator can move on without waiting a whole interval.
    pub(super) async fn reconcile(&mut self) -> Beat {
        loop {
            let Some(target) = self.pending.clone() else {
                return Beat::Ok;
            };
            let mut plan = reconcile::plan(&self.owned, &target, &self.names);
            if !plan.unresolved.is_empty() {
                self.learn_names(&plan.unresolved).await;
                plan = reconcile::plan(&self.owned, &target, &self.names);
            }
            if plan.unresolved.is_empty() && plan.revoke.is_empty() {
                self.pending = None;
            }
            let step = if !plan.revoke.is_empty() {
                tracing::info!(group = %self.group_id, epoch = self.epoch, revoked = plan.revoke.len(), "revoking");
                let outcome = self.hand_over(Vec::new(), plan.revoke.clone()).await;
                if matches!(outcome, Beat::Ok | Beat::Fenced(_)) {
                    // The consumer applied it (it acknowledged).
                    for tp in &plan.revoke {
                        self.owned.remove(tp);
                    }
                }
                outcome
            } else if !plan.is_settled() {
                tracing::info!(group = %self.group_id, epoch = self.epoch, assigned = plan.assign.len(), "assigning");
                self.client
                    .add_topics(plan.assign.iter().map(|tp| tp.topic.to_string()));
                let outcome = self.hand_over(plan.assign.clone(), Vec::new()).await;
                if matches!(outcome, Beat::Ok | Beat::Fenced(_)) {
                    self.owned.extend(plan.assign);
                }
                outcome
            } else {
                if !plan.unresolved.is_empty() {
                    tracing::debug!(group = %self.group_id, unresolved = ?plan.unresolved, "assigned topic ids not in metadata yet");
                }
                return Beat::Ok;
            };
            match step {
                Beat::Ok => {}
                other => return other,
            }
            match self.beat().await {
                Beat::Ok => {}
                other => return other,
            }
        }
    }

    /// Learns the names of `ids` from the client's metadata, else from a
    /// Metadata request for every topic (the ids of topics created after
    /// the subscription, e.g. by a pattern, are nowhere else), sent at most
    /// as often as `names_lookup` allows while ids stay unknown.
    async fn learn_names(&mut self, ids: &BTreeSet<Uuid>) {
        let known = self.client.metadata();
        for topic in known.topics.values() {
            if ids.contains(&topic.topic_id) {
                self.names.insert(topic.topic_id, topic.name.clone());
            }
        }
        let unknown = self.unknown_of(ids);
        if unknown.is_empty() {
            self.names_lookup.settled();
            return;
        }
        if !self.names_lookup.due(&unknown) {
            return;
        }
        let request = MetadataRequest::default().with_topics(None);
        match self.client.send(Target::Any, request).await {
            Ok(response) => {
                for topic in response.topics {
                    if let Some(name) = topic.name {
                        if !topic.topic_id.is_nil() {
                            self.names.insert(topic.topic_id, name.to_string());
                        }
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "metadata for assigned topic ids failed"),
        }
        let unknown = self.unknown_of(ids);
        if unknown.is_empty() {
            self.names_lookup.settled();
        } else {
            self.names_lookup.missed(unknown);
        }
    }

    /// The ids among `ids` whose names are not known yet.
    fn unknown_of(&self, ids: &BTreeSet<Uuid>) -> BTreeSet<Uuid> {
        ids.iter()
            .filter(|id| !self.names.contains_key(id))
            .copied()
            .collect()
    }

    /// Tells the consumer to revoke and assign, and waits until its next
    /// `poll` did so, heartbeating meanwhile to keep the membership.
    async fn hand_over(
        &mut self,
        added: Vec<TopicPartition>,
        revoked: Vec<TopicPartition>,
    ) -> Beat {
        let in_flight = (added.clone(), revoked.clone());
        let Some(mut done) = self.link.assign(added, revoked) else {
            return Beat::Stop;
        };
        let sent = Instant::now();
        let mut fenced: Option<String> = None;
        let mut tick = tokio::time::interval(self.interval);
        tick.tick().await;
        loop {
            tokio::select! {
                result = &mut done => {
                    return match (result, fenced) {
                        (Err(_), _) => Beat::Stop,
                        (Ok(()), Some(why)) => Beat::Fenced(why),
                        (Ok(()), None) => Beat::Ok,
                    };
                }
                _ = tick.tick() => {
                    if sent.elapsed() > self.config.max_poll_interval {
                        // The consumer applies the queued event before the
                        // loss that follows it, so the loss must cover
                        // what it will own by then.
                        let (added, revoked) = &in_flight;
                        for tp in revoked {
                            self.owned.remove(tp);
                        }
                        self.owned.extend(added.iter().cloned());
                        return self.leave_for_poll_timeout().await;
                    }
                    if fenced.is_none() {
                        match self.beat().await {
                            Beat::Fenced(why) => fenced = Some(why),
                            Beat::Stop => return Beat::Stop,
                            Beat::Ok | Beat::Retry | Beat::Restart => {}
                        }
                    }
                }
                command = self.link.commands.recv() => match command {
                    Some(GroupCommand::Leave(ack)) => {
                        self.leave_on_close().await;
                        let _ = ack.send(());
                        return Beat::Stop;
                    }
                    Some(GroupCommand::Subscribe(spec)) => self.subscription = Some(spec),
                    Some(GroupCommand::Rejoin) => {}
                    None => return Beat::Stop,
                },
            }
        }
    }
}
