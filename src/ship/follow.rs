//! Following a growing file like `tail -F`, one line at a time.
//!
//! ```text
//!  resume points (from the checkpoint and recovery) ──▶ files to finish first
//!            │
//!            ▼
//!  open ─▶ read chunk ─▶ split lines ─▶ Line { generation, file, start..end, text }
//!            ▲    │ at the end of the file, every poll interval:
//!            │    ├─ same file at the path, same size or larger ──▶ wait and read again
//!            │    ├─ another file at the path (rotated by rename) ──▶ read the old one to
//!            │    │     its end, hand out its unterminated last line, switch
//!            │    ├─ the open file is shorter than what was read (truncated) ──▶ start
//!            │    │     over at 0 as a new generation
//!            └────┴─ no file at the path ──▶ keep the open one and wait
//! ```
//!
//! Every file the follower reads gets a *generation* number, one more than
//! the previous file's; a truncation also starts a new generation, so a
//! (generation, byte offset) pair names one line for good.
//!
//! Lines end at `\n`, which is not part of [`Line::text`]. A line without
//! its newline is held back until the newline arrives, except when the
//! follower leaves the file (rotation, truncation): then it is handed out
//! as it is. A line longer than `max_line_bytes` is cut into pieces of that
//! size, so memory stays bounded by `max_line_bytes` plus one read chunk.
//!
//! Polling, not inotify: at the end of the file the follower checks the
//! file every `poll_interval` (portable, and a rotation is caught by the
//! same check that sees new bytes). Before each read it also checks that
//! the last bytes it read are still there, which catches a truncation
//! followed by more writes than were read (the file never looked shorter).

use std::collections::VecDeque;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::ShipError;
use super::identity::{locate, ContentCheck, FileId, Fingerprint, FINGERPRINT_BYTES};

/// How much one read takes from the file. Each read of a tokio file is a
/// trip to the blocking pool and back (two thread wake-ups), so reads are
/// large: at 1 MiB a file of 100 B lines costs one trip per ~10,000 lines
/// (64 KiB reads made the trips a visible share of the agent's CPU).
const READ_CHUNK: usize = 1024 * 1024;

/// Reads go on into the current buffer block while it has this much room.
const MIN_READ: usize = 64 * 1024;

/// Bytes remembered from just before the read position: before each read
/// they are compared with the file, so a file truncated and written past
/// that position between two reads (copytruncate) is not read on from the
/// middle of its new content.
const RECENT_BYTES: usize = 64;

/// One line (or one piece of an overlong line) of a followed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Generation of the file it was read from.
    pub generation: u64,
    /// That file's device and inode.
    pub file: FileId,
    /// That file's fingerprint as far as it had been read.
    pub fingerprint: Fingerprint,
    /// Byte offset of the line's first byte.
    pub start: u64,
    /// Byte offset just after the line (after its newline, if it has one).
    pub end: u64,
    /// The line without its newline.
    pub text: Bytes,
}

impl Line {
    /// The check of the line's last bytes (with its newline), to tell on
    /// resume that the file still holds them. Computed on demand: only the
    /// line a checkpoint ends at needs it.
    pub fn tail(&self) -> ContentCheck {
        let newline = self.end.saturating_sub(self.start) > self.text.len() as u64;
        ContentCheck::line_tail(self.end, &self.text, newline)
    }
}

/// A file to finish before the one at the path: where the checkpoint
/// stopped, or a file recovery found lines of in the topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResumePoint {
    /// The file's generation.
    pub generation: u64,
    /// Its device and inode.
    pub file: FileId,
    /// Its fingerprint, when known (from the checkpoint).
    pub fingerprint: Option<Fingerprint>,
    /// Bytes the file must still hold, when known: the end of the line
    /// before `position`.
    pub content: Option<ContentCheck>,
    /// Where to continue reading it.
    pub position: u64,
}

impl ResumePoint {
    /// Whether the file at `path` is still the one this point was taken
    /// of: as long as `position`, starting with the fingerprinted bytes and
    /// holding the checked ones. A file truncated (copytruncate) and
    /// written again fails, even when it has the same first bytes.
    fn still_matches(&self, path: &Path) -> std::io::Result<bool> {
        if std::fs::metadata(path)?.len() < self.position {
            return Ok(false);
        }
        if let Some(print) = self.fingerprint {
            if !print.matches_file(path)? {
                return Ok(false);
            }
        }
        match self.content {
            Some(check) => check.matches_file(path),
            None => Ok(true),
        }
    }
}

/// Reads lines from a file that grows, rotates and is truncated.
#[derive(Debug)]
pub struct FileFollower {
    path: PathBuf,
    poll_interval: Duration,
    max_line_bytes: usize,
    resume: VecDeque<ResumePoint>,
    next_generation: u64,
    current: Option<OpenFile>,
}

#[derive(Debug)]
struct OpenFile {
    file: tokio::fs::File,
    id: FileId,
    generation: u64,
    /// The first bytes of the file, up to [`FINGERPRINT_BYTES`].
    head: Vec<u8>,
    fingerprint: Fingerprint,
    /// Offset of `buffer[0]` in the file.
    line_start: u64,
    /// Bytes read and not yet handed out as lines.
    buffer: BytesMut,
    /// Set once the file is known to be replaced: read to the end, then leave.
    leaving: bool,
    /// The last bytes read (at most [`RECENT_BYTES`]), ending at `position()`.
    recent: Vec<u8>,
    /// The same file for positioned reads that leave `file`'s cursor alone.
    #[cfg(unix)]
    raw: std::fs::File,
}

/// What the path shows when the open file has no more bytes.
enum PathState {
    Unchanged,
    Rotated,
    Truncated,
    Missing,
}

impl FileFollower {
    /// A follower of `path`. It first finishes the `resume` files, in
    /// order, then follows whatever file is at `path`, numbering new files
    /// from `next_generation`.
    pub fn new(
        path: impl Into<PathBuf>,
        poll_interval: Duration,
        max_line_bytes: usize,
        resume: Vec<ResumePoint>,
        next_generation: u64,
    ) -> FileFollower {
        FileFollower {
            path: path.into(),
            poll_interval,
            max_line_bytes: max_line_bytes.max(1),
            resume: resume.into(),
            next_generation,
            current: None,
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next line if one is already read, with no I/O and no waiting:
    /// the reader takes the lines of one read in a burst this way, and
    /// hands them on together, before it waits on the file again.
    pub fn buffered_line(&mut self) -> Option<Line> {
        self.current.as_mut()?.take_line(self.max_line_bytes)
    }

    /// The next line, waiting for one to be written. Cancel-safe: the
    /// reader drops it for a transaction's commit and for shutdown, and a
    /// later call goes on where it stopped (a resume point leaves the
    /// queue only once opened; tokio's file keeps a read in progress for
    /// the next call; the rest changes state only between awaits).
    pub async fn next_line(&mut self) -> Result<Line, ShipError> {
        loop {
            let Some(open) = self.current.as_mut() else {
                if !self.open_next().await? {
                    tokio::time::sleep(self.poll_interval).await;
                }
                continue;
            };
            if let Some(line) = open.take_line(self.max_line_bytes) {
                return Ok(line);
            }
            if open.rewritten().map_err(|e| file_error(&self.path, e))? {
                tracing::info!(path = %self.path.display(),
                    "file truncated and written again past the read position; reading it again from the start");
                if let Some(line) = self.leave_file() {
                    return Ok(line);
                }
                continue;
            }
            if open
                .read_more()
                .await
                .map_err(|e| file_error(&self.path, e))?
                > 0
            {
                continue;
            }
            if open.leaving {
                let rest = open.take_rest();
                self.current = None;
                match rest {
                    Some(line) => return Ok(line),
                    None => continue,
                }
            }
            match path_state(&self.path, open).await? {
                PathState::Unchanged | PathState::Missing => {
                    tokio::time::sleep(self.poll_interval).await
                }
                // One more pass: the writer may have appended between our
                // last read and its switch to the new file.
                PathState::Rotated => open.leaving = true,
                // The bytes after our position are gone; keep what was read.
                PathState::Truncated => {
                    tracing::info!(path = %self.path.display(), "file truncated; reading it again from the start");
                    if let Some(line) = self.leave_file() {
                        return Ok(line);
                    }
                }
            }
        }
    }

    /// Leaves the open file, whose bytes after the position are gone: the
    /// next one opened is the file at the path, from 0, as a new
    /// generation. Returns what was read of an unterminated last line.
    fn leave_file(&mut self) -> Option<Line> {
        let rest = self.current.as_mut().and_then(OpenFile::take_rest);
        self.current = None;
        rest
    }

    /// Opens the next resume point, or else the file at the path. Returns
    /// false when there is nothing to open yet.
    async fn open_next(&mut self) -> Result<bool, ShipError> {
        while let Some(&point) = self.resume.front() {
            let opened = self.open_resume_point(point).await?;
            // Only now: a call dropped while opening must find it again.
            self.resume.pop_front();
            if let Some(open) = opened {
                self.next_generation = self.next_generation.max(point.generation.saturating_add(1));
                self.current = Some(open);
                return Ok(true);
            }
        }
        match OpenFile::open(&self.path, self.next_generation, 0).await {
            Ok(open) => {
                tracing::info!(path = %self.path.display(), generation = open.generation, file = %open.id, "following file");
                self.next_generation = self.next_generation.saturating_add(1);
                self.current = Some(open);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(file_error(&self.path, e)),
        }
    }

    async fn open_resume_point(&self, point: ResumePoint) -> Result<Option<OpenFile>, ShipError> {
        let path = self.path.clone();
        let located = tokio::task::spawn_blocking(move || {
            let found = locate(&path, point.file)?;
            match found {
                Some(found) if !point.still_matches(&found)? => Ok(None),
                found => Ok(found),
            }
        })
        .await
        .map_err(|e| file_error(&self.path, std::io::Error::other(e)))?
        .map_err(|e| file_error(&self.path, e))?;
        let Some(found) = located else {
            tracing::warn!(path = %self.path.display(), generation = point.generation, file = %point.file,
                "a file to resume is gone (deleted, or truncated and rewritten); lines of it not yet shipped are lost");
            return Ok(None);
        };
        match OpenFile::open(&found, point.generation, point.position).await {
            Ok(open) => {
                tracing::info!(path = %found.display(), generation = point.generation, position = point.position, "resuming file");
                Ok(Some(open))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(&found, e)),
        }
    }
}

/// What the path shows now that `open` has no more bytes.
async fn path_state(path: &Path, open: &mut OpenFile) -> Result<PathState, ShipError> {
    let length = open
        .file
        .metadata()
        .await
        .map_err(|e| file_error(path, e))?
        .len();
    if length < open.position() {
        return Ok(PathState::Truncated);
    }
    match tokio::fs::metadata(path).await {
        Ok(metadata) if FileId::of(&metadata) != open.id => Ok(PathState::Rotated),
        Ok(_) => Ok(PathState::Unchanged),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PathState::Missing),
        Err(e) => Err(file_error(path, e)),
    }
}

impl OpenFile {
    async fn open(path: &Path, generation: u64, position: u64) -> std::io::Result<OpenFile> {
        let mut file = tokio::fs::File::open(path).await?;
        let id = FileId::of(&file.metadata().await?);
        let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
        (&mut file)
            .take(FINGERPRINT_BYTES as u64)
            .read_to_end(&mut head)
            .await?;
        file.seek(SeekFrom::Start(position)).await?;
        #[cfg(unix)]
        let raw = file.try_clone().await?.into_std().await;
        let mut open = OpenFile {
            file,
            id,
            generation,
            fingerprint: Fingerprint::of(&head),
            head,
            line_start: position,
            buffer: BytesMut::new(),
            leaving: false,
            recent: Vec::new(),
            #[cfg(unix)]
            raw,
        };
        // A resumed file was checked by content; what precedes the
        // position now is what the next reads must find still there.
        let kept = position.min(RECENT_BYTES as u64);
        if let Some(recent) = open.read_at(position - kept, kept as usize)? {
            open.recent = recent;
        }
        Ok(open)
    }

    /// `len` bytes at `offset` without moving the read cursor; `None`
    /// where positioned reads are not available, or the file is shorter.
    #[cfg(unix)]
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Option<Vec<u8>>> {
        use std::os::unix::fs::FileExt;
        let mut bytes = vec![0; len];
        let mut filled = 0;
        while filled < len {
            match self
                .raw
                .read_at(&mut bytes[filled..], offset + filled as u64)?
            {
                0 => return Ok(None),
                n => filled += n,
            }
        }
        Ok(Some(bytes))
    }

    #[cfg(not(unix))]
    fn read_at(&self, _offset: u64, _len: usize) -> std::io::Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Whether the bytes just before the position are no longer the ones
    /// read there: the file was truncated and written again (copytruncate)
    /// since the last read. Without positioned reads (non-unix) this is
    /// never noticed.
    fn rewritten(&self) -> std::io::Result<bool> {
        if self.recent.is_empty() || !cfg!(unix) {
            return Ok(false);
        }
        let start = self.position() - self.recent.len() as u64;
        Ok(self.read_at(start, self.recent.len())?.as_deref() != Some(&self.recent[..]))
    }

    /// The offset of the next byte to read.
    fn position(&self) -> u64 {
        self.line_start + self.buffer.len() as u64
    }

    /// Reads one chunk; 0 at the end of the file.
    async fn read_more(&mut self) -> std::io::Result<usize> {
        let before = self.buffer.len();
        let offset = self.position();
        // A new block only when the current one is nearly full: at the
        // end of a slowly written file each read takes a few lines, and a
        // fresh 1 MiB block per read would be pinned by those lines until
        // they are acknowledged.
        if self.buffer.capacity() - self.buffer.len() < MIN_READ {
            self.buffer.reserve(READ_CHUNK);
        }
        let room = self.buffer.capacity() - self.buffer.len();
        let read = (&mut self.file)
            .take(room as u64)
            .read_buf(&mut self.buffer)
            .await?;
        self.extend_head(offset, before);
        self.remember_recent(before);
        Ok(read)
    }

    /// Keeps the last [`RECENT_BYTES`] read, the fresh ones at `buffer[before..]`.
    fn remember_recent(&mut self, before: usize) {
        let fresh = self.buffer.get(before..).unwrap_or_default();
        if fresh.len() >= RECENT_BYTES {
            self.recent.clear();
            self.recent
                .extend_from_slice(&fresh[fresh.len() - RECENT_BYTES..]);
        } else {
            self.recent.extend_from_slice(fresh);
            let excess = self.recent.len().saturating_sub(RECENT_BYTES);
            self.recent.drain(..excess);
        }
    }

    /// Keeps the first bytes of a file that was shorter than the
    /// fingerprint when opened.
    fn extend_head(&mut self, offset: u64, buffer_before: usize) {
        let known = self.head.len();
        if known >= FINGERPRINT_BYTES || offset != known as u64 {
            return;
        }
        let fresh = self.buffer.get(buffer_before..).unwrap_or_default();
        let wanted = (FINGERPRINT_BYTES - known).min(fresh.len());
        self.head
            .extend_from_slice(fresh.get(..wanted).unwrap_or_default());
        self.fingerprint = Fingerprint::of(&self.head);
    }

    /// The next complete line, or a `max` sized piece of a longer one.
    fn take_line(&mut self, max: usize) -> Option<Line> {
        let window = self.buffer.len().min(max.saturating_add(1));
        let newline = self.buffer.get(..window)?.iter().position(|b| *b == b'\n');
        let (take, text_len) = match newline {
            Some(at) => (at + 1, at),
            None if self.buffer.len() >= max => (max, max),
            None => return None,
        };
        let mut text = self.buffer.split_to(take);
        text.truncate(text_len);
        Some(self.line(text.freeze(), take))
    }

    /// Whatever is left, as a final line without newline.
    fn take_rest(&mut self) -> Option<Line> {
        if self.buffer.is_empty() {
            return None;
        }
        let text = self.buffer.split().freeze();
        let len = text.len();
        Some(self.line(text, len))
    }

    fn line(&mut self, text: Bytes, consumed: usize) -> Line {
        let start = self.line_start;
        self.line_start += consumed as u64;
        Line {
            generation: self.generation,
            file: self.id,
            fingerprint: self.fingerprint,
            start,
            end: self.line_start,
            text,
        }
    }
}

fn file_error(path: &Path, source: std::io::Error) -> ShipError {
    ShipError::File {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;

    use super::*;

    const POLL: Duration = Duration::from_millis(10);

    async fn next(follower: &mut FileFollower) -> Line {
        tokio::time::timeout(Duration::from_secs(10), follower.next_line())
            .await
            .expect("a line within 10 s")
            .unwrap()
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[tokio::test]
    async fn waits_for_the_file_and_for_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut follower = FileFollower::new(&path, POLL, 100, Vec::new(), 0);
        let waiting = tokio::time::timeout(Duration::from_millis(50), follower.next_line()).await;
        assert!(waiting.is_err(), "no file, no line");
        let mut follower = FileFollower::new(&path, POLL, 100, Vec::new(), 0);
        append(&path, "one\ntw");
        let line = next(&mut follower).await;
        assert_eq!((&line.text[..], line.start, line.end), (&b"one"[..], 0, 4));
        let held = tokio::time::timeout(Duration::from_millis(50), follower.next_line()).await;
        assert!(held.is_err(), "an unterminated line is held back");
        let mut follower = FileFollower::new(
            &path,
            POLL,
            100,
            vec![ResumePoint {
                generation: 0,
                file: line.file,
                fingerprint: None,
                content: None,
                position: 4,
            }],
            1,
        );
        append(&path, "o\n");
        let line = next(&mut follower).await;
        assert_eq!((&line.text[..], line.start, line.end), (&b"two"[..], 4, 8));
        assert_eq!(line.generation, 0);
    }

    #[tokio::test]
    async fn overlong_lines_are_cut_into_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        append(&path, "abcdefgh\nabcd\n");
        let mut follower = FileFollower::new(&path, POLL, 4, Vec::new(), 0);
        let mut pieces = Vec::new();
        for _ in 0..3 {
            let line = next(&mut follower).await;
            pieces.push((line.text, line.start, line.end));
        }
        let expected: Vec<(Bytes, u64, u64)> = vec![
            (Bytes::from_static(b"abcd"), 0, 4),
            (Bytes::from_static(b"efgh"), 4, 9),
            (Bytes::from_static(b"abcd"), 9, 14),
        ];
        assert_eq!(pieces, expected);
        let more = tokio::time::timeout(Duration::from_millis(50), follower.next_line()).await;
        assert!(more.is_err(), "no empty line is invented after a cut line");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn rotation_finishes_the_old_file_then_switches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let rotated = dir.path().join("a.log.1");
        append(&path, "1\n");
        let mut follower = FileFollower::new(&path, POLL, 100, Vec::new(), 5);
        let first = next(&mut follower).await;
        assert_eq!((first.generation, &first.text[..]), (5, &b"1"[..]));
        append(&path, "2\n3");
        std::fs::rename(&path, &rotated).unwrap();
        append(&rotated, "\n4");
        append(&path, "new\n");
        let mut seen = Vec::new();
        for _ in 0..4 {
            let line = next(&mut follower).await;
            seen.push((
                line.generation,
                String::from_utf8(line.text.to_vec()).unwrap(),
                line.start,
            ));
        }
        assert_eq!(
            seen,
            vec![
                (5, "2".to_owned(), 2),
                (5, "3".to_owned(), 4),
                (5, "4".to_owned(), 6),
                (6, "new".to_owned(), 0),
            ]
        );
    }

    #[tokio::test]
    async fn a_file_truncated_and_written_past_the_position_is_read_again_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        append(&path, "one\ntwo\n");
        let mut follower = FileFollower::new(&path, POLL, 100, Vec::new(), 0);
        assert_eq!(&next(&mut follower).await.text[..], b"one");
        assert_eq!(&next(&mut follower).await.text[..], b"two");
        // copytruncate, and the writer already wrote more than was read:
        // the file never looks shorter than the position (8).
        std::fs::write(&path, "a longer first line\nnext\n").unwrap();
        let line = next(&mut follower).await;
        assert_eq!(
            (line.generation, &line.text[..], line.start),
            (1, &b"a longer first line"[..], 0),
            "the new content is read from its start, not from the old position"
        );
        assert_eq!(&next(&mut follower).await.text[..], b"next");
    }

    #[tokio::test]
    async fn truncation_starts_a_new_generation_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        append(&path, "first line\n");
        let mut follower = FileFollower::new(&path, POLL, 100, Vec::new(), 0);
        assert_eq!(next(&mut follower).await.generation, 0);
        std::fs::write(&path, "x\n").unwrap();
        let line = next(&mut follower).await;
        assert_eq!(
            (line.generation, &line.text[..], line.start),
            (1, &b"x"[..], 0)
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_resume_point_whose_file_was_replaced_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        append(&path, "old content\n");
        let id = FileId::of(&std::fs::metadata(&path).unwrap());
        let print = Fingerprint::of(b"old content\n");
        std::fs::write(&path, "rewritten!!\nnext\n").unwrap();
        let resume = vec![ResumePoint {
            generation: 3,
            file: id,
            fingerprint: Some(print),
            content: None,
            position: 12,
        }];
        let mut follower = FileFollower::new(&path, POLL, 100, resume, 4);
        let line = next(&mut follower).await;
        assert_eq!((line.generation, &line.text[..]), (4, &b"rewritten!!"[..]));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_resume_point_truncated_and_rewritten_with_the_same_head_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        // A header longer than the fingerprint, as some formats write.
        let header = format!("#{}\n", "h".repeat(FINGERPRINT_BYTES));
        append(&path, &format!("{header}old one\n"));
        let mut follower = FileFollower::new(&path, POLL, 4096, Vec::new(), 0);
        next(&mut follower).await;
        let old = next(&mut follower).await;
        drop(follower);
        // copytruncate, then the writer starts again: same first KiB, and
        // by now longer than the position the checkpoint has.
        std::fs::File::create(&path).unwrap();
        append(&path, &format!("{header}new one\nnew two\n"));
        let point = ResumePoint {
            generation: 0,
            file: old.file,
            fingerprint: Some(old.fingerprint),
            content: Some(old.tail()),
            position: old.end,
        };
        assert!(old.fingerprint.matches_file(&path).unwrap(), "same head");
        let mut follower = FileFollower::new(&path, POLL, 4096, vec![point], 1);
        let line = next(&mut follower).await;
        assert_eq!((line.generation, line.start), (1, 0));
        assert_eq!(&line.text[..], header.trim_end().as_bytes());
    }

    /// The reader drops `next_line` for a transaction's commit: a call cut
    /// short at any await, opening a resume point included, must lose
    /// nothing. Each attempt here gets a little longer than the last, so
    /// the follower is dropped at every stage before it gets through.
    #[cfg(unix)]
    #[tokio::test]
    async fn next_line_dropped_at_any_point_loses_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let rotated = dir.path().join("a.log.1");
        append(&path, "one\n");
        let mut follower = FileFollower::new(&path, POLL, 100, Vec::new(), 0);
        let one = next(&mut follower).await;
        drop(follower);
        // Rotated since the checkpoint after "one", with a line after it.
        append(&path, "two\n");
        std::fs::rename(&path, &rotated).unwrap();
        append(&path, "three\n");
        let point = ResumePoint {
            generation: 0,
            file: one.file,
            fingerprint: Some(one.fingerprint),
            content: Some(one.tail()),
            position: one.end,
        };
        let mut follower = FileFollower::new(&path, POLL, 100, vec![point], 1);
        // Polled once and dropped, as a commit due at once would: opening
        // the resume point runs as a blocking task, so this nearly always
        // drops the call in the middle of it.
        let mut seen = Vec::new();
        let once = tokio::select! {
            biased;
            line = follower.next_line() => Some(line.unwrap()),
            () = std::future::ready(()) => None,
        };
        let mut cut_short = usize::from(once.is_none());
        if let Some(line) = once {
            seen.push((
                line.generation,
                String::from_utf8(line.text.to_vec()).unwrap(),
            ));
        }
        let mut patience = Duration::from_micros(100);
        let started = std::time::Instant::now();
        while seen.len() < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "2 lines expected within 10 s, got {seen:?} ({cut_short} calls dropped)"
            );
            match tokio::time::timeout(patience, follower.next_line()).await {
                Ok(line) => {
                    let line = line.unwrap();
                    seen.push((
                        line.generation,
                        String::from_utf8(line.text.to_vec()).unwrap(),
                    ));
                }
                Err(_) => {
                    cut_short += 1;
                    patience += Duration::from_micros(200);
                }
            }
        }
        assert_eq!(seen, vec![(0, "two".to_owned()), (1, "three".to_owned())]);
    }
}
