//! Encodes a FetchResponse as pieces that reference the partitions'
//! record bytes instead of copying them.
//!
//! ```text
//!  [throttle, .., partition 0 fields, records length] [records 0] [tags, partition 1 .., records length] [records 1] [..]
//!   └────────── structure (kafka-protocol's encoding) ──┘ └ Bytes read from the segment ┘
//! ```
//!
//! kafka-protocol's encoder copies every partition's records into one
//! growing body buffer, which the framing then copied once more: for a
//! full 55 MiB fetch, about three copies of every record byte after the
//! segment read, and three such buffers alive at once. Here the record
//! bytes go to the socket as the `Bytes` the segment read produced.
//!
//! The structure is still kafka-protocol's own encoding, so every field,
//! tagged field and version rule stays exactly as it was: the response is
//! encoded twice without the large records, once with those fields null
//! and once empty. A nullable bytes field's length has the same width
//! either way (a big-endian i32 -1 or 0, or in flexible versions an
//! unsigned varint 0 or 1), so the two encodings differ exactly at the
//! records' length fields, which locates them. The structure is cut
//! there, each length written for the real records and the records
//! spliced in. Should the two encodings ever differ anywhere else, the
//! response is encoded whole, as before, rather than sent wrong.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::FetchResponse;

use super::{encode_body, encode_bytes, HandlerError, Reply};

/// Records shorter than this are left in the structure: copying a few
/// hundred bytes costs less than a piece of its own (an allocation for the
/// cut and one more `iovec` entry).
pub const INLINE_RECORDS_BYTES: usize = 512;

/// First version whose PartitionData.records is a compact (varint length) field.
const FIRST_FLEXIBLE: i16 = 12;

/// Encodes `response` at `version` as pieces whose concatenation is
/// exactly kafka-protocol's encoding of it.
pub fn encode_parts(mut response: FetchResponse, version: i16) -> Result<Reply, HandlerError> {
    let taken = take_records(&mut response);
    if taken.is_empty() {
        return encode_body(&response, version);
    }
    let with_null = encode_bytes(&response, version)?;
    set_records(&mut response, &taken, |_| Some(Bytes::new()));
    let with_empty = encode_bytes(&response, version)?;
    let flexible = version >= FIRST_FLEXIBLE;
    let records: Vec<&Bytes> = taken.iter().map(|t| &t.records).collect();
    match splice(&with_null, &with_empty, &records, flexible) {
        Some(parts) => Ok(Reply::Parts(parts)),
        None => {
            tracing::warn!(
                version,
                "fetch response structure did not locate its records; encoding it whole"
            );
            set_records(&mut response, &taken, |t| Some(t.records.clone()));
            encode_body(&response, version)
        }
    }
}

/// Records taken out of the response for sending by reference, with the
/// place they came from.
struct Taken {
    topic: usize,
    partition: usize,
    records: Bytes,
}

/// Takes the records of at least [`INLINE_RECORDS_BYTES`] out of
/// `response` (leaving null in their place), in wire order.
fn take_records(response: &mut FetchResponse) -> Vec<Taken> {
    let mut taken = Vec::new();
    for (t, topic) in response.responses.iter_mut().enumerate() {
        for (p, partition) in topic.partitions.iter_mut().enumerate() {
            if partition
                .records
                .as_ref()
                .is_some_and(|r| r.len() >= INLINE_RECORDS_BYTES)
            {
                if let Some(records) = partition.records.take() {
                    taken.push(Taken {
                        topic: t,
                        partition: p,
                        records,
                    });
                }
            }
        }
    }
    taken
}

/// Sets the records field of every taken partition to `value(taken)`.
fn set_records(
    response: &mut FetchResponse,
    taken: &[Taken],
    value: impl Fn(&Taken) -> Option<Bytes>,
) {
    for t in taken {
        if let Some(partition) = response
            .responses
            .get_mut(t.topic)
            .and_then(|topic| topic.partitions.get_mut(t.partition))
        {
            partition.records = value(t);
        }
    }
}

/// Cuts `with_empty` at the records fields where it differs from
/// `with_null` and splices each of `records` in, with its length; `None`
/// unless the encodings differ exactly at one length field per record.
fn splice(
    with_null: &[u8],
    with_empty: &Bytes,
    records: &[&Bytes],
    flexible: bool,
) -> Option<Vec<Bytes>> {
    let (null, empty): (&[u8], &[u8]) = if flexible {
        (&[0], &[1])
    } else {
        (&[0xff; 4], &[0; 4])
    };
    let width = null.len();
    if with_null.len() != with_empty.len() {
        return None;
    }
    let mut parts = Vec::with_capacity(2 * records.len() + 1);
    // Structure, with the real lengths, is rebuilt here (small: no records).
    let mut structure = BytesMut::with_capacity(with_empty.len() + 5 * records.len());
    let mut from = 0;
    let mut next = records.iter();
    while let Some(at) = first_difference(&with_null[from..], &with_empty[from..]) {
        let at = from + at;
        let field = at..at + width;
        if with_null.get(field.clone())? != null || with_empty.get(field)? != empty {
            return None;
        }
        let records = next.next()?;
        structure.put_slice(&with_empty[from..at]);
        put_length(&mut structure, records.len(), flexible)?;
        parts.push(structure.split().freeze());
        parts.push(Bytes::clone(records));
        from = at + width;
    }
    if next.next().is_some() {
        return None;
    }
    structure.put_slice(&with_empty[from..]);
    parts.push(structure.freeze());
    Some(parts)
}

/// Index of the first byte where `a` and `b` (of equal length) differ.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// A non-null bytes field's length as kafka-protocol writes it: an
/// unsigned varint of `len + 1` in flexible versions, else a big-endian i32.
fn put_length(buf: &mut BytesMut, len: usize, flexible: bool) -> Option<()> {
    if flexible {
        let mut value = u32::try_from(len).ok()?.checked_add(1)?;
        while value >= 0x80 {
            buf.put_u8((value as u8) | 0x80);
            value >>= 7;
        }
        buf.put_u8(value as u8);
    } else {
        buf.put_i32(i32::try_from(len).ok()?);
    }
    Some(())
}

#[cfg(test)]
mod tests;
