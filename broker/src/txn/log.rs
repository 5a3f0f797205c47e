//! The append-only file that makes transaction state durable (durian's
//! `__transaction_state`).
//!
//! ```text
//! transactions.log = header ("drntxns1") frame*
//! frame            = length: u32 BE | crc: u32 BE (CRC-32C of payload) | payload: TxnRecord+
//! ```
//!
//! The same framing as the group offset log: a frame lands whole or not at
//! all; on open, frames are replayed in order and the first one cut short,
//! failing its CRC or not decoding ends the log. The cut bytes are copied
//! to `transactions.log.<ms>.quarantined` before the file is truncated, so
//! damage before the end never drops state without a trace. Compaction
//! writes the live records to `transactions.log.compacting`, syncs it and
//! renames it over the log.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::{BufMut, BytesMut};

use super::error::TxnLogError;
use super::record::{Reader, TxnRecord};
use crate::clock::now_ms;

const HEADER: &[u8; 8] = b"drntxns1";
/// The log's file name inside the coordinator's directory.
pub const LOG_FILE: &str = "transactions.log";
const COMPACTING_FILE: &str = "transactions.log.compacting";
const FRAME_OVERHEAD: usize = 8;

/// An open transaction log positioned for appends.
pub struct TxnLog {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    fsync: bool,
    records: u64,
}

/// What replaying the log found.
#[derive(Debug)]
pub struct Replay {
    /// Every record, in order.
    pub records: Vec<TxnRecord>,
    /// Bytes cut from the end because they did not form a valid frame.
    pub truncated_bytes: u64,
    /// Where the cut bytes were kept.
    pub quarantined: Option<PathBuf>,
    /// Whether a complete frame was damaged with more bytes after it.
    pub damage_before_end: bool,
}

impl TxnLog {
    /// Opens (creating if needed) the log in `dir`, with the records it holds.
    pub fn open(dir: &Path, fsync: bool) -> Result<(TxnLog, Replay), TxnLogError> {
        std::fs::create_dir_all(dir).map_err(|e| TxnLogError::io(dir, e))?;
        let path = dir.join(LOG_FILE);
        // An interrupted compaction's output is incomplete; the log is authoritative.
        let leftover = dir.join(COMPACTING_FILE);
        if leftover.exists() {
            std::fs::remove_file(&leftover).map_err(|e| TxnLogError::io(&leftover, e))?;
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(TxnLogError::io(&path, e)),
        };
        let (records, valid_len, damage_before_end) = if bytes.len() < HEADER.len() {
            if !HEADER.starts_with(&bytes) {
                return Err(TxnLogError::UnknownFormat { path });
            }
            write_fresh(&path, &[], fsync)?;
            (Vec::new(), HEADER.len(), false)
        } else if !bytes.starts_with(HEADER) {
            return Err(TxnLogError::UnknownFormat { path });
        } else {
            parse_frames(&bytes)
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| TxnLogError::io(&path, e))?;
        let truncated_bytes = bytes.len().saturating_sub(valid_len) as u64;
        let mut quarantined = None;
        if truncated_bytes > 0 {
            let copy = dir.join(format!("{LOG_FILE}.{}.quarantined", now_ms()));
            let tail = bytes.get(valid_len..).unwrap_or_default();
            std::fs::write(&copy, tail)
                .and_then(|()| File::open(&copy)?.sync_all())
                .map_err(|e| TxnLogError::io(&copy, e))?;
            sync_dir(dir)?;
            quarantined = Some(copy);
            file.set_len(valid_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| TxnLogError::io(&path, e))?;
        }
        let log = TxnLog {
            dir: dir.to_owned(),
            path,
            file,
            len: valid_len as u64,
            fsync,
            records: records.len() as u64,
        };
        let replay = Replay {
            records,
            truncated_bytes,
            quarantined,
            damage_before_end,
        };
        Ok((log, replay))
    }

    /// Records in the file, superseded ones included.
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// Appends `records` as one frame and (if configured) syncs it. On
    /// failure the file is cut back, so a torn frame never hides later ones.
    pub fn append(&mut self, records: &[TxnRecord]) -> Result<(), TxnLogError> {
        if records.is_empty() {
            return Ok(());
        }
        let frame = encode_frame(records);
        let written = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(&frame))
            .and_then(|()| {
                if self.fsync {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            });
        if let Err(e) = written {
            // Best effort: if this fails too, the next open drops the torn tail.
            let _ = self.file.set_len(self.len);
            return Err(TxnLogError::io(&self.path, e));
        }
        self.len += frame.len() as u64;
        self.records += records.len() as u64;
        Ok(())
    }

    /// Forces everything appended so far to disk.
    pub fn sync(&self) -> Result<(), TxnLogError> {
        self.file
            .sync_all()
            .map_err(|e| TxnLogError::io(&self.path, e))
    }

    /// Replaces the log with one holding only `live`, atomically.
    pub fn rewrite(&mut self, live: &[TxnRecord]) -> Result<(), TxnLogError> {
        let tmp = self.dir.join(COMPACTING_FILE);
        write_fresh(&tmp, live, true)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| TxnLogError::io(&self.path, e))?;
        sync_dir(&self.dir)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| TxnLogError::io(&self.path, e))?;
        self.len = file
            .metadata()
            .map_err(|e| TxnLogError::io(&self.path, e))?
            .len();
        self.file = file;
        self.records = live.len() as u64;
        Ok(())
    }
}

/// Splits `bytes` (header included) into records: the records, the valid
/// prefix length, and whether a damaged frame had bytes after it.
fn parse_frames(bytes: &[u8]) -> (Vec<TxnRecord>, usize, bool) {
    let mut records = Vec::new();
    let mut valid = HEADER.len();
    let mut reader = Reader::new(bytes.get(HEADER.len()..).unwrap_or_default());
    while !reader.is_empty() {
        let (Some(len), Some(crc)) = (reader.u32(), reader.u32()) else {
            break;
        };
        let Some(payload) = usize::try_from(len).ok().and_then(|l| reader.take(l)) else {
            break;
        };
        let decoded = (crc32c::crc32c(payload) == crc)
            .then(|| decode_payload(payload))
            .flatten();
        match decoded {
            Some(frame) => {
                records.extend(frame);
                valid = bytes.len() - reader.remaining();
            }
            None => return (records, valid, !reader.is_empty()),
        }
    }
    (records, valid, false)
}

fn decode_payload(payload: &[u8]) -> Option<Vec<TxnRecord>> {
    let mut inner = Reader::new(payload);
    let mut records = Vec::new();
    while !inner.is_empty() {
        records.push(TxnRecord::decode(&mut inner)?);
    }
    Some(records)
}

fn encode_frame(records: &[TxnRecord]) -> BytesMut {
    let mut payload = BytesMut::new();
    for record in records {
        record.encode(&mut payload);
    }
    let mut frame = BytesMut::with_capacity(FRAME_OVERHEAD + payload.len());
    frame.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    frame.put_u32(crc32c::crc32c(&payload));
    frame.put_slice(&payload);
    frame
}

fn write_fresh(path: &Path, records: &[TxnRecord], fsync: bool) -> Result<(), TxnLogError> {
    let mut file = File::create(path).map_err(|e| TxnLogError::io(path, e))?;
    let mut bytes = BytesMut::from(&HEADER[..]);
    for chunk in records.chunks(256) {
        bytes.put_slice(&encode_frame(chunk));
    }
    file.write_all(&bytes)
        .map_err(|e| TxnLogError::io(path, e))?;
    if fsync {
        file.sync_all().map_err(|e| TxnLogError::io(path, e))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), TxnLogError> {
    match File::open(dir) {
        Ok(handle) => handle.sync_all().map_err(|e| TxnLogError::io(dir, e)),
        // Some platforms cannot open directories; the rename is still atomic there.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
