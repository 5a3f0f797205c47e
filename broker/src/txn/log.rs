//! The append-only file that makes transaction state durable (durian's
//! `__transaction_state`): `transactions.log`, a framed log
//! (`crate::framed_log`, which has the format and the crash rules) of
//! [`TxnRecord`]s, the same framing as the group offset log.

use bytes::BytesMut;

use super::error::TxnLogError;
use super::record::TxnRecord;
use crate::framed_log::{FramedLog, FramedLogError, FramedRecord, LogFormat, Reader};

const HEADER: &[u8; 8] = b"drntxns1";
/// The log's file name inside the coordinator's directory.
const LOG_FILE: &str = "transactions.log";
const COMPACTING_FILE: &str = "transactions.log.compacting";

/// An open transaction log positioned for appends.
pub(crate) type TxnLog = FramedLog<TxnRecord>;

impl FramedRecord for TxnRecord {
    const FORMAT: LogFormat = LogFormat {
        magic: HEADER,
        file: LOG_FILE,
        compacting: COMPACTING_FILE,
        rewrite_frame_records: 256,
        fault_point: None,
    };
    type Error = TxnLogError;

    fn encode(&self, out: &mut BytesMut) {
        TxnRecord::encode(self, out);
    }

    fn decode_all(payload: &[u8]) -> Option<Vec<TxnRecord>> {
        let mut reader = Reader::new(payload);
        let mut records = Vec::new();
        while !reader.is_empty() {
            records.push(TxnRecord::decode(&mut reader)?);
        }
        Some(records)
    }
}

impl From<FramedLogError> for TxnLogError {
    fn from(error: FramedLogError) -> TxnLogError {
        match error {
            FramedLogError::Io { path, source } => TxnLogError::Io { path, source },
            FramedLogError::UnknownFormat { path } => TxnLogError::UnknownFormat { path },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framed_log::FRAME_OVERHEAD;
    use crate::txn::state::{TxnMetadata, TxnState};

    fn rec(id: &str, epoch: i16, state: TxnState) -> TxnRecord {
        let mut m = TxnMetadata::new(id, 1, 1000, 0);
        m.producer_epoch = epoch;
        m.state = state;
        TxnRecord::Metadata(m)
    }

    #[test]
    fn txn_log_replays_appends_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, replay) = TxnLog::open(dir.path(), true).expect("open");
            assert!(replay.records.is_empty());
            log.append(&[rec("a", 0, TxnState::Empty)]).expect("append");
            log.append(&[rec("a", 0, TxnState::Ongoing), rec("b", 3, TxnState::Empty)])
                .expect("append");
        }
        let (log, replay) = TxnLog::open(dir.path(), true).expect("reopen");
        assert_eq!(
            replay.records,
            vec![
                rec("a", 0, TxnState::Empty),
                rec("a", 0, TxnState::Ongoing),
                rec("b", 3, TxnState::Empty)
            ]
        );
        assert_eq!(replay.truncated_bytes, 0);
        assert_eq!(log.record_count(), 3);
    }

    #[test]
    fn txn_log_truncates_and_quarantines_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, _) = TxnLog::open(dir.path(), false).expect("open");
            log.append(&[rec("a", 0, TxnState::Empty)]).expect("append");
            log.append(&[rec("a", 0, TxnState::Ongoing)])
                .expect("append");
        }
        let path = dir.path().join(LOG_FILE);
        let full = std::fs::read(&path).expect("read");
        std::fs::write(&path, &full[..full.len() - 3]).expect("cut");
        {
            let (mut log, replay) = TxnLog::open(dir.path(), false).expect("reopen");
            assert_eq!(replay.records, vec![rec("a", 0, TxnState::Empty)]);
            assert!(replay.truncated_bytes > 0);
            assert!(!replay.damage_before_end);
            let kept = std::fs::read(replay.quarantined.expect("kept")).expect("read");
            assert_eq!(kept.len() as u64, replay.truncated_bytes);
            log.append(&[rec("c", 1, TxnState::Empty)]).expect("append");
        }
        let (_, replay) = TxnLog::open(dir.path(), false).expect("reopen");
        assert_eq!(
            replay.records,
            vec![rec("a", 0, TxnState::Empty), rec("c", 1, TxnState::Empty)]
        );
    }

    #[test]
    fn txn_log_reports_damage_before_the_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, _) = TxnLog::open(dir.path(), false).expect("open");
            for epoch in 0..3 {
                log.append(&[rec("a", epoch, TxnState::Empty)])
                    .expect("append");
            }
        }
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let frame_len = (bytes.len() - HEADER.len()) / 3;
        bytes[HEADER.len() + frame_len + FRAME_OVERHEAD + 2] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let (_, replay) = TxnLog::open(dir.path(), false).expect("reopen");
        assert_eq!(replay.records, vec![rec("a", 0, TxnState::Empty)]);
        assert!(replay.damage_before_end);
    }

    #[test]
    fn txn_log_refuses_a_foreign_file_and_compacts() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(LOG_FILE), b"something else entirely").expect("write");
        assert!(matches!(
            TxnLog::open(dir.path(), false),
            Err(TxnLogError::UnknownFormat { .. })
        ));
        std::fs::remove_file(dir.path().join(LOG_FILE)).expect("rm");
        {
            let (mut log, _) = TxnLog::open(dir.path(), true).expect("open");
            for epoch in 0..5 {
                log.append(&[rec("a", epoch, TxnState::Empty)])
                    .expect("append");
            }
            log.rewrite(&[rec("a", 4, TxnState::Empty)])
                .expect("rewrite");
            assert_eq!(log.record_count(), 1);
            log.append(&[rec("b", 0, TxnState::Empty)]).expect("append");
        }
        let (_, replay) = TxnLog::open(dir.path(), true).expect("reopen");
        assert_eq!(
            replay.records,
            vec![rec("a", 4, TxnState::Empty), rec("b", 0, TxnState::Empty)]
        );
    }
}
