//! Fetch sessions (KIP-227): the broker remembers, per session, which
//! partitions a client fetches and at which offsets, so the client's
//! later requests need only name what changed and the broker's answers
//! need only carry partitions with news.
//!
//! A request picks its session by `session_id` and `session_epoch`:
//!
//! | id | epoch | meaning |
//! |----|-------|---------|
//! | 0  | -1    | full fetch, no session |
//! | n  | -1    | close session n, then a full fetch without a session |
//! | any| 0     | close session n if named, then a full fetch that opens a new session (id 0 in the answer when the cache has no room) |
//! | n  | k > 0 | incremental fetch in session n; k must be the epoch the session expects next, else INVALID_FETCH_SESSION_EPOCH; an unknown n is FETCH_SESSION_ID_NOT_FOUND |
//! | 0  | k > 0 | INVALID_FETCH_SESSION_EPOCH |
//!
//! An incremental request adds or updates the partitions it names and
//! drops those in `forgotten_topics_data`; the broker then reads every
//! partition of the session, and answers with only those that have
//! records, an error, or a high watermark, last stable offset or log
//! start offset other than the one last sent in this session.
//!
//! Sessions are keyed by topic id when created at Fetch v13+ and by topic
//! name below; a request of the other kind is FETCH_SESSION_TOPIC_ID_ERROR.
//! Like Kafka's, sessions are not tied to a connection or a principal:
//! each request is authorized for every partition it reads, whoever
//! opened the session. A session belongs to the node that created it
//! (an in-process cluster shares one cache between its nodes).
//!
//! The cache holds at most `max.incremental.fetch.session.cache.slots`
//! sessions ([`eviction`] says which one a new session may replace).

mod eviction;
mod session;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use session::{PartitionKey, Session};

/// Kafka's default for `max.incremental.fetch.session.cache.slots`.
pub const DEFAULT_SLOTS: usize = 1000;

/// A session unused this long may be evicted by any new one (Kafka's
/// `min.incremental.fetch.session.eviction.ms` default).
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// The epoch that asks for a full fetch without a session.
const FINAL_EPOCH: i32 = -1;
/// The epoch that asks for a full fetch opening a new session.
const INITIAL_EPOCH: i32 = 0;

/// What a Fetch request says about sessions, and what it names.
#[derive(Debug)]
pub struct SessionRequest {
    /// `session_id` of the request.
    pub session_id: i32,
    /// `session_epoch` of the request.
    pub epoch: i32,
    /// Whether topics are named by id (Fetch v13+).
    pub uses_topic_ids: bool,
    /// The node answering.
    pub node: i32,
    /// The partitions the request names.
    pub topics: Vec<FetchTopic>,
    /// `forgotten_topics_data`.
    pub forgotten: Vec<ForgottenTopic>,
}

/// How the answer to a request relates to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionContext {
    /// Full answer, session id 0.
    Sessionless,
    /// Full answer that opened session `id`, whose response state it records.
    Created {
        /// The new session.
        id: i32,
    },
    /// Answer in session `id` with only the partitions that changed.
    Incremental {
        /// The session.
        id: i32,
    },
}

impl SessionContext {
    /// The `session_id` of the answer.
    pub fn session_id(&self) -> i32 {
        match self {
            SessionContext::Sessionless => 0,
            SessionContext::Created { id } | SessionContext::Incremental { id } => *id,
        }
    }
}

/// A request admitted by the cache: how to answer, and every partition
/// to read (for an incremental fetch, the whole session).
#[derive(Debug)]
pub struct Begun {
    /// How the answer relates to a session.
    pub context: SessionContext,
    /// The partitions to read, grouped by topic.
    pub topics: Vec<FetchTopic>,
}

/// The broker's fetch sessions, bounded by a number of slots.
#[derive(Debug)]
pub struct FetchSessionCache {
    slots: usize,
    sessions: Mutex<HashMap<i32, Session>>,
}

impl FetchSessionCache {
    /// A cache of at most `slots` sessions (0 turns sessions off: every
    /// request to open one is answered with session id 0).
    pub fn new(slots: usize) -> FetchSessionCache {
        FetchSessionCache {
            slots,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Sessions held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Session>> {
        // A panic while holding the lock leaves the map consistent (every
        // update is a single insert or remove), so a poisoned lock is used.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a request: creates, closes or advances a session as its id
    /// and epoch say, or refuses it with a session error.
    pub fn begin(&self, request: SessionRequest, now: Instant) -> Result<Begun, ResponseError> {
        let mut sessions = self.lock();
        match (request.session_id, request.epoch) {
            (id, FINAL_EPOCH) => {
                if id != 0 {
                    sessions.remove(&id);
                }
                Ok(Begun {
                    context: SessionContext::Sessionless,
                    topics: request.topics,
                })
            }
            (id, INITIAL_EPOCH) => {
                if id != 0 {
                    sessions.remove(&id);
                }
                let session = Session::new(&request, now);
                let context = match eviction::make_room(&mut sessions, self.slots, &session, now) {
                    true => {
                        let id = session::new_id(|id| sessions.contains_key(&id));
                        sessions.insert(id, session);
                        SessionContext::Created { id }
                    }
                    false => SessionContext::Sessionless,
                };
                Ok(Begun {
                    context,
                    topics: request.topics,
                })
            }
            (0, _) => Err(ResponseError::InvalidFetchSessionEpoch),
            (id, epoch) => {
                let session = sessions
                    .get_mut(&id)
                    .filter(|s| s.node == request.node)
                    .ok_or(ResponseError::FetchSessionIdNotFound)?;
                if session.next_epoch != epoch {
                    return Err(ResponseError::InvalidFetchSessionEpoch);
                }
                if session.uses_topic_ids != request.uses_topic_ids {
                    return Err(ResponseError::FetchSessionTopicIdError);
                }
                session.update(&request, now);
                Ok(Begun {
                    context: SessionContext::Incremental { id },
                    topics: session.topics(),
                })
            }
        }
    }

    /// Records what an answer tells the client and, for an incremental
    /// fetch, keeps only the partitions with news.
    pub fn finish(
        &self,
        context: SessionContext,
        responses: Vec<FetchableTopicResponse>,
    ) -> Vec<FetchableTopicResponse> {
        let (id, incremental) = match context {
            SessionContext::Sessionless => return responses,
            SessionContext::Created { id } => (id, false),
            SessionContext::Incremental { id } => (id, true),
        };
        let mut sessions = self.lock();
        let Some(session) = sessions.get_mut(&id) else {
            // Evicted while the fetch waited: the client learns on its
            // next request; this answer goes out in full.
            return responses;
        };
        let uses_ids = session.uses_topic_ids;
        responses
            .into_iter()
            .filter_map(|mut topic| {
                let partitions = std::mem::take(&mut topic.partitions);
                topic.partitions = partitions
                    .into_iter()
                    .filter(|p| {
                        let key = PartitionKey::of_response(&topic, p.partition_index, uses_ids);
                        let changed = session.record(&key, p);
                        changed || !incremental
                    })
                    .collect();
                (!topic.partitions.is_empty() || !incremental).then_some(topic)
            })
            .collect()
    }
}
