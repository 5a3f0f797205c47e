//! One member of a consumer-protocol group: its subscription, session and reconciliation.

use std::collections::BTreeSet;
use std::time::Duration;

use regex::Regex;
use tokio::time::Instant;

use super::assignor::TopicsMeta;
use super::reconcile::Reconciliation;
use crate::group::member::ClientInfo;

/// The epoch a static member reports when it leaves for a while (KIP-848): it keeps its
/// assignment until its session expires.
pub(crate) const STATIC_LEAVE_EPOCH: i32 = -2;
/// The epoch a member reports when it leaves for good.
pub(crate) const LEAVE_EPOCH: i32 = -1;

/// A subscription regex as the member sent it, with its compiled full-match form.
#[derive(Debug, Clone)]
pub(crate) struct TopicRegex {
    pub source: String,
    compiled: Regex,
}

impl TopicRegex {
    /// Compiles `source` to match whole topic names (Java's `Matcher.matches()`); `None`
    /// when it is not a valid pattern for the `regex` crate.
    pub fn new(source: &str) -> Option<TopicRegex> {
        let compiled = Regex::new(&format!("^(?:{source})$")).ok()?;
        Some(TopicRegex {
            source: source.to_owned(),
            compiled,
        })
    }

    /// Whether the topic name matches.
    pub fn matches(&self, topic: &str) -> bool {
        self.compiled.is_match(topic)
    }
}

/// A member of a consumer-protocol group.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client: ClientInfo,
    pub rebalance_timeout: Duration,
    /// Topic names as subscribed (whether they exist or not), sorted.
    pub subscribed_names: BTreeSet<String>,
    pub subscribed_regex: Option<TopicRegex>,
    /// Existing topics the regex matched at the member's last heartbeat.
    pub regex_matches: BTreeSet<String>,
    pub server_assignor: Option<String>,
    pub reconciliation: Reconciliation,
    pub session_deadline: Instant,
    /// Set while the member has partitions to revoke: it is removed if it has not revoked
    /// them by then.
    pub revocation_deadline: Option<Instant>,
}

impl ConsumerMember {
    /// A member that has just joined with epoch 0.
    pub fn new(id: String, client: ClientInfo, now: Instant, session: Duration) -> Self {
        ConsumerMember {
            id,
            instance_id: None,
            rack_id: None,
            client,
            rebalance_timeout: Duration::from_secs(300),
            subscribed_names: BTreeSet::new(),
            subscribed_regex: None,
            regex_matches: BTreeSet::new(),
            server_assignor: None,
            reconciliation: Reconciliation::joining(),
            session_deadline: now + session,
            revocation_deadline: None,
        }
    }

    /// The member's epoch (-2 while a static member is away).
    pub fn epoch(&self) -> i32 {
        self.reconciliation.epoch
    }

    /// Every topic name the member subscribes to: its names and its regex's matches.
    pub fn topics(&self) -> BTreeSet<String> {
        self.subscribed_names
            .union(&self.regex_matches)
            .cloned()
            .collect()
    }

    /// Re-evaluates the regex against the broker's topics; true if the matches changed.
    pub fn resolve_regex(&mut self, catalog: &TopicsMeta) -> bool {
        let matches: BTreeSet<String> = match &self.subscribed_regex {
            Some(regex) => catalog
                .keys()
                .filter(|name| regex.matches(name))
                .cloned()
                .collect(),
            None => BTreeSet::new(),
        };
        let changed = matches != self.regex_matches;
        self.regex_matches = matches;
        changed
    }
}
