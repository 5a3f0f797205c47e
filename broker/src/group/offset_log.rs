//! The append-only file that makes committed offsets durable:
//! `offsets.log`, a framed log (`crate::framed_log`, which has the format
//! and the crash rules) of [`LogRecord`]s, one frame per commit request,
//! so a commit of several partitions lands whole or not at all.

use bytes::BytesMut;

use super::error::GroupError;
use super::offset_record::LogRecord;
use crate::framed_log::{FramedLog, FramedLogError, FramedRecord, LogFormat, Reader};
use crate::storage::FaultPoint;

const HEADER: &[u8; 8] = b"drnoffs1";
const LOG_FILE: &str = "offsets.log";
const COMPACTING_FILE: &str = "offsets.log.compacting";

/// An open offset log positioned for appends.
pub(crate) type OffsetLog = FramedLog<LogRecord>;

impl FramedRecord for LogRecord {
    const FORMAT: LogFormat = LogFormat {
        magic: HEADER,
        file: LOG_FILE,
        compacting: COMPACTING_FILE,
        rewrite_frame_records: 1024,
        fault_point: Some(FaultPoint::OffsetsCommit),
    };
    type Error = GroupError;

    fn encode(&self, out: &mut BytesMut) {
        LogRecord::encode(self, out);
    }

    fn decode_all(payload: &[u8]) -> Option<Vec<LogRecord>> {
        let mut reader = Reader::new(payload);
        let mut records = Vec::new();
        while !reader.is_empty() {
            records.push(LogRecord::decode(&mut reader)?);
        }
        Some(records)
    }
}

impl From<FramedLogError> for GroupError {
    fn from(error: FramedLogError) -> GroupError {
        match error {
            FramedLogError::Io { path, source } => GroupError::Io { path, source },
            FramedLogError::UnknownFormat { path } => GroupError::UnknownFormat { path },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framed_log::FRAME_OVERHEAD;
    use crate::group::offset_record::CommittedOffset;

    fn commit(partition: i32, offset: i64) -> LogRecord {
        LogRecord::Commit {
            group: "g".into(),
            topic: "t".into(),
            partition,
            offset: CommittedOffset {
                offset,
                leader_epoch: -1,
                metadata: Some(String::new()),
                commit_timestamp_ms: 5,
            },
        }
    }

    #[test]
    fn group_offset_log_replays_appends_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, replay) = OffsetLog::open(dir.path(), false).expect("open");
            assert!(replay.records.is_empty());
            log.append(&[commit(0, 1), commit(1, 2)]).expect("append");
            log.append(&[commit(0, 3)]).expect("append");
        }
        let (log, replay) = OffsetLog::open(dir.path(), false).expect("reopen");
        assert_eq!(
            replay.records,
            vec![commit(0, 1), commit(1, 2), commit(0, 3)]
        );
        assert_eq!(replay.truncated_bytes, 0);
        assert_eq!(log.record_count(), 3);
    }

    #[test]
    fn group_offset_log_truncates_torn_tail_and_keeps_appending() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, _) = OffsetLog::open(dir.path(), false).expect("open");
            log.append(&[commit(0, 1)]).expect("append");
            log.append(&[commit(0, 2), commit(1, 2)]).expect("append");
        }
        let path = dir.path().join(LOG_FILE);
        let full = std::fs::read(&path).expect("read");
        // Cut the second frame in the middle, as a crash during its write would.
        std::fs::write(&path, &full[..full.len() - 5]).expect("write");
        {
            let (mut log, replay) = OffsetLog::open(dir.path(), false).expect("reopen");
            assert_eq!(replay.records, vec![commit(0, 1)]);
            assert!(replay.truncated_bytes > 0);
            log.append(&[commit(2, 9)])
                .expect("append after truncation");
        }
        let (_, replay) = OffsetLog::open(dir.path(), false).expect("reopen");
        assert_eq!(replay.records, vec![commit(0, 1), commit(2, 9)]);
    }

    #[test]
    fn group_offset_log_stops_at_a_frame_with_a_bad_crc() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, _) = OffsetLog::open(dir.path(), false).expect("open");
            log.append(&[commit(0, 1)]).expect("append");
            log.append(&[commit(0, 2)]).expect("append");
        }
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let (_, replay) = OffsetLog::open(dir.path(), false).expect("reopen");
        assert_eq!(replay.records, vec![commit(0, 1)]);
    }

    #[test]
    fn group_offset_log_quarantines_frames_after_a_damaged_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, _) = OffsetLog::open(dir.path(), false).expect("open");
            log.append(&[commit(0, 1)]).expect("append");
            log.append(&[commit(0, 2)]).expect("append");
            log.append(&[commit(0, 3)]).expect("append");
        }
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let frame_len = (bytes.len() - HEADER.len()) / 3;
        // Damage the payload of the second frame; the third one is intact.
        let second_payload = HEADER.len() + frame_len + FRAME_OVERHEAD + 1;
        bytes[second_payload] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let (_, replay) = OffsetLog::open(dir.path(), false).expect("reopen");
        assert_eq!(replay.records, vec![commit(0, 1)]);
        assert!(replay.damage_before_end, "later commits were cut");
        let copy = replay.quarantined.expect("the cut bytes are kept");
        let kept = std::fs::read(&copy).expect("quarantine file");
        assert_eq!(
            kept,
            bytes[HEADER.len() + frame_len..],
            "both later frames kept"
        );
    }

    #[test]
    fn group_offset_log_refuses_a_foreign_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(LOG_FILE), b"not an offset log at all").expect("write");
        assert!(matches!(
            OffsetLog::open(dir.path(), false),
            Err(GroupError::UnknownFormat { .. })
        ));
    }

    #[test]
    fn group_offset_log_rewrite_keeps_only_live_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, _) = OffsetLog::open(dir.path(), true).expect("open");
            for offset in 0..10 {
                log.append(&[commit(0, offset)]).expect("append");
            }
            log.rewrite(&[commit(0, 9)]).expect("rewrite");
            assert_eq!(log.record_count(), 1);
            log.append(&[commit(1, 1)]).expect("append after rewrite");
        }
        let (_, replay) = OffsetLog::open(dir.path(), false).expect("reopen");
        assert_eq!(replay.records, vec![commit(0, 9), commit(1, 1)]);
        assert!(!dir.path().join(COMPACTING_FILE).exists());
    }
}
