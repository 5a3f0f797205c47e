//! The append-only file that makes committed offsets durable.
//!
//! ```text
//! offsets.log = header ("drnoffs1") frame*
//! frame       = length: u32 BE | crc: u32 BE (CRC-32C of payload) | payload: LogRecord+
//! ```
//!
//! One frame holds every record of one request, so a commit of several partitions lands
//! whole or not at all. On open the frames are replayed in order; the first frame that is
//! cut short, fails its CRC or does not decode ends the log, and the file is truncated
//! there (a crash during an append leaves exactly such a torn tail). The bytes cut are
//! first copied to `offsets.log.<ms>.quarantined`: a damaged frame with more frames after
//! it (damage, not a torn write) would otherwise drop later commits without a trace. Compaction writes the
//! live records to `offsets.log.compacting`, syncs it and renames it over the log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::{BufMut, BytesMut};

use super::error::GroupError;
use super::offset_record::{LogRecord, Reader};
use crate::clock::now_ms;
use crate::storage::{FaultPoint, Faults};

const HEADER: &[u8; 8] = b"drnoffs1";
const LOG_FILE: &str = "offsets.log";
const COMPACTING_FILE: &str = "offsets.log.compacting";
/// Length and CRC in front of every frame.
const FRAME_OVERHEAD: usize = 8;

/// An open offset log positioned for appends.
pub(crate) struct OffsetLog {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Bytes of valid data; a failed append is cut back to this.
    len: u64,
    fsync: bool,
    /// Records in the file, live or superseded; compaction compares it with the live set.
    records: u64,
    /// Storage faults injected by tests (nothing in production builds).
    faults: Faults,
}

/// What replaying the log found.
pub(crate) struct Replay {
    pub records: Vec<LogRecord>,
    /// Bytes cut from the end because they did not form a valid frame.
    pub truncated_bytes: u64,
    /// Where the cut bytes were kept (`offsets.log.<ms>.quarantined`), so
    /// nothing is ever dropped without a copy.
    pub quarantined: Option<PathBuf>,
    /// Whether a complete frame failed its CRC or decoding with more bytes
    /// after it: commits made after the damage were cut, not just a torn
    /// last write.
    pub damage_before_end: bool,
}

impl OffsetLog {
    /// Opens (creating if needed) the log in `dir`, returning it with the records it holds.
    pub fn open(dir: &Path, fsync: bool) -> Result<(OffsetLog, Replay), GroupError> {
        std::fs::create_dir_all(dir).map_err(|e| GroupError::io(dir, e))?;
        let path = dir.join(LOG_FILE);
        // A leftover from a compaction interrupted before its rename is incomplete by
        // definition: the log itself is still authoritative.
        let leftover = dir.join(COMPACTING_FILE);
        if leftover.exists() {
            std::fs::remove_file(&leftover).map_err(|e| GroupError::io(&leftover, e))?;
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(GroupError::io(&path, e)),
        };
        let (records, valid_len, damage_before_end) = if bytes.len() < HEADER.len() {
            // Empty, or a crash while the header itself was written: start afresh.
            if !HEADER.starts_with(&bytes) {
                return Err(GroupError::UnknownFormat { path });
            }
            write_fresh(&path, &[], fsync)?;
            (Vec::new(), HEADER.len(), false)
        } else if !bytes.starts_with(HEADER) {
            return Err(GroupError::UnknownFormat { path });
        } else {
            parse_frames(&bytes)
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| GroupError::io(&path, e))?;
        let truncated_bytes = (bytes.len().max(valid_len) - valid_len) as u64;
        let mut quarantined = None;
        if truncated_bytes > 0 {
            // Keep a copy of what is cut before cutting it: a damaged frame
            // in the middle would otherwise take every later commit with it.
            let copy = dir.join(format!("{LOG_FILE}.{}.quarantined", now_ms()));
            let tail = bytes.get(valid_len..).unwrap_or_default();
            std::fs::write(&copy, tail)
                .and_then(|()| File::open(&copy)?.sync_all())
                .map_err(|e| GroupError::io(&copy, e))?;
            sync_dir(dir)?;
            quarantined = Some(copy);
            file.set_len(valid_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| GroupError::io(&path, e))?;
        }
        let log = OffsetLog {
            dir: dir.to_owned(),
            path,
            file,
            len: valid_len as u64,
            fsync,
            records: records.len() as u64,
            faults: Faults::default(),
        };
        Ok((
            log,
            Replay {
                records,
                truncated_bytes,
                quarantined,
                damage_before_end,
            },
        ))
    }

    /// Records in the file, superseded ones included.
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// Appends `records` as one frame and (if configured) syncs it to disk.
    ///
    /// On failure the file is cut back to its previous length, so a half-written frame can
    /// never hide later appends from the next replay.
    pub fn append(&mut self, records: &[LogRecord]) -> Result<(), GroupError> {
        if records.is_empty() {
            return Ok(());
        }
        let frame = encode_frame(records);
        let result = self.write_at_end(&frame);
        if let Err(e) = result {
            // Best effort: if even this fails, the torn tail is dropped on the next open.
            let _ = self.file.set_len(self.len);
            return Err(GroupError::io(&self.path, e));
        }
        self.len += frame.len() as u64;
        self.records += records.len() as u64;
        Ok(())
    }

    /// Routes appends through `faults` (tests).
    #[cfg(feature = "testing")]
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    fn write_at_end(&mut self, frame: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        self.faults.check(FaultPoint::OffsetsCommit)?;
        self.file.seek(SeekFrom::Start(self.len))?;
        self.file.write_all(frame)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Forces everything appended so far to disk (for logs opened without per-append fsync).
    pub fn sync(&self) -> Result<(), GroupError> {
        self.file
            .sync_all()
            .map_err(|e| GroupError::io(&self.path, e))
    }

    /// Replaces the log with one holding only `live`, atomically: a crash leaves either the
    /// old log or the new one.
    pub fn rewrite(&mut self, live: &[LogRecord]) -> Result<(), GroupError> {
        let tmp = self.dir.join(COMPACTING_FILE);
        write_fresh(&tmp, live, true)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| GroupError::io(&self.path, e))?;
        sync_dir(&self.dir)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| GroupError::io(&self.path, e))?;
        let len = file
            .metadata()
            .map_err(|e| GroupError::io(&self.path, e))?
            .len();
        self.file = file;
        self.len = len;
        self.records = live.len() as u64;
        Ok(())
    }
}

/// Splits `bytes` (header included) into records, returning them with the length of the
/// valid prefix and whether a complete but damaged frame had more bytes after it.
fn parse_frames(bytes: &[u8]) -> (Vec<LogRecord>, usize, bool) {
    let mut records = Vec::new();
    let mut valid = HEADER.len();
    let mut reader = Reader::new(bytes.get(HEADER.len()..).unwrap_or_default());
    while !reader.is_empty() {
        match next_frame(&mut reader) {
            Frame::Records(frame_records) => {
                valid = bytes.len() - reader.remaining();
                records.extend(frame_records);
            }
            Frame::CutShort => break,
            Frame::Damaged => return (records, valid, !reader.is_empty()),
        }
    }
    (records, valid, false)
}

/// One frame as read.
enum Frame {
    Records(Vec<LogRecord>),
    /// The file ends inside the frame (a torn last write).
    CutShort,
    /// All its bytes are there, but its CRC fails or a record is malformed.
    Damaged,
}

/// Reads one frame, leaving `reader` after it.
fn next_frame(reader: &mut Reader<'_>) -> Frame {
    let (Some(len), Some(crc)) = (reader.u32(), reader.u32()) else {
        return Frame::CutShort;
    };
    let Some(payload) = usize::try_from(len).ok().and_then(|len| reader.take(len)) else {
        return Frame::CutShort;
    };
    if crc32c::crc32c(payload) != crc {
        return Frame::Damaged;
    }
    let mut records = Vec::new();
    let mut inner = Reader::new(payload);
    while !inner.is_empty() {
        match LogRecord::decode(&mut inner) {
            Some(record) => records.push(record),
            None => return Frame::Damaged,
        }
    }
    Frame::Records(records)
}

fn encode_frame(records: &[LogRecord]) -> BytesMut {
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

/// Writes a complete log holding `records` to `path`, replacing any file there.
fn write_fresh(path: &Path, records: &[LogRecord], fsync: bool) -> Result<(), GroupError> {
    let mut file = File::create(path).map_err(|e| GroupError::io(path, e))?;
    let mut bytes = BytesMut::from(&HEADER[..]);
    // Many small frames keep each frame's length far from the u32 limit.
    for chunk in records.chunks(1024) {
        bytes.put_slice(&encode_frame(chunk));
    }
    file.write_all(&bytes)
        .map_err(|e| GroupError::io(path, e))?;
    if fsync {
        file.sync_all().map_err(|e| GroupError::io(path, e))?;
    }
    Ok(())
}

/// Makes a rename durable: the directory entry itself must reach the disk.
fn sync_dir(dir: &Path) -> Result<(), GroupError> {
    match File::open(dir) {
        Ok(handle) => handle.sync_all().map_err(|e| GroupError::io(dir, e)),
        // Some platforms cannot open directories; the rename is still atomic there.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
