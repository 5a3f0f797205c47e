//! Sending fetches: which partitions go to which broker now (the choice is
//! [`super::plan`]'s, the broker a partition's leader or preferred read
//! replica), split over the broker's free lanes ([`super::lanes`]), and one
//! spawned request per fetch whose answer comes back on the fetcher's
//! channel with the plan it was sent under.

use durian_core::{ClusterMetadata, Error as CoreError, SendOptions, TrafficClass};
use kafka_protocol::messages::FetchResponse;
use tracing::Instrument;

use super::lanes::{split, Room};
use super::plan::{plan_fetches, FetchKind};
use super::session::SessionUse;
use super::traffic::send_fetch;
use super::{fetch_request, FetchTarget, Fetcher};
use crate::types::TopicPartition;

/// One partition of a fetch in flight: the cursor version, fetch offset
/// and current leader epoch it was sent with.
#[derive(Debug)]
pub(super) struct Planned {
    pub(super) tp: TopicPartition,
    pub(super) version: u64,
    pub(super) offset: i64,
    pub(super) leader_epoch: i32,
}

/// The partitions of one fetch in flight.
#[derive(Debug)]
pub(super) struct FetchPlan {
    pub(super) node: i32,
    /// The broker's lane the fetch went out in (see [`super::lanes`]).
    pub(super) lane: usize,
    pub(super) partitions: Vec<Planned>,
    /// How the fetch used the broker's fetch session.
    pub(super) session: SessionUse,
}

pub(super) type FetchResult = (FetchPlan, Result<FetchResponse, CoreError>);

impl Fetcher {
    /// Sends fetches to every broker that leads fetchable partitions and
    /// has room for them ([`super::lanes`]), unless one would only be a
    /// long poll holding back partitions still draining (see [`plan`]).
    pub(crate) fn start_fetches(&mut self) {
        let metadata = self.client.metadata();
        for (tp, cursor) in &mut self.cursors {
            let epoch = metadata
                .partition(&tp.topic, tp.partition)
                .map(|p| p.leader_epoch);
            if let Some(epoch) = epoch {
                cursor.see_leader_epoch(epoch);
            }
        }
        // A partition is fetched from its leader, or from the read replica
        // the leader named (KIP-392, see [`super::replica`]).
        let now = tokio::time::Instant::now();
        // Fetch ahead of buffered records only while the consumer as a
        // whole buffers less than `durian.fetch.buffer.bytes`.
        let ahead_below = if self.buffered_bytes() < self.config.fetch_buffer_bytes {
            usize::try_from(self.config.max_partition_fetch_bytes).unwrap_or(0)
        } else {
            0
        };
        let replicas = &mut self.replicas;
        let planning = plan_fetches(&self.cursors, &self.lanes, ahead_below, |tp| {
            let leader = metadata
                .partition(&tp.topic, tp.partition)
                .and_then(|p| p.leader)
                .filter(|id| metadata.brokers.contains_key(id))?;
            Some(replicas.choose(tp, leader, &metadata, now))
        });
        if planning.leaderless {
            self.client
                .request_metadata_refresh("consumer: partition without a known leader");
        }
        for (node, partitions) in planning.fetches {
            let room = match self.lanes.room(node) {
                Room::Any(n) | Room::Reading(n) => n,
                Room::Full => continue,
            };
            let kinds = partitions
                .into_iter()
                .filter_map(|tp| {
                    let kind = FetchKind::sure(self.cursors.get(&tp)?);
                    Some((tp, kind))
                })
                .collect();
            for (kind, partitions) in split(kinds, room) {
                self.send_fetch_for(node, kind, partitions, &metadata);
            }
        }
    }

    /// Sends one fetch of `partitions` to `node`.
    fn send_fetch_for(
        &mut self,
        node: i32,
        kind: FetchKind,
        partitions: Vec<TopicPartition>,
        metadata: &ClusterMetadata,
    ) {
        let targets: Vec<FetchTarget> = partitions
            .into_iter()
            .filter_map(|tp| {
                let cursor = self.cursors.get(&tp)?;
                Some(FetchTarget {
                    topic_id: metadata
                        .topic(&tp.topic)
                        .map(|t| t.topic_id)
                        .unwrap_or_default(),
                    fetch_offset: cursor.fetch_offset().unwrap_or(0),
                    current_leader_epoch: cursor.leader_epoch.unwrap_or(-1),
                    last_fetched_epoch: cursor.fetch_epoch().unwrap_or(-1),
                    topic: tp.topic,
                    partition: tp.partition,
                })
            })
            .collect();
        tracing::debug!(
            node,
            partitions = ?targets.iter().map(|t| (&*t.topic, t.partition, t.fetch_offset)).collect::<Vec<_>>(),
            "sending fetch"
        );
        self.spawn_fetch(node, kind, targets);
    }

    fn spawn_fetch(&mut self, node: i32, kind: FetchKind, targets: Vec<FetchTarget>) {
        let lane = self.lanes.take(node, kind);
        let (request, session) =
            self.sessions
                .prepare(node, lane, &targets, fetch_request(&self.config, &targets));
        let span = crate::spans::fetch_span(
            &self.client,
            self.config.group_id.as_deref(),
            node,
            &targets,
        );
        let mut plan = FetchPlan {
            node,
            lane,
            partitions: Vec::new(),
            session,
        };
        for target in &targets {
            let tp = TopicPartition::new(target.topic.clone(), target.partition);
            if let Some(cursor) = self.cursors.get_mut(&tp) {
                cursor.in_flight = true;
                plan.partitions.push(Planned {
                    tp,
                    version: cursor.version,
                    offset: target.fetch_offset,
                    leader_epoch: target.current_leader_epoch,
                });
            }
        }
        *self.fetches_sent.entry(node).or_default() += 1;
        let client = self.client.clone();
        let options = SendOptions {
            class: Some(TrafficClass::Fetch),
            timeout: Some(self.config.client.request_timeout + self.config.fetch_max_wait),
            ..SendOptions::default()
        };
        let tx = self.results_tx.clone();
        let traffic = self.traffic.clone();
        tokio::spawn(
            async move {
                let result = send_fetch(&client, node, request, options, &traffic).await;
                // The fetcher may be gone (consumer closed); nothing to do then.
                let _ = tx.send((plan, result));
            }
            .instrument(span),
        );
    }
}
