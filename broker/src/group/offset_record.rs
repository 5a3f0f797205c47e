//! The records of the offset log and their byte encoding.
//!
//! Every record starts with a kind byte; strings are a `u32` big-endian length and UTF-8
//! bytes, the nullable commit metadata an `i32` length with -1 for null. Decoding checks
//! every length against the bytes actually present, so a damaged file yields `None`, never
//! a panic or a huge allocation.

use bytes::{BufMut, BytesMut};

use crate::framed_log::{put_str, Reader};

const KIND_COMMIT: u8 = 1;
const KIND_OFFSET_TOMBSTONE: u8 = 2;
const KIND_GROUP_TOMBSTONE: u8 = 3;
const KIND_GROUP_META: u8 = 4;

/// One committed offset as clients see it in OffsetFetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    /// Wall-clock milliseconds of the commit; drives retention.
    pub commit_timestamp_ms: i64,
}

/// A change to the coordinator's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogRecord {
    /// An offset was committed for one partition.
    Commit {
        group: String,
        topic: String,
        partition: i32,
        offset: CommittedOffset,
    },
    /// The committed offset of one partition was deleted (OffsetDelete, retention).
    OffsetTombstone {
        group: String,
        topic: String,
        partition: i32,
    },
    /// The group and all its offsets were deleted (DeleteGroups).
    GroupTombstone { group: String },
    /// The group's protocol type and generation, so both survive a restart.
    GroupMeta {
        group: String,
        protocol_type: String,
        generation: i32,
    },
}

impl LogRecord {
    /// Appends the encoding of `self` to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            LogRecord::Commit {
                group,
                topic,
                partition,
                offset,
            } => {
                buf.put_u8(KIND_COMMIT);
                put_str(buf, group);
                put_str(buf, topic);
                buf.put_i32(*partition);
                buf.put_i64(offset.offset);
                buf.put_i32(offset.leader_epoch);
                match &offset.metadata {
                    None => buf.put_i32(-1),
                    Some(text) => {
                        buf.put_i32(i32::try_from(text.len()).unwrap_or(i32::MAX));
                        buf.put_slice(text.as_bytes());
                    }
                }
                buf.put_i64(offset.commit_timestamp_ms);
            }
            LogRecord::OffsetTombstone {
                group,
                topic,
                partition,
            } => {
                buf.put_u8(KIND_OFFSET_TOMBSTONE);
                put_str(buf, group);
                put_str(buf, topic);
                buf.put_i32(*partition);
            }
            LogRecord::GroupTombstone { group } => {
                buf.put_u8(KIND_GROUP_TOMBSTONE);
                put_str(buf, group);
            }
            LogRecord::GroupMeta {
                group,
                protocol_type,
                generation,
            } => {
                buf.put_u8(KIND_GROUP_META);
                put_str(buf, group);
                put_str(buf, protocol_type);
                buf.put_i32(*generation);
            }
        }
    }

    /// Decodes one record from the front of `input`, advancing it; `None` if the bytes are
    /// not a well-formed record.
    pub fn decode(input: &mut Reader<'_>) -> Option<LogRecord> {
        match input.u8()? {
            KIND_COMMIT => {
                let group = input.string()?;
                let topic = input.string()?;
                let partition = input.i32()?;
                let offset = input.i64()?;
                let leader_epoch = input.i32()?;
                let metadata = match input.i32()? {
                    -1 => None,
                    len => Some(input.utf8(usize::try_from(len).ok()?)?),
                };
                let commit_timestamp_ms = input.i64()?;
                Some(LogRecord::Commit {
                    group,
                    topic,
                    partition,
                    offset: CommittedOffset {
                        offset,
                        leader_epoch,
                        metadata,
                        commit_timestamp_ms,
                    },
                })
            }
            KIND_OFFSET_TOMBSTONE => Some(LogRecord::OffsetTombstone {
                group: input.string()?,
                topic: input.string()?,
                partition: input.i32()?,
            }),
            KIND_GROUP_TOMBSTONE => Some(LogRecord::GroupTombstone {
                group: input.string()?,
            }),
            KIND_GROUP_META => Some(LogRecord::GroupMeta {
                group: input.string()?,
                protocol_type: input.string()?,
                generation: input.i32()?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(record: LogRecord) {
        let mut buf = BytesMut::new();
        record.encode(&mut buf);
        let mut reader = Reader::new(&buf);
        assert_eq!(LogRecord::decode(&mut reader), Some(record));
        assert!(reader.is_empty());
    }

    #[test]
    fn group_offset_records_round_trip() {
        round_trip(LogRecord::Commit {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
            offset: CommittedOffset {
                offset: 42,
                leader_epoch: 7,
                metadata: Some("meta".into()),
                commit_timestamp_ms: 1_700_000_000_000,
            },
        });
        round_trip(LogRecord::Commit {
            group: "g".into(),
            topic: "t".into(),
            partition: 0,
            offset: CommittedOffset {
                offset: 0,
                leader_epoch: -1,
                metadata: None,
                commit_timestamp_ms: 0,
            },
        });
        round_trip(LogRecord::OffsetTombstone {
            group: "g".into(),
            topic: "t".into(),
            partition: 1,
        });
        round_trip(LogRecord::GroupTombstone { group: "g".into() });
        round_trip(LogRecord::GroupMeta {
            group: "g".into(),
            protocol_type: "consumer".into(),
            generation: 9,
        });
    }

    #[test]
    fn group_offset_record_rejects_truncated_and_oversized_input() {
        let mut buf = BytesMut::new();
        LogRecord::GroupMeta {
            group: "group".into(),
            protocol_type: "consumer".into(),
            generation: 1,
        }
        .encode(&mut buf);
        for cut in 0..buf.len() {
            assert_eq!(LogRecord::decode(&mut Reader::new(&buf[..cut])), None);
        }
        // A commit whose metadata claims 2 GiB must fail on the bytes present, not allocate.
        let mut huge = BytesMut::new();
        huge.put_u8(KIND_COMMIT);
        put_str(&mut huge, "g");
        put_str(&mut huge, "t");
        huge.put_i32(0);
        huge.put_i64(1);
        huge.put_i32(0);
        huge.put_i32(i32::MAX);
        assert_eq!(LogRecord::decode(&mut Reader::new(&huge)), None);
    }
}
