//! The consumer protocol's bytes inside JoinGroup and SyncGroup.
//!
//! Subscriptions (JoinGroup metadata) and assignments (SyncGroup) are
//! opaque to the broker; every client of a group must read the others'.
//! Both start with an `i16` version. durian writes
//! ConsumerProtocolSubscription v3 and ConsumerProtocolAssignment v3, as
//! the Java client does, and reads v0 and newer: fields added after v3 are
//! appended at the end, so a newer version is read as v3 and the rest
//! ignored.
//!
//! Decoding is durian's own: these bytes come from other members, and each
//! array count is checked against the bytes left before anything is
//! allocated.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::types::TopicPartition;

/// The subscription version durian writes.
pub const SUBSCRIPTION_VERSION: i16 = 3;
/// The assignment version durian writes.
pub const ASSIGNMENT_VERSION: i16 = 3;

/// A decoded subscription.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Opaque assignor data.
    pub user_data: Option<Bytes>,
    /// Partitions owned (v1+).
    pub owned: Vec<TopicPartition>,
    /// Generation of the owned partitions (v2+, else -1).
    pub generation: i32,
    /// The member's rack (v3+).
    pub rack: Option<String>,
}

/// Malformed consumer-protocol bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed consumer protocol {what}: {reason}")]
pub struct ProtocolDecodeError {
    what: &'static str,
    reason: String,
}

/// Encodes a subscription (with its version prefix).
pub fn encode_subscription(subscription: &Subscription) -> Result<Bytes, String> {
    let message = ConsumerProtocolSubscription::default()
        .with_topics(
            subscription
                .topics
                .iter()
                .map(|t| StrBytes::from_string(t.clone()))
                .collect(),
        )
        .with_user_data(subscription.user_data.clone())
        .with_owned_partitions(
            group_by_topic(&subscription.owned)
                .into_iter()
                .map(|(topic, partitions)| {
                    OwnedTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(topic)))
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_generation_id(subscription.generation)
        .with_rack_id(subscription.rack.clone().map(StrBytes::from_string));
    encode_versioned(&message, SUBSCRIPTION_VERSION)
}

/// Encodes an assignment (with its version prefix).
pub fn encode_assignment(partitions: &[TopicPartition]) -> Result<Bytes, String> {
    let message = ConsumerProtocolAssignment::default().with_assigned_partitions(
        group_by_topic(partitions)
            .into_iter()
            .map(|(topic, partitions)| {
                AssignedTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(partitions)
            })
            .collect(),
    );
    encode_versioned(&message, ASSIGNMENT_VERSION)
}

fn encode_versioned<M: Encodable>(message: &M, version: i16) -> Result<Bytes, String> {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&version.to_be_bytes());
    message
        .encode(&mut buf, version)
        .map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

fn group_by_topic(partitions: &[TopicPartition]) -> BTreeMap<String, Vec<i32>> {
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic
            .entry(tp.topic.to_string())
            .or_default()
            .push(tp.partition);
    }
    for list in by_topic.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    by_topic
}

/// Decodes a subscription written by any client.
pub fn decode_subscription(bytes: &[u8]) -> Result<Subscription, ProtocolDecodeError> {
    let mut reader = Reader {
        buf: bytes,
        what: "subscription",
    };
    let version = reader.i16()?;
    if version < 0 {
        return Err(reader.error(format!("negative version {version}")));
    }
    let mut subscription = Subscription {
        generation: -1,
        ..Subscription::default()
    };
    let topics = reader.count(2)?;
    for _ in 0..topics {
        subscription.topics.push(reader.string()?);
    }
    subscription.user_data = reader.nullable_bytes()?;
    if version >= 1 {
        subscription.owned = reader.topic_partitions()?;
    }
    if version >= 2 {
        subscription.generation = reader.i32()?;
    }
    if version >= 3 {
        subscription.rack = reader.nullable_string()?;
    }
    Ok(subscription)
}

/// Decodes an assignment written by any client; empty bytes (what a
/// coordinator sends to a member the leader left out) mean nothing assigned.
pub fn decode_assignment(bytes: &[u8]) -> Result<Vec<TopicPartition>, ProtocolDecodeError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = Reader {
        buf: bytes,
        what: "assignment",
    };
    let version = reader.i16()?;
    if version < 0 {
        return Err(reader.error(format!("negative version {version}")));
    }
    reader.topic_partitions()
}

/// A bounds-checked big-endian reader.
struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: impl Into<String>) -> ProtocolDecodeError {
        ProtocolDecodeError {
            what: self.what,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolDecodeError> {
        if self.buf.len() < n {
            return Err(self.error(format!("needs {n} more bytes, {} left", self.buf.len())));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, ProtocolDecodeError> {
        let bytes = self.take(2)?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn i32(&mut self) -> Result<i32, ProtocolDecodeError> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// An array count, refused when `count * min_element` exceeds the bytes left.
    fn count(&mut self, min_element: usize) -> Result<usize, ProtocolDecodeError> {
        let count = self.i32()?;
        let count = usize::try_from(count).unwrap_or(0);
        if count.saturating_mul(min_element) > self.buf.len() {
            return Err(self.error(format!(
                "array of {count} elements in {} bytes",
                self.buf.len()
            )));
        }
        Ok(count)
    }

    fn string(&mut self) -> Result<String, ProtocolDecodeError> {
        self.nullable_string()?
            .ok_or_else(|| self.error("null string"))
    }

    fn nullable_string(&mut self) -> Result<Option<String>, ProtocolDecodeError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| self.error("string is not UTF-8"))
    }

    fn nullable_bytes(&mut self) -> Result<Option<Bytes>, ProtocolDecodeError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        Ok(Some(Bytes::copy_from_slice(self.take(len as usize)?)))
    }

    fn topic_partitions(&mut self) -> Result<Vec<TopicPartition>, ProtocolDecodeError> {
        let topics = self.count(6)?;
        let mut out = Vec::new();
        for _ in 0..topics {
            let topic: Arc<str> = Arc::from(self.string()?);
            let partitions = self.count(4)?;
            for _ in 0..partitions {
                out.push(TopicPartition::new(topic.clone(), self.i32()?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Decodable;

    fn sample() -> Subscription {
        Subscription {
            topics: vec!["orders".into(), "users".into()],
            user_data: Some(Bytes::from_static(b"\x01\x02")),
            owned: vec![
                TopicPartition::new("orders", 2),
                TopicPartition::new("orders", 0),
            ],
            generation: 7,
            rack: Some("r1".into()),
        }
    }

    #[test]
    fn subscription_round_trips_and_matches_the_reference_decoder() {
        let bytes = encode_subscription(&sample()).unwrap();
        let decoded = decode_subscription(&bytes).unwrap();
        assert_eq!(decoded.topics, sample().topics);
        assert_eq!(decoded.generation, 7);
        assert_eq!(decoded.rack.as_deref(), Some("r1"));
        assert_eq!(
            decoded.owned,
            [
                TopicPartition::new("orders", 0),
                TopicPartition::new("orders", 2)
            ]
        );
        let mut body = bytes.slice(2..);
        let reference = ConsumerProtocolSubscription::decode(&mut body, 3).unwrap();
        assert_eq!(reference.generation_id, 7);
        assert_eq!(reference.owned_partitions[0].partitions, [0, 2]);
    }

    #[test]
    fn version_zero_subscription_has_no_owned_partitions() {
        // What an old client sends: version 0, one topic, null user data.
        let bytes = [0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
        let decoded = decode_subscription(&bytes).unwrap();
        assert_eq!(decoded.topics, ["t"]);
        assert!(decoded.owned.is_empty() && decoded.user_data.is_none());
        assert_eq!(decoded.generation, -1);
    }

    #[test]
    fn newer_versions_are_read_as_v3() {
        let mut bytes = encode_subscription(&sample()).unwrap().to_vec();
        bytes[1] = 9;
        bytes.extend_from_slice(b"future fields");
        assert_eq!(
            decode_subscription(&bytes).unwrap().rack.as_deref(),
            Some("r1")
        );
    }

    #[test]
    fn assignment_round_trips_and_empty_means_nothing() {
        let parts = [TopicPartition::new("a", 1), TopicPartition::new("b", 0)];
        let bytes = encode_assignment(&parts).unwrap();
        assert_eq!(decode_assignment(&bytes).unwrap(), parts);
        assert!(decode_assignment(&[]).unwrap().is_empty());
    }

    #[test]
    fn huge_counts_and_truncation_are_errors() {
        let huge = [0, 0, 0x7f, 0xff, 0xff, 0xff];
        assert!(decode_subscription(&huge).is_err());
        assert!(decode_assignment(&huge).is_err());
        let bytes = encode_subscription(&sample()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_subscription(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
