//! Reading the topic list out of a consumer's subscription metadata.
//!
//! Group metadata is opaque to the coordinator except here: OffsetDelete must refuse to
//! delete offsets of topics an active consumer group still subscribes to, and the topics
//! are only written down in the members' `ConsumerProtocolSubscription` (version i16,
//! then an array of topic names, then fields this reader ignores).

use std::collections::HashSet;

/// The topics named by a `consumer` protocol subscription; `None` if the bytes are not one.
pub(crate) fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut rest = metadata;
    let version = i16::from_be_bytes(take(&mut rest, 2)?.try_into().ok()?);
    if version < 0 {
        return None;
    }
    let count = i32::from_be_bytes(take(&mut rest, 4)?.try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    // Each name needs at least its 2-byte length: a count beyond that is corrupt.
    if count > rest.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i16::from_be_bytes(take(&mut rest, 2)?.try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        let name = std::str::from_utf8(take(&mut rest, len)?).ok()?;
        topics.push(name.to_owned());
    }
    Some(topics)
}

fn take<'a>(rest: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if len > rest.len() {
        return None;
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Some(head)
}

/// The union of the topics in several subscriptions; `None` if any of them is unreadable.
pub(crate) fn union_of<'a>(
    metadata: impl IntoIterator<Item = &'a [u8]>,
) -> Option<HashSet<String>> {
    let mut all = HashSet::new();
    for bytes in metadata {
        all.extend(subscribed_topics(bytes)?);
    }
    Some(all)
}

#[cfg(test)]
pub(crate) fn encode_subscription(topics: &[&str]) -> bytes::Bytes {
    use bytes::BufMut;
    let mut buf = bytes::BytesMut::new();
    buf.put_i16(1);
    buf.put_i32(topics.len() as i32);
    for topic in topics {
        buf.put_i16(topic.len() as i16);
        buf.put_slice(topic.as_bytes());
    }
    buf.put_i32(-1); // user data: null
    buf.put_i32(0); // owned partitions (v1)
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_subscription_topics_are_read() {
        let bytes = encode_subscription(&["orders", "payments"]);
        assert_eq!(
            subscribed_topics(&bytes),
            Some(vec!["orders".to_owned(), "payments".to_owned()])
        );
    }

    #[test]
    fn group_subscription_rejects_garbage_without_allocating() {
        assert_eq!(subscribed_topics(&[]), None);
        assert_eq!(subscribed_topics(&[0, 1, 0x7f, 0xff, 0xff, 0xff]), None);
        let bytes = encode_subscription(&["orders"]);
        assert_eq!(subscribed_topics(&bytes[..8]), None);
    }
}
