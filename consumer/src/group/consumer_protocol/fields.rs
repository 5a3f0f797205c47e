//! ConsumerGroupHeartbeat requests as a pure function of what the member
//! wants the coordinator to know and what it last told it.
//!
//! A join (epoch 0) and the first heartbeat after an error carry every
//! field; afterwards a field is sent only when it changed, so that the
//! coordinator does the least work per heartbeat (KIP-848: null means
//! "unchanged").

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

/// The member epoch that leaves the group (partitions reassigned at once).
pub const LEAVE_EPOCH: i32 = -1;
/// The member epoch a static member leaves with: the coordinator keeps
/// its assignment for a restart within the session timeout.
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// What the member subscribes to, as the coordinator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// Topic names.
    Topics(BTreeSet<String>),
    /// A regular expression the coordinator evaluates (v1+).
    Regex(String),
}

/// Every field the member may have to tell the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `client.rack`.
    pub rack: Option<String>,
    /// `max.poll.interval.ms`, in milliseconds.
    pub rebalance_timeout_ms: i32,
    /// The subscription.
    pub subscribed: Subscribed,
    /// `group.remote.assignor`.
    pub assignor: Option<String>,
    /// Owned partitions by topic id: the acknowledgement of reconciliation.
    pub owned: BTreeMap<Uuid, BTreeSet<i32>>,
}

fn s(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

/// The heartbeat of `member_id` at `epoch`. `last` is what the previous
/// successful heartbeat of this epoch's session carried; `None` sends
/// everything.
pub fn heartbeat_request(
    group_id: &str,
    member_id: &str,
    epoch: i32,
    fields: &Fields,
    last: Option<&Fields>,
) -> ConsumerGroupHeartbeatRequest {
    let full = last.is_none() || epoch == 0;
    // Whether a field must go out: always when sending everything,
    // otherwise when it differs from what the coordinator last heard.
    let send = |same: &dyn Fn(&Fields) -> bool| full || last.is_some_and(|l| !same(l));
    let mut request = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_member_id(s(member_id))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(-1);
    if send(&|l| l.instance_id == fields.instance_id) {
        request.instance_id = fields.instance_id.as_deref().map(s);
    }
    if send(&|l| l.rack == fields.rack) {
        request.rack_id = fields.rack.as_deref().map(s);
    }
    if send(&|l| l.rebalance_timeout_ms == fields.rebalance_timeout_ms) {
        request.rebalance_timeout_ms = fields.rebalance_timeout_ms;
    }
    if send(&|l| l.subscribed == fields.subscribed) {
        match &fields.subscribed {
            Subscribed::Topics(topics) => {
                request.subscribed_topic_names =
                    Some(topics.iter().map(|t| TopicName(s(t))).collect());
            }
            Subscribed::Regex(regex) => request.subscribed_topic_regex = Some(s(regex)),
        }
    }
    if send(&|l| l.assignor == fields.assignor) {
        request.server_assignor = fields.assignor.as_deref().map(s);
    }
    if epoch == 0 {
        // A (re)joining member owns nothing as far as the coordinator knows.
        request.topic_partitions = Some(Vec::new());
    } else if send(&|l| l.owned == fields.owned) {
        request.topic_partitions = Some(
            fields
                .owned
                .iter()
                .map(|(id, partitions)| {
                    TopicPartitions::default()
                        .with_topic_id(*id)
                        .with_partitions(partitions.iter().copied().collect())
                })
                .collect(),
        );
    }
    request
}

/// The request that leaves the group: only the identity and the epoch.
pub fn leave_request(
    group_id: &str,
    member_id: &str,
    instance_id: Option<&str>,
    epoch: i32,
) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group_id)))
        .with_member_id(s(member_id))
        .with_member_epoch(epoch)
        .with_instance_id(instance_id.map(s))
        .with_rebalance_timeout_ms(-1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            instance_id: Some("i".into()),
            rack: Some("r".into()),
            rebalance_timeout_ms: 300_000,
            subscribed: Subscribed::Topics(["a".to_owned(), "b".to_owned()].into()),
            assignor: Some("uniform".into()),
            owned: BTreeMap::new(),
        }
    }

    #[test]
    fn a_join_carries_every_field() {
        let request = heartbeat_request("g", "m", 0, &fields(), None);
        assert_eq!(request.member_epoch, 0);
        assert_eq!(request.instance_id.as_deref(), Some("i"));
        assert_eq!(request.rack_id.as_deref(), Some("r"));
        assert_eq!(request.rebalance_timeout_ms, 300_000);
        assert_eq!(request.subscribed_topic_names.as_ref().unwrap().len(), 2);
        assert_eq!(request.server_assignor.as_deref(), Some("uniform"));
        assert_eq!(request.topic_partitions, Some(Vec::new()));
        // Even with a previous session's fields, epoch 0 sends all.
        let again = heartbeat_request("g", "m", 0, &fields(), Some(&fields()));
        assert_eq!(again, request);
    }

    #[test]
    fn later_heartbeats_send_only_what_changed() {
        let last = fields();
        let request = heartbeat_request("g", "m", 5, &last, Some(&last));
        assert_eq!(request.member_epoch, 5);
        assert_eq!(request.instance_id, None);
        assert_eq!(request.rack_id, None);
        assert_eq!(request.rebalance_timeout_ms, -1);
        assert_eq!(request.subscribed_topic_names, None);
        assert_eq!(request.subscribed_topic_regex, None);
        assert_eq!(request.server_assignor, None);
        assert_eq!(request.topic_partitions, None);

        let mut now = last.clone();
        let topic = Uuid::from_u128(7);
        now.owned.insert(topic, [2, 0].into());
        now.subscribed = Subscribed::Regex("^(?:a.*)$".into());
        let request = heartbeat_request("g", "m", 5, &now, Some(&last));
        let owned = request.topic_partitions.unwrap();
        assert_eq!(owned.len(), 1);
        assert_eq!(owned[0].topic_id, topic);
        assert_eq!(owned[0].partitions, [0, 2]);
        assert_eq!(request.subscribed_topic_regex.as_deref(), Some("^(?:a.*)$"));
        assert_eq!(request.subscribed_topic_names, None);
        assert_eq!(request.instance_id, None);
    }

    #[test]
    fn after_an_error_everything_is_sent_again() {
        let mut now = fields();
        now.owned.insert(Uuid::from_u128(1), [0].into());
        let request = heartbeat_request("g", "m", 3, &now, None);
        assert_eq!(request.instance_id.as_deref(), Some("i"));
        assert_eq!(request.rebalance_timeout_ms, 300_000);
        assert_eq!(request.topic_partitions.unwrap().len(), 1);
    }

    #[test]
    fn leaving_names_the_epoch() {
        let request = leave_request("g", "m", Some("i"), STATIC_LEAVE_EPOCH);
        assert_eq!(request.member_epoch, -2);
        assert_eq!(request.instance_id.as_deref(), Some("i"));
        assert_eq!(request.subscribed_topic_names, None);
        assert_eq!(leave_request("g", "m", None, LEAVE_EPOCH).member_epoch, -1);
    }
}
