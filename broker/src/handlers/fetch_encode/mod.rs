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
//!
//! On plaintext connections the fetch handler does not read the records:
//! a records field then holds a placeholder ([`file_token`]) naming a
//! range of a segment file, and the piece spliced in is that range, which
//! the connection sends with `sendfile`. A placeholder is shorter than
//! any record batch (61 bytes at least), so it cannot be taken for
//! records.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::FetchResponse;

use super::fetch::FetchAnswer;
use super::{encode_body, encode_bytes, EncodeError, HandlerError, Reply};
use crate::server::frame::Piece;
use crate::storage::FileRange;

/// Records shorter than this are left in the structure: copying a few
/// hundred bytes costs less than a piece of its own (an allocation for the
/// cut and one more `iovec` entry).
pub const INLINE_RECORDS_BYTES: usize = 512;

/// First version whose PartitionData.records is a compact (varint length) field.
const FIRST_FLEXIBLE: i16 = 12;

/// What a placeholder starts with; the index of its range follows.
const TOKEN_MAGIC: &[u8; 8] = b"\0durian\xff";

/// A placeholder is this long: shorter than any record batch.
const TOKEN_LEN: usize = TOKEN_MAGIC.len() + 4;

/// The placeholder a records field holds for the `index`th file range of
/// a [`FetchAnswer`].
pub fn file_token(index: usize) -> Bytes {
    let mut token = BytesMut::with_capacity(TOKEN_LEN);
    token.put_slice(TOKEN_MAGIC);
    token.put_u32(u32::try_from(index).unwrap_or(u32::MAX));
    token.freeze()
}

/// The range index a placeholder names; `None` for real records.
pub fn token_index(records: &[u8]) -> Option<usize> {
    if records.len() != TOKEN_LEN || !records.starts_with(TOKEN_MAGIC) {
        return None;
    }
    let index = records.get(TOKEN_MAGIC.len()..)?;
    Some(u32::from_be_bytes(index.try_into().ok()?) as usize)
}

/// Encodes the answer's response at `version` as pieces whose
/// concatenation is exactly kafka-protocol's encoding of it with every
/// placeholder replaced by the bytes of the file range it names.
pub fn encode_parts(answer: FetchAnswer, version: i16) -> Result<Reply, HandlerError> {
    let FetchAnswer {
        mut response,
        files,
    } = answer;
    let taken = take_records(&mut response, &files).map_err(|e| e.at(version))?;
    if taken.is_empty() {
        return encode_body(&response, version);
    }
    let with_null = encode_bytes(&response, version)?;
    set_records(&mut response, &taken, |_| Some(Bytes::new()));
    let with_empty = encode_bytes(&response, version)?;
    let flexible = version >= FIRST_FLEXIBLE;
    let records: Vec<&Piece> = taken.iter().map(|t| &t.records).collect();
    match splice(&with_null, &with_empty, &records, flexible) {
        Some(parts) => Ok(Reply::Parts(parts)),
        None => {
            tracing::warn!(
                version,
                "fetch response structure did not locate its records; encoding it whole"
            );
            let read: Vec<Bytes> = taken
                .iter()
                .map(|t| match &t.records {
                    Piece::Bytes(bytes) => Ok(bytes.clone()),
                    Piece::File(range) => range.read(),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| Unsendable::Unreadable(e).at(version))?;
            for (t, records) in taken.iter().zip(read) {
                set_records(&mut response, std::slice::from_ref(t), |_| {
                    Some(records.clone())
                });
            }
            encode_body(&response, version)
        }
    }
}

/// Records taken out of the response for sending by reference, with the
/// place they came from.
struct Taken {
    topic: usize,
    partition: usize,
    records: Piece,
}

/// Why a response's records cannot be sent.
#[derive(Debug, thiserror::Error)]
enum Unsendable {
    /// A placeholder names no range of the answer (a bug in the handler).
    #[error("fetch response placeholder names file range {0}, which the answer does not hold")]
    UnknownRange(usize),
    /// A file range could not be read for the whole encoding.
    #[error("fetch records could not be read from their segment: {0}")]
    Unreadable(std::io::Error),
}

impl Unsendable {
    fn at(self, version: i16) -> HandlerError {
        HandlerError::Encode(EncodeError {
            version,
            source: self.into(),
        })
    }
}

/// Takes the records of at least [`INLINE_RECORDS_BYTES`], and every
/// placeholder (as the file range it names), out of `response` (leaving
/// null in their place), in wire order.
fn take_records(
    response: &mut FetchResponse,
    files: &[FileRange],
) -> Result<Vec<Taken>, Unsendable> {
    let mut taken = Vec::new();
    for (t, topic) in response.responses.iter_mut().enumerate() {
        for (p, partition) in topic.partitions.iter_mut().enumerate() {
            let Some(records) = partition.records.as_ref() else {
                continue;
            };
            let piece = match token_index(records) {
                Some(i) => Piece::File(files.get(i).cloned().ok_or(Unsendable::UnknownRange(i))?),
                None if records.len() >= INLINE_RECORDS_BYTES => Piece::Bytes(records.clone()),
                None => continue,
            };
            partition.records = None;
            taken.push(Taken {
                topic: t,
                partition: p,
                records: piece,
            });
        }
    }
    Ok(taken)
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
    records: &[&Piece],
    flexible: bool,
) -> Option<Vec<Piece>> {
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
        parts.push(Piece::Bytes(structure.split().freeze()));
        parts.push(Piece::clone(records));
        from = at + width;
    }
    if next.next().is_some() {
        return None;
    }
    structure.put_slice(&with_empty[from..]);
    parts.push(Piece::Bytes(structure.freeze()));
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
