//! Offset checkpoint files of the data directory, in Kafka's text format.
//!
//! ```text
//! 0                      version
//! 2                      number of entries
//! orders 0 4711          topic partition offset
//! orders 1 815
//! ```
//!
//! `recovery-point-offset-checkpoint` says up to which offset each log was
//! flushed (recovery after a crash scans only segments past it), and
//! `log-start-offset-checkpoint` keeps log start offsets moved by
//! DeleteRecords into the middle of a segment. Files are replaced
//! atomically: written to `<name>.tmp`, fsynced, renamed over the old one.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::layout::tmp_path;
use super::StorageError;

/// Name of the recovery point checkpoint in the data directory.
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// Name of the log start offset checkpoint in the data directory.
pub(crate) const LOG_START_OFFSET_FILE: &str = "log-start-offset-checkpoint";
/// Name of the log cleaner's checkpoint (first dirty offset of each
/// compacted log) in the data directory.
pub(crate) const CLEANER_OFFSET_FILE: &str = "cleaner-offset-checkpoint";

/// The only checkpoint format version.
const VERSION: u32 = 0;

/// Offsets per (topic, partition).
pub(crate) type Offsets = HashMap<(String, i32), i64>;

/// Reads a checkpoint file; a missing file is an empty checkpoint. The
/// error says why the file is unusable (unreadable or malformed).
pub(crate) fn read(path: &Path) -> Result<Offsets, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Offsets::new()),
        Err(e) => return Err(StorageError::io(path, e).to_string()),
    };
    parse(&text)
}

/// Parses checkpoint text.
fn parse(text: &str) -> Result<Offsets, String> {
    let mut lines = text.lines();
    let version = lines.next().ok_or("empty file")?;
    if version.trim() != VERSION.to_string() {
        return Err(format!("unknown version {version:?}"));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("missing or bad entry count")?;
    // The count only bounds the loop; the map grows with lines actually read.
    let mut offsets = Offsets::new();
    for index in 0..count {
        let line = lines
            .next()
            .ok_or_else(|| format!("{count} entries announced, {index} present"))?;
        let mut fields = line.split_whitespace();
        let (Some(topic), Some(partition), Some(offset), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("bad entry line {line:?}"));
        };
        let partition: i32 = partition
            .parse()
            .map_err(|_| format!("bad partition in {line:?}"))?;
        let offset: i64 = offset
            .parse()
            .map_err(|_| format!("bad offset in {line:?}"))?;
        offsets.insert((topic.to_string(), partition), offset);
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err("more entries than announced".to_string());
    }
    Ok(offsets)
}

/// Replaces the checkpoint file at `path` with `offsets`, atomically.
pub(crate) fn write(path: &Path, offsets: &Offsets) -> Result<(), StorageError> {
    let mut entries: Vec<_> = offsets.iter().collect();
    entries.sort();
    let mut text = format!("{VERSION}\n{}\n", entries.len());
    for ((topic, partition), offset) in entries {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    write_atomically(path, text.as_bytes())
}

/// Writes `bytes` to `<path>.tmp`, fsyncs it, renames it over `path` and
/// fsyncs the directory so the rename survives a crash.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = tmp_path(path);
    let mut file = File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| StorageError::io(&tmp, e))?;
    file.sync_all().map_err(|e| StorageError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| StorageError::io(path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// fsyncs a directory so created, renamed or deleted entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_rejects_junk() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(RECOVERY_POINT_FILE);
        let mut offsets = Offsets::new();
        offsets.insert(("orders".to_string(), 0), 4711);
        offsets.insert(("my-topic".to_string(), 12), 0);
        assert!(write(&path, &offsets).is_ok());
        let back = read(&path);
        assert!(matches!(back, Ok(ref o) if *o == offsets), "{back:?}");

        for junk in [
            "",
            "1\n0\n",
            "0\n2\nt 0 1\n",
            "0\n1\nt x 1\n",
            "0\n1\nt 0 1\nu 0 2\n",
        ] {
            assert!(parse(junk).is_err(), "accepted {junk:?}");
        }
        assert!(matches!(read(&dir.path().join("missing")), Ok(ref o) if o.is_empty()));
    }
}
