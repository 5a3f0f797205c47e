//! The checkpoint file: how far the shipper got, written atomically.
//!
//! The file is a few `key=value` lines under a version line:
//!
//! ```text
//! durian-ship-checkpoint 1
//! topic=web_log
//! partition=2
//! source=/var/log/nginx/access.log
//! scan_from=18342
//! generation=3
//! file=2049:1837221
//! fingerprint=1024:3a5be1c0
//! tail=81:9b1f00d2
//! position=7340032
//! complete=false
//! ```
//!
//! `position` is the byte after the last line known to be acknowledged in
//! file `generation` (identified by `file` and `fingerprint`; both absent
//! while no file has been seen). `tail` is the CRC-32C of the last bytes
//! of that line (at most 1 KiB, ending at `position`): a file truncated
//! and written again with the same first bytes fails it, and is read from
//! byte 0 as a new generation instead of from a stale position. `scan_from` is a partition offset at or
//! before every record shipped past that position: recovery reads the
//! partition from there. `complete=true` is written only by an agent that
//! stopped with every line it sent acknowledged and every line recovery
//! found in the topic behind `position`: then no line past `position` is
//! in the topic, and the next start needs no scan (so it does not matter
//! if retention has deleted the records at `scan_from` since). An agent
//! starting from such a checkpoint rewrites it with `complete=false`
//! before it sends anything. A store writes a temporary file next to the
//! checkpoint, fsyncs it, renames it over the old one and fsyncs the
//! directory, so a crash leaves either the old or the new checkpoint,
//! never a torn one.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::ShipError;
use super::identity::{ContentCheck, FileId, Fingerprint, FINGERPRINT_BYTES};

const HEADER: &str = "durian-ship-checkpoint 1";
/// A checkpoint is a few hundred bytes; anything much larger is not one.
const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;

/// The file a checkpoint position refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointFile {
    /// Device and inode.
    pub id: FileId,
    /// The file's first bytes, to tell it from a later file reusing the inode.
    pub fingerprint: Fingerprint,
    /// The last bytes before the position (absent in checkpoints of older
    /// versions), to tell the file from itself truncated and rewritten.
    pub tail: Option<ContentCheck>,
}

/// The saved progress of one shipper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The topic lines are shipped to.
    pub topic: String,
    /// The partition every line of this source goes to.
    pub partition: i32,
    /// The source name (the record key).
    pub source: String,
    /// Partition offset from which recovery reads the topic.
    pub scan_from: i64,
    /// Generation of the file `position` refers to; it grows by one with
    /// every new file (rotation) and every truncation.
    pub generation: u64,
    /// That file, once one has been seen.
    pub file: Option<CheckpointFile>,
    /// Byte offset after the last acknowledged line of that file.
    pub position: u64,
    /// Whether the topic is known to hold no line of this source past
    /// `position` (written on a clean stop), so a restart needs no scan.
    pub complete: bool,
}

impl Checkpoint {
    /// Reads the checkpoint at `path`; `None` if there is none yet.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, ShipError> {
        let io_error = |source| ShipError::CheckpointIo {
            path: path.to_path_buf(),
            source,
        };
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(e)),
        };
        if metadata.len() > MAX_CHECKPOINT_BYTES {
            return Err(invalid(
                path,
                format!(
                    "{} bytes, more than a checkpoint ever holds",
                    metadata.len()
                ),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(io_error)?;
        Checkpoint::parse(&text)
            .map(Some)
            .map_err(|reason| invalid(path, reason))
    }

    /// Writes the checkpoint to `path` atomically (temp file, fsync,
    /// rename, directory fsync). Blocking: call it off the async threads.
    pub fn store(&self, path: &Path) -> Result<(), ShipError> {
        let io_error = |source| ShipError::CheckpointIo {
            path: path.to_path_buf(),
            source,
        };
        let temporary = temporary_path(path);
        let mut file = std::fs::File::create(&temporary).map_err(io_error)?;
        file.write_all(self.render().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error)?;
        drop(file);
        std::fs::rename(&temporary, path).map_err(io_error)?;
        sync_parent(path).map_err(io_error)
    }

    fn render(&self) -> String {
        let mut text = format!(
            "{HEADER}\ntopic={}\npartition={}\nsource={}\nscan_from={}\ngeneration={}\n",
            self.topic, self.partition, self.source, self.scan_from, self.generation
        );
        if let Some(file) = &self.file {
            text.push_str(&format!(
                "file={}\nfingerprint={}:{:08x}\n",
                file.id, file.fingerprint.len, file.fingerprint.crc
            ));
            if let Some(tail) = file.tail {
                text.push_str(&format!("tail={}:{:08x}\n", tail.len, tail.crc));
            }
        }
        text.push_str(&format!(
            "position={}\ncomplete={}\n",
            self.position, self.complete
        ));
        text
    }

    fn parse(text: &str) -> Result<Checkpoint, String> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(format!("the first line is not `{HEADER}`"));
        }
        let mut fields = std::collections::BTreeMap::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line `{line}` is not key=value"))?;
            if fields.insert(key, value).is_some() {
                return Err(format!("`{key}` appears twice"));
            }
        }
        let field = |key: &str| {
            fields
                .get(key)
                .copied()
                .ok_or_else(|| format!("`{key}` is missing"))
        };
        let number = |key: &str| -> Result<i64, String> {
            let value = field(key)?;
            value
                .parse()
                .map_err(|_| format!("`{key}={value}` is not a number"))
        };
        let unsigned = |key: &str| -> Result<u64, String> {
            u64::try_from(number(key)?).map_err(|_| format!("`{key}` is negative"))
        };
        let position = unsigned("position")?;
        let tail = match fields.get("tail") {
            None => None,
            Some(text) => {
                let print = parse_fingerprint(text)
                    .filter(|print| u64::from(print.len) <= position)
                    .ok_or_else(|| format!("`tail={text}` is not LEN:CRC with LEN ≤ position"))?;
                Some(ContentCheck {
                    offset: position - u64::from(print.len),
                    len: print.len,
                    crc: print.crc,
                })
            }
        };
        let file = match (fields.get("file"), fields.get("fingerprint")) {
            (None, None) if tail.is_none() => None,
            (Some(id), Some(print)) => Some(CheckpointFile {
                id: FileId::parse(id).ok_or_else(|| format!("`file={id}` is not DEVICE:INODE"))?,
                fingerprint: parse_fingerprint(print)
                    .ok_or_else(|| format!("`fingerprint={print}` is not LEN:CRC"))?,
                tail,
            }),
            _ => return Err("`file` and `fingerprint` (and `tail`) must come together".to_owned()),
        };
        let partition = i32::try_from(number("partition")?)
            .ok()
            .filter(|p| *p >= 0)
            .ok_or("`partition` is out of range")?;
        Ok(Checkpoint {
            topic: field("topic")?.to_owned(),
            partition,
            source: field("source")?.to_owned(),
            scan_from: number("scan_from")?.max(0),
            generation: unsigned("generation")?,
            file,
            position,
            // Absent in checkpoints of older versions: scan, as they did.
            complete: match fields.get("complete").copied() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => return Err(format!("`complete={other}` is not true or false")),
            },
        })
    }
}

fn parse_fingerprint(text: &str) -> Option<Fingerprint> {
    let (len, crc) = text.split_once(':')?;
    let len: u32 = len.parse().ok()?;
    // Bounded here because resuming reads (and allocates) that many bytes.
    if len as usize > FINGERPRINT_BYTES {
        return None;
    }
    Some(Fingerprint {
        len,
        crc: u32::from_str_radix(crc, 16).ok()?,
    })
}

fn invalid(path: &Path, reason: String) -> ShipError {
    ShipError::CheckpointInvalid {
        path: path.to_path_buf(),
        reason,
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes the rename durable: on unix the directory entry lives in the
/// directory's own data, which needs its own fsync.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            topic: "web_log".into(),
            partition: 2,
            source: "/var/log/access.log".into(),
            scan_from: 18_342,
            generation: 3,
            file: Some(CheckpointFile {
                id: FileId {
                    device: 2049,
                    inode: 77,
                },
                fingerprint: Fingerprint {
                    len: 1024,
                    crc: 0x3a5b_e1c0,
                },
                tail: Some(ContentCheck {
                    offset: 7_340_032 - 81,
                    len: 81,
                    crc: 0x9b1f_00d2,
                }),
            }),
            position: 7_340_032,
            complete: false,
        }
    }

    #[test]
    fn store_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ship.ckpt");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let mut checkpoint = sample();
        checkpoint.store(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint.clone()));
        if let Some(file) = &mut checkpoint.file {
            file.tail = None; // as written by an older version
        }
        checkpoint.store(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint.clone()));
        checkpoint.file = None;
        checkpoint.position = 0;
        checkpoint.complete = true;
        checkpoint.store(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(checkpoint));
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn a_checkpoint_without_complete_is_not_complete() {
        // Written by an older version: the restart must scan, as it did.
        let text = sample().render().replace("complete=false\n", "");
        assert_eq!(Checkpoint::parse(&text).unwrap(), sample());
    }

    #[test]
    fn damaged_checkpoints_are_errors_naming_the_problem() {
        let good = sample().render();
        let cases = [
            (String::new(), "first line"),
            (
                good.replace("position=7340032", "position=x"),
                "not a number",
            ),
            (
                good.replace("position=7340032\n", ""),
                "`position` is missing",
            ),
            (good.replace("generation=3", "generation=-3"), "negative"),
            (
                good.replace("partition=2", "partition=99999999999"),
                "out of range",
            ),
            (good.replace("fingerprint=1024:3a5be1c0\n", ""), "together"),
            (
                good.replace("file=2049:77\nfingerprint=1024:3a5be1c0\n", ""),
                "together",
            ),
            (good.replace("tail=81:", "tail=2000:"), "LEN ≤ position"),
            (
                good.replace("position=7340032", "position=80"),
                "LEN ≤ position",
            ),
            (good.replace("file=2049:77", "file=2049"), "DEVICE:INODE"),
            (good.replace("1024:3a5be1c0", "4000000000:0"), "LEN:CRC"),
            (format!("{good}topic=again\n"), "twice"),
            (
                good.replace("complete=false", "complete=yes"),
                "true or false",
            ),
            (format!("{good}garbage\n"), "not key=value"),
        ];
        for (text, expected) in cases {
            let error = Checkpoint::parse(&text).unwrap_err();
            assert!(
                error.contains(expected),
                "{error:?} should mention {expected:?}"
            );
        }
    }

    #[test]
    fn an_oversized_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ship.ckpt");
        std::fs::write(&path, vec![b'x'; MAX_CHECKPOINT_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            Checkpoint::load(&path),
            Err(ShipError::CheckpointInvalid { .. })
        ));
    }
}
