//! An append-only file of CRC-checked frames: the durable form of the
//! group coordinator's committed offsets (`offsets.log`) and of the
//! transaction coordinator's state (`transactions.log`).
//!
//! ```text
//! log   = magic (8 bytes, one per kind of log) frame*
//! frame = length: u32 BE | crc: u32 BE (CRC-32C of payload) | payload: record+
//! ```
//!
//! One frame holds every record of one write, so a write lands whole or
//! not at all. On open the frames are replayed in order; the first frame
//! that is cut short, fails its CRC or does not decode ends the log, and
//! the file is truncated there (a crash during an append leaves exactly
//! such a torn tail). The bytes cut are first copied to
//! `<file>.<ms>.quarantined`: a damaged frame with more frames after it
//! (damage, not a torn write) would otherwise drop later writes without a
//! trace. Compaction writes the live records to the kind's compacting
//! file, syncs it and renames it over the log.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use bytes::{BufMut, BytesMut};

mod reader;

pub(crate) use reader::{put_str, Reader};

use crate::clock::now_ms;
use crate::storage::{FaultPoint, Faults};

/// Length and CRC in front of every frame.
pub(crate) const FRAME_OVERHEAD: usize = 8;

/// What tells one kind of framed log from another.
pub(crate) struct LogFormat {
    /// The first bytes of the file; a file starting otherwise is refused.
    pub magic: &'static [u8; 8],
    /// The log's file name inside its directory.
    pub file: &'static str,
    /// Where compaction writes before renaming over the log.
    pub compacting: &'static str,
    /// Records per frame when the log is rewritten whole (keeps each
    /// frame's length far from the u32 limit).
    pub rewrite_frame_records: usize,
    /// Checked before each append, so tests can inject storage faults.
    pub fault_point: Option<FaultPoint>,
}

/// A record kind stored in a framed log.
pub(crate) trait FramedRecord: Sized {
    /// The kind's file names and magic.
    const FORMAT: LogFormat;

    /// The error its log's operations return (its coordinator's).
    type Error: From<FramedLogError>;

    /// Appends this record's encoding to `out`.
    fn encode(&self, out: &mut BytesMut);

    /// Every record of one frame's payload; `None` if any is malformed.
    fn decode_all(payload: &[u8]) -> Option<Vec<Self>>;
}

/// Why a framed log could not be opened or written; each coordinator
/// turns it into its own error type.
#[derive(Debug)]
pub(crate) enum FramedLogError {
    /// Reading, writing or syncing `path` failed.
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// `path` does not start with the kind's magic; it is left untouched.
    UnknownFormat {
        /// The file with the unexpected start.
        path: PathBuf,
    },
}

impl FramedLogError {
    fn io(path: impl AsRef<Path>, source: std::io::Error) -> FramedLogError {
        FramedLogError::Io {
            path: path.as_ref().to_owned(),
            source,
        }
    }
}

/// What replaying a log found.
#[derive(Debug)]
pub(crate) struct Replay<R> {
    /// Every record, in order.
    pub records: Vec<R>,
    /// Bytes cut from the end because they did not form a valid frame.
    pub truncated_bytes: u64,
    /// Where the cut bytes were kept, so nothing is dropped without a copy.
    pub quarantined: Option<PathBuf>,
    /// Whether a complete frame failed its CRC or decoding with more bytes
    /// after it: writes made after the damage were cut, not just a torn
    /// last write.
    pub damage_before_end: bool,
}

/// An open framed log of `R` records, positioned for appends.
pub(crate) struct FramedLog<R> {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Bytes of valid data; a failed append is cut back to this.
    len: u64,
    fsync: bool,
    /// Records in the file, live or superseded; compaction compares it
    /// with the live set.
    records: u64,
    /// Storage faults injected by tests (nothing in production builds).
    faults: Faults,
    kind: PhantomData<fn() -> R>,
}

impl<R: FramedRecord> FramedLog<R> {
    /// Opens (creating if needed) the log in `dir`, returning it with the
    /// records it holds.
    pub fn open(dir: &Path, fsync: bool) -> Result<(FramedLog<R>, Replay<R>), R::Error> {
        Ok(Self::open_or_fail(dir, fsync)?)
    }

    fn open_or_fail(dir: &Path, fsync: bool) -> Result<(FramedLog<R>, Replay<R>), FramedLogError> {
        let format = &R::FORMAT;
        std::fs::create_dir_all(dir).map_err(|e| FramedLogError::io(dir, e))?;
        let path = dir.join(format.file);
        // A leftover from a compaction interrupted before its rename is
        // incomplete by definition: the log itself is still authoritative.
        let leftover = dir.join(format.compacting);
        if leftover.exists() {
            std::fs::remove_file(&leftover).map_err(|e| FramedLogError::io(&leftover, e))?;
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(FramedLogError::io(&path, e)),
        };
        let magic = &format.magic[..];
        let (records, valid_len, damage_before_end) = if bytes.len() < magic.len() {
            // Empty, or a crash while the magic itself was written: start afresh.
            if !magic.starts_with(&bytes) {
                return Err(FramedLogError::UnknownFormat { path });
            }
            write_fresh::<R>(&path, &[], fsync)?;
            (Vec::new(), magic.len(), false)
        } else if !bytes.starts_with(magic) {
            return Err(FramedLogError::UnknownFormat { path });
        } else {
            parse_frames::<R>(&bytes, magic.len())
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| FramedLogError::io(&path, e))?;
        let truncated_bytes = bytes.len().saturating_sub(valid_len) as u64;
        let mut quarantined = None;
        if truncated_bytes > 0 {
            // Keep a copy of what is cut before cutting it: a damaged frame
            // in the middle would otherwise take every later write with it.
            let copy = dir.join(format!("{}.{}.quarantined", format.file, now_ms()));
            let tail = bytes.get(valid_len..).unwrap_or_default();
            std::fs::write(&copy, tail)
                .and_then(|()| File::open(&copy)?.sync_all())
                .map_err(|e| FramedLogError::io(&copy, e))?;
            sync_dir(dir)?;
            quarantined = Some(copy);
            file.set_len(valid_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| FramedLogError::io(&path, e))?;
        }
        let log = FramedLog {
            dir: dir.to_owned(),
            path,
            file,
            len: valid_len as u64,
            fsync,
            records: records.len() as u64,
            faults: Faults::default(),
            kind: PhantomData,
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

    /// Appends `records` as one frame and (if configured) syncs it to disk.
    ///
    /// On failure the file is cut back to its previous length, so a
    /// half-written frame can never hide later appends from the next replay.
    pub fn append(&mut self, records: &[R]) -> Result<(), R::Error> {
        if records.is_empty() {
            return Ok(());
        }
        let frame = encode_frame(records);
        if let Err(e) = self.write_at_end(&frame) {
            // Best effort: if even this fails, the torn tail is dropped on the next open.
            let _ = self.file.set_len(self.len);
            return Err(FramedLogError::io(&self.path, e).into());
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
        if let Some(point) = R::FORMAT.fault_point {
            self.faults.check(point)?;
        }
        self.file.seek(SeekFrom::Start(self.len))?;
        self.file.write_all(frame)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Forces everything appended so far to disk (for logs opened without
    /// per-append fsync).
    pub fn sync(&self) -> Result<(), R::Error> {
        self.file
            .sync_all()
            .map_err(|e| FramedLogError::io(&self.path, e).into())
    }

    /// Replaces the log with one holding only `live`, atomically: a crash
    /// leaves either the old log or the new one.
    pub fn rewrite(&mut self, live: &[R]) -> Result<(), R::Error> {
        Ok(self.rewrite_or_fail(live)?)
    }

    fn rewrite_or_fail(&mut self, live: &[R]) -> Result<(), FramedLogError> {
        let tmp = self.dir.join(R::FORMAT.compacting);
        write_fresh(&tmp, live, true)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| FramedLogError::io(&self.path, e))?;
        sync_dir(&self.dir)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| FramedLogError::io(&self.path, e))?;
        self.len = file
            .metadata()
            .map_err(|e| FramedLogError::io(&self.path, e))?
            .len();
        self.file = file;
        self.records = live.len() as u64;
        Ok(())
    }
}

/// Splits `bytes` (magic included, `start` bytes of it) into records,
/// returning them with the length of the valid prefix and whether a
/// complete but damaged frame had more bytes after it.
fn parse_frames<R: FramedRecord>(bytes: &[u8], start: usize) -> (Vec<R>, usize, bool) {
    let mut records = Vec::new();
    let mut valid = start;
    let mut rest = bytes.get(start..).unwrap_or_default();
    while !rest.is_empty() {
        let Some((len, crc, after_head)) = frame_head(rest) else {
            break; // cut short inside the frame's length or CRC
        };
        let Some(payload) = usize::try_from(len).ok().and_then(|l| after_head.get(..l)) else {
            break; // cut short inside the payload: a torn last write
        };
        rest = &after_head[payload.len()..];
        let decoded = (crc32c::crc32c(payload) == crc)
            .then(|| R::decode_all(payload))
            .flatten();
        match decoded {
            Some(frame) => {
                records.extend(frame);
                valid = bytes.len() - rest.len();
            }
            None => return (records, valid, !rest.is_empty()),
        }
    }
    (records, valid, false)
}

/// A frame's length and CRC, and the bytes after them.
fn frame_head(bytes: &[u8]) -> Option<(u32, u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<FRAME_OVERHEAD>()?;
    let (len, crc) = head.split_at(4);
    Some((
        u32::from_be_bytes(len.try_into().ok()?),
        u32::from_be_bytes(crc.try_into().ok()?),
        rest,
    ))
}

fn encode_frame<R: FramedRecord>(records: &[R]) -> BytesMut {
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
fn write_fresh<R: FramedRecord>(
    path: &Path,
    records: &[R],
    fsync: bool,
) -> Result<(), FramedLogError> {
    let mut file = File::create(path).map_err(|e| FramedLogError::io(path, e))?;
    let mut bytes = BytesMut::from(&R::FORMAT.magic[..]);
    for chunk in records.chunks(R::FORMAT.rewrite_frame_records.max(1)) {
        bytes.put_slice(&encode_frame(chunk));
    }
    file.write_all(&bytes)
        .map_err(|e| FramedLogError::io(path, e))?;
    if fsync {
        file.sync_all().map_err(|e| FramedLogError::io(path, e))?;
    }
    Ok(())
}

/// Makes a rename durable: the directory entry itself must reach the disk.
fn sync_dir(dir: &Path) -> Result<(), FramedLogError> {
    match File::open(dir) {
        Ok(handle) => handle.sync_all().map_err(|e| FramedLogError::io(dir, e)),
        // Some platforms cannot open directories; the rename is still atomic there.
        Err(_) => Ok(()),
    }
}
