//! Telling files apart: which file is this, and is it still the one we
//! were reading?
//!
//! A [`FileId`] is the device and inode number (unix): it survives a rename,
//! so a rotated file is recognised under its new name. Inode numbers are
//! reused once a file is deleted, and a file truncated and written again
//! (copytruncate) keeps its inode, so a resume also checks content: a
//! [`Fingerprint`] of the file's first bytes and a [`ContentCheck`] of the
//! bytes just before the resume position must still be what was read.

use std::fmt;
use std::fs::Metadata;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How many leading bytes of a file the fingerprint covers.
pub const FINGERPRINT_BYTES: usize = 1024;

/// Device and inode of a file (both 0 on platforms without them, where
/// rotation by rename is not detected).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId {
    /// The device holding the file.
    pub device: u64,
    /// The inode number on that device.
    pub inode: u64,
}

impl FileId {
    /// The id of the file these metadata describe.
    pub fn of(metadata: &Metadata) -> FileId {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileId {
                device: metadata.dev(),
                inode: metadata.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            FileId {
                device: 0,
                inode: 0,
            }
        }
    }

    /// Parses the `device:inode` form written by `Display`.
    pub fn parse(text: &str) -> Option<FileId> {
        let (device, inode) = text.split_once(':')?;
        Some(FileId {
            device: device.parse().ok()?,
            inode: inode.parse().ok()?,
        })
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.device, self.inode)
    }
}

/// CRC-32C of a file's first `len` bytes (`len` ≤ [`FINGERPRINT_BYTES`];
/// smaller while the file is shorter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// How many leading bytes the checksum covers.
    pub len: u32,
    /// Their CRC-32C.
    pub crc: u32,
}

impl Fingerprint {
    /// The fingerprint of `head`, the first bytes of a file.
    pub fn of(head: &[u8]) -> Fingerprint {
        let head = head.get(..FINGERPRINT_BYTES).unwrap_or(head);
        Fingerprint {
            len: head.len() as u32,
            crc: crc32c::crc32c(head),
        }
    }

    /// Whether the file at `path` still starts with the bytes this
    /// fingerprint was taken of (false if it is shorter now).
    pub fn matches_file(&self, path: &Path) -> std::io::Result<bool> {
        let mut head = Vec::with_capacity((self.len as usize).min(FINGERPRINT_BYTES));
        std::fs::File::open(path)?
            .take(u64::from(self.len))
            .read_to_end(&mut head)?;
        Ok(head.len() == self.len as usize && crc32c::crc32c(&head) == self.crc)
    }
}

/// CRC-32C of the bytes `[offset, offset + len)` of a file: content that
/// must still be there for a resume to be trusted (`len` ≤
/// [`FINGERPRINT_BYTES`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentCheck {
    /// Where the bytes start.
    pub offset: u64,
    /// How many bytes.
    pub len: u32,
    /// Their CRC-32C.
    pub crc: u32,
}

impl ContentCheck {
    /// The check of the last bytes (at most [`FINGERPRINT_BYTES`]) of a
    /// line ending at byte `end`: `text`, then a `\n` if `newline`.
    pub fn line_tail(end: u64, text: &[u8], newline: bool) -> ContentCheck {
        let room = FINGERPRINT_BYTES - usize::from(newline);
        let text = text.get(text.len().saturating_sub(room)..).unwrap_or(text);
        let mut crc = crc32c::crc32c(text);
        if newline {
            crc = crc32c::crc32c_append(crc, b"\n");
        }
        let len = text.len() + usize::from(newline);
        ContentCheck {
            offset: end.saturating_sub(len as u64),
            len: len as u32,
            crc,
        }
    }

    /// Byte after the checked bytes.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(u64::from(self.len))
    }

    /// Whether the file at `path` still holds those bytes (false if it is
    /// shorter now).
    pub fn matches_file(&self, path: &Path) -> std::io::Result<bool> {
        use std::io::{Seek, SeekFrom};
        let mut file = std::fs::File::open(path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::with_capacity((self.len as usize).min(FINGERPRINT_BYTES));
        file.take(u64::from(self.len)).read_to_end(&mut bytes)?;
        Ok(bytes.len() == self.len as usize && crc32c::crc32c(&bytes) == self.crc)
    }
}

/// Looks for the file with id `id` at `path` or next to it: rotated
/// copies keep the start of the name (`access.log.1`, `access.log-2026…`).
/// Returns its current path, or `None` if it is gone.
pub fn locate(path: &Path, id: FileId) -> std::io::Result<Option<PathBuf>> {
    if std::fs::metadata(path).is_ok_and(|m| FileId::of(&m) == id) {
        return Ok(Some(path.to_path_buf()));
    }
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().starts_with(&name) {
            continue;
        }
        // Entries may vanish while we look; that file is simply not it.
        if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file() && FileId::of(&m) == id) {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_id_round_trips_through_text() {
        let id = FileId {
            device: 2049,
            inode: 123_456,
        };
        assert_eq!(FileId::parse(&id.to_string()), Some(id));
        assert_eq!(FileId::parse("12"), None);
        assert_eq!(FileId::parse("a:1"), None);
    }

    #[test]
    fn fingerprint_covers_only_the_head_and_detects_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let mut content = vec![b'a'; FINGERPRINT_BYTES + 10];
        std::fs::write(&path, &content).unwrap();
        let print = Fingerprint::of(&content);
        assert_eq!(print.len as usize, FINGERPRINT_BYTES);
        assert!(print.matches_file(&path).unwrap());
        content[FINGERPRINT_BYTES + 5] = b'b';
        std::fs::write(&path, &content).unwrap();
        assert!(
            print.matches_file(&path).unwrap(),
            "bytes past the head do not count"
        );
        content[3] = b'b';
        std::fs::write(&path, &content).unwrap();
        assert!(!print.matches_file(&path).unwrap());
        std::fs::write(&path, b"aa").unwrap();
        assert!(
            !print.matches_file(&path).unwrap(),
            "a shorter file does not match"
        );
    }

    #[test]
    fn a_content_check_covers_the_end_of_a_line_and_sees_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        std::fs::write(&path, b"first\nsecond\nthird").unwrap();
        let second = ContentCheck::line_tail(13, b"second", true);
        assert_eq!((second.offset, second.len, second.end()), (6, 7, 13));
        assert!(second.matches_file(&path).unwrap());
        let cut = ContentCheck::line_tail(18, b"third", false);
        assert_eq!((cut.offset, cut.len), (13, 5));
        assert!(cut.matches_file(&path).unwrap());
        // A line longer than the check: only its last bytes count.
        let long = vec![b'y'; FINGERPRINT_BYTES * 2];
        let check = ContentCheck::line_tail(5000, &long, true);
        assert_eq!(
            (check.offset, check.len as usize),
            (5000 - 1024, FINGERPRINT_BYTES)
        );
        // Rewritten with the same first line, or cut short: no match.
        std::fs::write(&path, b"first\nsecont\nthird").unwrap();
        assert!(!second.matches_file(&path).unwrap());
        std::fs::write(&path, b"first\nsec").unwrap();
        assert!(!second.matches_file(&path).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn locate_finds_a_rotated_file_by_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        std::fs::write(&path, b"one\n").unwrap();
        let id = FileId::of(&std::fs::metadata(&path).unwrap());
        assert_eq!(locate(&path, id).unwrap(), Some(path.clone()));
        let rotated = dir.path().join("access.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        std::fs::write(&path, b"two\n").unwrap();
        assert_eq!(locate(&path, id).unwrap(), Some(rotated.clone()));
        std::fs::remove_file(&rotated).unwrap();
        assert_eq!(locate(&path, id).unwrap(), None);
    }
}
