//! Which session a new one may replace when the cache is full.
//!
//! A simplified form of Kafka's rule, without its privileged (follower)
//! sessions, which durian does not have:
//!
//! 1. a session unused for [`STALE_AFTER`] is evicted first (the least
//!    recently used of them);
//! 2. otherwise the smallest session (fewest partitions, then least
//!    recently used) is evicted if the new one is bigger: a bigger
//!    session saves more request and response bytes;
//! 3. otherwise the new session is not created (the client gets session
//!    id 0 and keeps sending full fetches).

use std::collections::HashMap;

use tokio::time::Instant;

use super::session::Session;
use super::STALE_AFTER;

/// Makes room for `new` in `sessions` (at most `slots`) by evicting one
/// session if the rule allows; false when there is no room.
pub(super) fn make_room(
    sessions: &mut HashMap<i32, Session>,
    slots: usize,
    new: &Session,
    now: Instant,
) -> bool {
    if sessions.len() < slots {
        return true;
    }
    if slots == 0 {
        return false;
    }
    let stale = sessions
        .iter()
        .filter(|(_, s)| now.saturating_duration_since(s.last_used) >= STALE_AFTER)
        .min_by_key(|(id, s)| (s.last_used, **id))
        .map(|(id, _)| *id);
    let victim = stale.or_else(|| {
        sessions
            .iter()
            .min_by_key(|(id, s)| (s.size(), s.last_used, **id))
            .filter(|(_, s)| s.size() < new.size())
            .map(|(id, _)| *id)
    });
    match victim {
        Some(id) => {
            tracing::debug!(session = id, "evicting a fetch session to make room");
            sessions.remove(&id);
            true
        }
        None => false,
    }
}
