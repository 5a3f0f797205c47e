//! Decoding the partitions of a consumer group member's assignment.
//!
//! The bytes come from the broker, which stores whatever the group leader
//! sent, so they are read with every count checked against the bytes left:
//! a malformed assignment yields `None`, never a panic or a huge allocation.
//!
//! Layout (ConsumerProtocolAssignment, all versions): version i16, then an
//! array (i32 count) of topics, each a string (i16 length) and an array of
//! i32 partitions, then user data (ignored).

use crate::types::TopicPartition;

/// The partitions in a consumer-protocol assignment, or `None` when the
/// bytes are not one.
pub(crate) fn decode_assignment(bytes: &[u8]) -> Option<Vec<TopicPartition>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut reader = Reader { rest: bytes };
    let version = reader.i16()?;
    if version < 0 {
        return None;
    }
    let topics = reader.count(2 + 4)?;
    let mut assignment = Vec::new();
    for _ in 0..topics {
        let length = usize::try_from(reader.i16()?).ok()?;
        let name = std::str::from_utf8(reader.take(length)?).ok()?.to_owned();
        let partitions = reader.count(4)?;
        for _ in 0..partitions {
            assignment.push(TopicPartition::new(name.clone(), reader.i32()?));
        }
    }
    Some(assignment)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        let bytes: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(i16::from_be_bytes(bytes))
    }

    fn i32(&mut self) -> Option<i32> {
        let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(i32::from_be_bytes(bytes))
    }

    /// An array count whose elements take at least `min_size` bytes each;
    /// a count the remaining bytes cannot hold is malformed.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let count = usize::try_from(self.i32()?).ok()?;
        (count.checked_mul(min_size)? <= self.rest.len()).then_some(count)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn encode(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut out = vec![0, 1];
        out.extend((topics.len() as i32).to_be_bytes());
        for (name, partitions) in topics {
            out.extend((name.len() as i16).to_be_bytes());
            out.extend(name.as_bytes());
            out.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
        out.extend((-1i32).to_be_bytes());
        out
    }

    #[test]
    fn decodes_topics_and_partitions() {
        let bytes = encode(&[("a", &[0, 2]), ("b", &[1])]);
        let decoded = decode_assignment(&bytes).unwrap();
        assert_eq!(
            decoded,
            [
                TopicPartition::new("a", 0),
                TopicPartition::new("a", 2),
                TopicPartition::new("b", 1)
            ]
        );
        assert_eq!(decode_assignment(&[]).unwrap(), []);
    }

    #[test]
    fn malformed_bytes_are_refused_without_allocating() {
        let bytes = encode(&[("a", &[0, 2])]);
        for cut in 1..bytes.len() - 4 {
            assert!(decode_assignment(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        // A count of two billion topics in a ten-byte message.
        let huge = [0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, b'a', 0];
        assert!(decode_assignment(&huge).is_none());
        assert!(decode_assignment(&[0xff, 0xff, 0, 0, 0, 0]).is_none());
    }
}
