//! Fetch sessions (KIP-227), one per broker and lane: each of the fetches
//! that may be in flight to one broker at a time ([`super::lanes`]) keeps
//! its own session, since a session's requests go one after another.
//!
//! The first fetch to a broker is full and asks for a session (epoch 0).
//! Once the broker grants one, each later fetch names only the partitions
//! the broker's copy of the session does not already hold as they are
//! now: added partitions, and partitions whose fetch offset or epochs
//! changed. That includes a position that advanced because records were
//! handed out: the broker fetches from the offset it holds, so a new
//! position must be sent (as Kafka's Java client does). Partitions not in
//! a fetch (removed, paused, or with records still buffered and not
//! fetched ahead) go in `forgotten_topics_data`. The broker answers only partitions with news;
//! the rest of the session was read and had none.
//!
//! The session's state advances only with a successful answer (at most
//! one fetch per session is in flight). A partition that moves to another
//! lane is forgotten by the session it leaves with that session's next
//! fetch, so no two sessions answer for it. A fetch takes the lowest free
//! lane, so a caught-up consumer, whose long polls go alone, keeps all its
//! partitions in lane 0's session and its fetches incremental. FETCH_SESSION_ID_NOT_FOUND,
//! INVALID_FETCH_SESSION_EPOCH and FETCH_SESSION_TOPIC_ID_ERROR start a new
//! session with a full fetch; any other failure closes the session and
//! opens a new one in the same full fetch (id kept, epoch 0). A broker
//! that grants no session (id 0 in the answer, or Fetch below v7) gets
//! full fetches that keep asking for one. A topic id that changed (topic
//! recreated) also restarts the session: the broker keys sessions by id.
//! A closing consumer closes its sessions (epoch -1).
//! `durian.fetch.sessions=false` sends every fetch in full without a
//! session (id 0, epoch -1).

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use durian_core::{Error as CoreError, KafkaCode, SendOptions, Target, TrafficClass};
use kafka_protocol::messages::fetch_request::ForgottenTopic;
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{FetchTarget, Fetcher};
use crate::types::TopicPartition;

/// The epoch of a full fetch that opens a session.
const INITIAL_EPOCH: i32 = 0;
/// The epoch of a full fetch without a session (or closing one).
const FINAL_EPOCH: i32 = -1;

/// What the broker holds for one partition of a session: the request
/// fields last sent for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    topic_id: Uuid,
    fetch_offset: i64,
    current_leader_epoch: i32,
    last_fetched_epoch: i32,
}

impl Held {
    fn of(target: &FetchTarget) -> Held {
        Held {
            topic_id: target.topic_id,
            fetch_offset: target.fetch_offset,
            current_leader_epoch: target.current_leader_epoch,
            last_fetched_epoch: target.last_fetched_epoch,
        }
    }
}

/// The session with one broker.
#[derive(Debug, Default)]
struct BrokerSession {
    /// Session id; 0 while there is none.
    id: i32,
    /// Epoch of the next request; 0 makes it a full fetch opening a
    /// session (and closing `id` if set).
    next_epoch: i32,
    /// What the broker holds, as of the last answer.
    held: BTreeMap<TopicPartition, Held>,
}

/// How one fetch in flight uses its broker's session, and what the
/// broker holds once it is answered.
#[derive(Debug)]
pub(super) struct SessionUse {
    epoch: i32,
    session_id: i32,
    next: BTreeMap<TopicPartition, Held>,
}

impl SessionUse {
    /// A fetch outside any session, for tests that build plans by hand.
    #[cfg(test)]
    pub(super) fn none() -> SessionUse {
        SessionUse {
            epoch: FINAL_EPOCH,
            session_id: 0,
            next: BTreeMap::new(),
        }
    }

    fn full(&self) -> bool {
        self.epoch <= INITIAL_EPOCH
    }
}

/// The fetch sessions of one consumer, by broker and lane.
#[derive(Debug)]
pub(super) struct Sessions {
    enabled: bool,
    brokers: BTreeMap<(i32, usize), BrokerSession>,
}

impl Sessions {
    /// Sessions, or full fetches without any when `enabled` is false.
    pub(super) fn new(enabled: bool) -> Sessions {
        Sessions {
            enabled,
            brokers: BTreeMap::new(),
        }
    }

    /// Turns `request`, built for all of `targets`, into the next request
    /// of the session in `node`'s `lane`: only the changed partitions, the
    /// forgotten ones, the session id and epoch.
    pub(super) fn prepare(
        &mut self,
        node: i32,
        lane: usize,
        targets: &[FetchTarget],
        mut request: FetchRequest,
    ) -> (FetchRequest, SessionUse) {
        let next: BTreeMap<TopicPartition, Held> = targets
            .iter()
            .map(|t| {
                (
                    TopicPartition::new(t.topic.clone(), t.partition),
                    Held::of(t),
                )
            })
            .collect();
        if !self.enabled {
            let used = SessionUse {
                epoch: FINAL_EPOCH,
                session_id: 0,
                next,
            };
            return (
                request.with_session_id(0).with_session_epoch(FINAL_EPOCH),
                used,
            );
        }
        let session = self.brokers.entry((node, lane)).or_default();
        let recreated = next.iter().any(|(tp, now)| {
            session.held.get(tp).is_some_and(|held| {
                held.topic_id != now.topic_id && !held.topic_id.is_nil() && !now.topic_id.is_nil()
            })
        });
        if recreated {
            session.next_epoch = INITIAL_EPOCH;
        }
        let used = SessionUse {
            epoch: session.next_epoch,
            session_id: session.id,
            next,
        };
        request = request
            .with_session_id(session.id)
            .with_session_epoch(session.next_epoch);
        if used.full() {
            return (request, used);
        }
        // Only what the broker does not already hold as it is now.
        for topic in &mut request.topics {
            let name: Arc<str> = Arc::from(topic.topic.0.as_str());
            topic.partitions.retain(|p| {
                let tp = TopicPartition::new(name.clone(), p.partition);
                session.held.get(&tp) != used.next.get(&tp)
            });
        }
        request.topics.retain(|t| !t.partitions.is_empty());
        let mut forgotten: Vec<ForgottenTopic> = Vec::new();
        for (tp, held) in &session.held {
            if used.next.contains_key(tp) {
                continue;
            }
            match forgotten.last_mut() {
                Some(last) if last.topic.0.as_str() == &*tp.topic => {
                    last.partitions.push(tp.partition)
                }
                _ => forgotten.push(
                    ForgottenTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(tp.topic.to_string())))
                        .with_topic_id(held.topic_id)
                        .with_partitions(vec![tp.partition]),
                ),
            }
        }
        (request.with_forgotten_topics_data(forgotten), used)
    }

    /// Moves the session in `node`'s `lane` on by the outcome of the
    /// fetch that `used` it.
    pub(super) fn answered(
        &mut self,
        node: i32,
        lane: usize,
        used: &mut SessionUse,
        result: &Result<FetchResponse, CoreError>,
    ) {
        if !self.enabled {
            return;
        }
        let next = std::mem::take(&mut used.next);
        let session = self.brokers.entry((node, lane)).or_default();
        let session_error = |code: i16| {
            [
                KafkaCode::FETCH_SESSION_ID_NOT_FOUND,
                KafkaCode::INVALID_FETCH_SESSION_EPOCH,
                KafkaCode::FETCH_SESSION_TOPIC_ID_ERROR,
            ]
            .iter()
            .any(|c| c.0 == code)
        };
        match result {
            Ok(response) if response.error_code == 0 => {
                if used.full() {
                    session.id = response.session_id;
                    // No session granted: the next full fetch asks again.
                    session.next_epoch = if session.id == 0 { INITIAL_EPOCH } else { 1 };
                    session.held = if session.id == 0 {
                        BTreeMap::new()
                    } else {
                        next
                    };
                } else if response.session_id == used.session_id {
                    session.next_epoch = match used.epoch {
                        i32::MAX => 1,
                        epoch => epoch + 1,
                    };
                    session.held = next;
                } else {
                    *session = BrokerSession::default();
                }
            }
            Ok(response) if session_error(response.error_code) => {
                tracing::debug!(
                    node,
                    code = response.error_code,
                    "fetch session lost; starting over"
                );
                *session = BrokerSession::default();
            }
            _ => {
                // The broker may or may not have applied the request: close
                // the session and open a new one with the next fetch.
                session.next_epoch = INITIAL_EPOCH;
                session.held.clear();
            }
        }
    }

    /// The open sessions: broker and session id.
    pub(super) fn open(&self) -> Vec<(i32, i32)> {
        self.brokers
            .iter()
            .filter(|(_, s)| s.id != 0)
            .map(|((node, _), s)| (*node, s.id))
            .collect()
    }
}

impl Fetcher {
    /// Closes the fetch sessions of a closing consumer (epoch -1, no
    /// partitions), so they free their broker's cache slots at once
    /// rather than waiting for eviction. Best effort: failures are
    /// ignored, and each broker gets at most `fetch.max.wait.ms` plus a
    /// second. A broker answers a connection's requests in order, so where
    /// a fetch is still in flight (often a long poll, held up to
    /// `fetch.max.wait.ms`) the close goes on the admin connection instead:
    /// sessions belong to no connection, and closing must not wait it out.
    pub(crate) async fn close_sessions(&mut self) {
        let open = self.sessions.open();
        self.sessions.brokers.clear();
        let options = SendOptions {
            class: Some(TrafficClass::Fetch),
            timeout: Some(
                (self.config.fetch_max_wait + Duration::from_secs(1))
                    .min(self.config.client.request_timeout),
            ),
            ..SendOptions::default()
        };
        let closes = open.into_iter().map(|(node, id)| {
            let request = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(0)
                .with_session_id(id)
                .with_session_epoch(FINAL_EPOCH);
            let client = &self.client;
            let mut options = options.clone();
            if self.lanes.busy(node) {
                options.class = Some(TrafficClass::Admin);
            }
            async move {
                if let Err(error) = client
                    .send_with(Target::Broker(node), request, options)
                    .await
                {
                    tracing::debug!(node, %error, "closing a fetch session failed");
                }
            }
        });
        futures::future::join_all(closes).await;
    }
}
