//! Encodes a ProduceRequest as pieces that reference the record batches
//! instead of copying them.
//!
//! ```text
//!  [acks, timeout, topics.., partition index, records length] [batch 0] [.., records length] [batch 1] [..]
//!   └──────────── structure (one small buffer, split) ───────┘  └ the batch's own Bytes ┘
//! ```
//!
//! kafka-protocol's encoder copies every batch into the request body, and
//! the connection then writes that body: for 10 KB records a second copy
//! of every byte and a large fresh buffer per request. The batches are
//! already final `Bytes` (kept for retries), so the structure around them
//! is written here (a few primitives) and the connection
//! writes structure and batches with one vectored write. A test keeps the
//! concatenation byte-identical to kafka-protocol's encoding at every
//! version served.
//!
//! A batch that references large values (`BatchRope`) is written as its
//! pieces, so those values reach the socket straight from the caller's
//! `Bytes`.

use bytes::{BufMut, Bytes, BytesMut};
use durian_core::record::BatchRope;
use durian_core::{Error, Result};
use kafka_protocol::messages::ProduceRequest;

/// Encoding fails only on lengths the protocol cannot express.
type EncodeResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The request's body in pieces: `(first, rest)`, concatenated in that
/// order. `batches`, when not empty, holds each partition's records in the
/// request's order and takes the place of its `records` field. `None` when
/// the request carries something this encoder does not write (unknown
/// tagged fields, or v13's topic ids): encode it whole.
pub(crate) fn produce_body_parts(
    request: &ProduceRequest,
    batches: &[BatchRope],
    version: i16,
) -> Option<Result<(Bytes, Vec<Bytes>)>> {
    let has_tags = !request.unknown_tagged_fields.is_empty()
        || request.topic_data.iter().any(|t| {
            !t.unknown_tagged_fields.is_empty()
                || t.partition_data
                    .iter()
                    .any(|p| !p.unknown_tagged_fields.is_empty())
        });
    if has_tags || !(3..=12).contains(&version) {
        return None;
    }
    Some(
        encode(request, batches, version)
            .map_err(|e| Error::protocol(format_args!("encoding Produce v{version}"), e)),
    )
}

fn encode(
    request: &ProduceRequest,
    batches: &[BatchRope],
    version: i16,
) -> EncodeResult<(Bytes, Vec<Bytes>)> {
    let flexible = version >= 9;
    let mut next_batch = batches.iter();
    let mut buf = BytesMut::with_capacity(64 + 32 * request.topic_data.len());
    // Structure before and after each partition's batch, and its pieces.
    let partitions: usize = request
        .topic_data
        .iter()
        .map(|t| t.partition_data.len())
        .sum();
    let pieces: usize = batches.iter().map(|b| b.pieces().len()).sum();
    let mut parts = Vec::with_capacity(2 * partitions + pieces.max(partitions) + 1);
    string(
        &mut buf,
        request.transactional_id.as_ref().map(|id| &id.0[..]),
        flexible,
    )?;
    buf.put_i16(request.acks);
    buf.put_i32(request.timeout_ms);
    length(&mut buf, Some(request.topic_data.len()), flexible)?;
    for topic in &request.topic_data {
        string(&mut buf, Some(&topic.name.0[..]), flexible)?;
        length(&mut buf, Some(topic.partition_data.len()), flexible)?;
        for partition in &topic.partition_data {
            buf.put_i32(partition.index);
            let pieces: Option<&[Bytes]> = if batches.is_empty() {
                partition.records.as_ref().map(std::slice::from_ref)
            } else {
                Some(
                    next_batch
                        .next()
                        .ok_or("fewer batches than partitions")?
                        .pieces(),
                )
            };
            let len = pieces.map(|p| p.iter().map(Bytes::len).sum::<usize>());
            length(&mut buf, len, flexible)?;
            if let Some(pieces) = pieces.filter(|_| len != Some(0)) {
                // Structure so far, then the batches as they are.
                parts.push(buf.split().freeze());
                parts.extend(pieces.iter().filter(|p| !p.is_empty()).cloned());
            }
            if flexible {
                buf.put_u8(0); // no tagged fields
            }
        }
        if flexible {
            buf.put_u8(0);
        }
    }
    if flexible {
        buf.put_u8(0);
    }
    parts.push(buf.freeze());
    let first = parts.remove(0);
    Ok((first, parts))
}

/// A length or count (`None`: null): compact (unsigned varint of n + 1,
/// 0 for null) in flexible versions, else a big-endian i32 (-1 for null).
/// Strings are the one field written with an i16 length instead.
fn length(buf: &mut BytesMut, len: Option<usize>, flexible: bool) -> EncodeResult<()> {
    if flexible {
        let n = match len {
            None => 0,
            Some(len) => u32::try_from(len)?
                .checked_add(1)
                .ok_or("length overflows")?,
        };
        unsigned_varint(buf, n);
    } else {
        buf.put_i32(match len {
            None => -1,
            Some(len) => i32::try_from(len)?,
        });
    }
    Ok(())
}

/// A nullable string: compact in flexible versions, else an i16 length.
fn string(buf: &mut BytesMut, value: Option<&str>, flexible: bool) -> EncodeResult<()> {
    if flexible {
        length(buf, value.map(str::len), flexible)?;
    } else {
        buf.put_i16(match value {
            None => -1,
            Some(value) => i16::try_from(value.len())?,
        });
    }
    if let Some(value) = value {
        buf.put_slice(value.as_bytes());
    }
    Ok(())
}

fn unsigned_varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::protocol::encode_body;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ApiKey, TopicName, TransactionalId};
    use kafka_protocol::protocol::StrBytes;

    fn request(transactional: bool) -> ProduceRequest {
        let partition = |index: i32, records: Option<&'static [u8]>| {
            PartitionProduceData::default()
                .with_index(index)
                .with_records(records.map(Bytes::from_static))
        };
        ProduceRequest::default()
            .with_transactional_id(
                transactional.then(|| TransactionalId(StrBytes::from_static_str("tx"))),
            )
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("web_log")))
                    .with_partition_data(vec![
                        partition(0, Some(&[1u8; 300][..])),
                        partition(3, Some(b"")),
                        partition(5, None),
                    ]),
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partition_data(vec![partition(1, Some(b"batch"))]),
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("empty"))),
            ])
    }

    #[test]
    fn pieces_concatenate_to_kafka_protocols_encoding_at_every_version() {
        for transactional in [false, true] {
            let request = request(transactional);
            for version in 3..=12 {
                let (first, rest) = produce_body_parts(&request, &[], version).unwrap().unwrap();
                let mut joined = first.to_vec();
                for part in &rest {
                    joined.extend_from_slice(part);
                }
                let whole = encode_body(ApiKey::Produce, &request, version).unwrap();
                assert_eq!(joined, whole.to_vec(), "v{version}");
                // The batches are referenced, not copied.
                assert!(rest.iter().any(|p| p.len() == 300
                    && p.as_ptr()
                        == request.topic_data[0].partition_data[0]
                            .records
                            .as_ref()
                            .unwrap()
                            .as_ptr()));
            }
        }
    }

    #[test]
    fn tagged_fields_and_topic_ids_fall_back_to_the_whole_encoder() {
        let mut tagged = request(false);
        tagged.topic_data[0].partition_data[0]
            .unknown_tagged_fields
            .insert(7, Bytes::from_static(b"x"));
        assert!(produce_body_parts(&tagged, &[], 9).is_none());
        assert!(produce_body_parts(&request(false), &[], 13).is_none());
    }

    #[test]
    fn batches_in_pieces_are_written_as_the_contiguous_batch_would_be() {
        let value = Bytes::from(vec![b'v'; 5000]);
        let mut writer = durian_core::record::BatchWriter::builder()
            .reference_values_from(1024)
            .build();
        for ts in 0..3 {
            writer
                .try_append_shared(
                    ts,
                    Some(b"k"),
                    Some(&value),
                    durian_core::record::NO_HEADERS,
                )
                .unwrap();
        }
        let rope = writer.finish_rope().unwrap();
        assert_eq!(rope.pieces().len(), 7);
        // Every partition with a batch, as the producer builds requests.
        let mut contiguous = request(false);
        contiguous.topic_data[0].partition_data[0].records = Some(rope.to_bytes());
        contiguous.topic_data[0].partition_data[2].records = Some(Bytes::from_static(b"x"));
        let mut batches: Vec<BatchRope> = contiguous
            .topic_data
            .iter()
            .flat_map(|t| t.partition_data.iter())
            .map(|p| BatchRope::from(p.records.clone().unwrap_or_default()))
            .collect();
        batches[0] = rope.clone();
        // The request's own records are ignored when batches are given.
        let mut pieced = contiguous.clone();
        pieced.topic_data[0].partition_data[0].records = None;
        for version in 3..=12 {
            let (first, rest) = produce_body_parts(&pieced, &batches, version)
                .unwrap()
                .unwrap();
            let mut joined = first.to_vec();
            for part in &rest {
                joined.extend_from_slice(part);
            }
            let whole = encode_body(ApiKey::Produce, &contiguous, version).unwrap();
            assert_eq!(joined, whole.to_vec(), "v{version}");
            // The referenced values reach the parts as they are.
            assert!(rest.iter().any(|p| p.as_ptr() == value.as_ptr()));
        }
        assert!(produce_body_parts(&pieced, &batches[..1], 9)
            .unwrap()
            .is_err());
    }
}
