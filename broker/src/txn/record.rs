//! The records of the transaction log and their byte encoding.
//!
//! A record starts with a kind byte. Strings are a `u32` big-endian length
//! and UTF-8 bytes; collections a `u32` count. Decoding checks every
//! length against the bytes present, so a damaged file yields `None`,
//! never a panic or a huge allocation.

use bytes::{BufMut, BytesMut};

use crate::framed_log::{put_str, Reader};

use super::state::{StagedOffset, TxnMetadata, TxnState};

const KIND_METADATA: u8 = 1;
const KIND_REMOVE: u8 = 2;

/// A change to the coordinator's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnRecord {
    /// The whole state of one transactional id, superseding earlier ones.
    Metadata(TxnMetadata),
    /// The transactional id was removed (expired).
    Remove {
        /// The transactional id.
        transactional_id: String,
    },
}

impl TxnRecord {
    /// Appends the encoding of `self` to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            TxnRecord::Remove { transactional_id } => {
                buf.put_u8(KIND_REMOVE);
                put_str(buf, transactional_id);
            }
            TxnRecord::Metadata(m) => {
                buf.put_u8(KIND_METADATA);
                put_str(buf, &m.transactional_id);
                buf.put_i64(m.producer_id);
                buf.put_i16(m.producer_epoch);
                buf.put_i64(m.last_producer_id);
                buf.put_i16(m.last_producer_epoch);
                buf.put_i32(m.timeout_ms);
                buf.put_u8(m.state.code());
                buf.put_i64(m.start_ms);
                buf.put_i64(m.last_update_ms);
                put_count(buf, m.partitions.len());
                for (topic, partition) in &m.partitions {
                    put_str(buf, topic);
                    buf.put_i32(*partition);
                }
                put_count(buf, m.groups.len());
                for group in &m.groups {
                    put_str(buf, group);
                }
                put_count(buf, m.offsets.len());
                for ((group, topic, partition), staged) in &m.offsets {
                    put_str(buf, group);
                    put_str(buf, topic);
                    buf.put_i32(*partition);
                    buf.put_i64(staged.offset);
                    buf.put_i32(staged.leader_epoch);
                    put_str(buf, &staged.metadata);
                }
            }
        }
    }

    /// Decodes one record from the front of `input`, advancing it; `None`
    /// if the bytes are not a well-formed record.
    pub fn decode(input: &mut Reader<'_>) -> Option<TxnRecord> {
        match input.u8()? {
            KIND_REMOVE => Some(TxnRecord::Remove {
                transactional_id: input.string()?,
            }),
            KIND_METADATA => {
                let transactional_id = input.string()?;
                let producer_id = input.i64()?;
                let producer_epoch = input.i16()?;
                let last_producer_id = input.i64()?;
                let last_producer_epoch = input.i16()?;
                let timeout_ms = input.i32()?;
                let state = TxnState::from_code(input.u8()?)?;
                let start_ms = input.i64()?;
                let last_update_ms = input.i64()?;
                let mut m = TxnMetadata::new(&transactional_id, producer_id, timeout_ms, 0);
                m.producer_epoch = producer_epoch;
                m.last_producer_id = last_producer_id;
                m.last_producer_epoch = last_producer_epoch;
                m.state = state;
                m.start_ms = start_ms;
                m.last_update_ms = last_update_ms;
                for _ in 0..input.u32()? {
                    let topic = input.string()?;
                    m.partitions.insert((topic, input.i32()?));
                }
                for _ in 0..input.u32()? {
                    m.groups.insert(input.string()?);
                }
                for _ in 0..input.u32()? {
                    let group = input.string()?;
                    let topic = input.string()?;
                    let partition = input.i32()?;
                    let staged = StagedOffset {
                        offset: input.i64()?,
                        leader_epoch: input.i32()?,
                        metadata: input.string()?,
                    };
                    m.offsets.insert((group, topic, partition), staged);
                }
                Some(TxnRecord::Metadata(m))
            }
            _ => None,
        }
    }
}

fn put_count(buf: &mut BytesMut, count: usize) {
    buf.put_u32(u32::try_from(count).unwrap_or(u32::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_record_round_trips() {
        let mut m = TxnMetadata::new("tx-1", 42, 30_000, 5);
        m.producer_epoch = 3;
        m.last_producer_epoch = 2;
        m.last_producer_id = 41;
        m.state = TxnState::PrepareCommit;
        m.start_ms = 9;
        m.partitions.insert(("orders".into(), 2));
        m.groups.insert("g".into());
        m.offsets.insert(
            ("g".into(), "in".into(), 0),
            StagedOffset {
                offset: 17,
                leader_epoch: 4,
                metadata: "m".into(),
            },
        );
        let records = [
            TxnRecord::Metadata(m),
            TxnRecord::Remove {
                transactional_id: "old".into(),
            },
        ];
        let mut buf = BytesMut::new();
        for r in &records {
            r.encode(&mut buf);
        }
        let mut reader = Reader::new(&buf);
        for r in &records {
            assert_eq!(TxnRecord::decode(&mut reader).as_ref(), Some(r));
        }
        assert!(reader.is_empty());
        // Every cut of a record is refused, never misread or a panic.
        let mut first = BytesMut::new();
        records[0].encode(&mut first);
        for cut in 0..first.len() {
            let mut short = Reader::new(&first[..cut]);
            assert_eq!(TxnRecord::decode(&mut short), None, "cut at {cut}");
        }
    }
}
