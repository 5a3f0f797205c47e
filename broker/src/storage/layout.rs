//! Names of the files and directories the storage engine writes.
//!
//! ```text
//! <data>/
//!   recovery-point-offset-checkpoint      topic partition offset, per partition
//!   log-start-offset-checkpoint
//!   <topic>-<partition>/
//!     00000000000000000000.log             record batches as produced
//!     00000000000000000000.index           offset -> position
//!     00000000000000000000.timeindex       timestamp -> offset
//!     00000000000000000000.txnindex        aborted transactions whose marker is here
//!     00000000000000004711.log             next segment, base offset 4711
//!     ...
//!     partition.metadata                   "version: 0\ntopic_id: <base64>"
//!     producer-state.snapshot              idempotent producer state at the last roll or clean close
//!     .clean_shutdown                      present only after a clean close
//! ```

use std::path::{Path, PathBuf};

use super::StorageError;

/// Extension of segment log files.
pub(crate) const LOG_SUFFIX: &str = "log";
/// Extension of offset index files.
pub(crate) const INDEX_SUFFIX: &str = "index";
/// Extension of time index files.
pub(crate) const TIME_INDEX_SUFFIX: &str = "timeindex";
/// Extension of aborted-transaction index files.
pub(crate) const TXN_INDEX_SUFFIX: &str = "txnindex";
/// Marker written by a clean close, removed when the log is opened.
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = ".clean_shutdown";
/// Idempotent producer state written at a clean close.
pub(crate) const PRODUCER_SNAPSHOT_FILE: &str = "producer-state.snapshot";
/// Topic id of the partition.
pub(crate) const PARTITION_METADATA_FILE: &str = "partition.metadata";
/// Suffix of a partition directory being deleted.
pub(crate) const DELETE_DIR_SUFFIX: &str = "-delete";
/// Suffix of temporary files written before an atomic rename.
pub(crate) const TMP_SUFFIX: &str = "tmp";

/// Longest topic name Kafka accepts (so `<topic>-<partition>` fits a file name).
const MAX_TOPIC_LEN: usize = 249;

/// `<dir>/<20-digit base offset>.<suffix>`.
pub(crate) fn segment_file(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// The base offset named by a segment file name such as
/// `00000000000000000042.log`, if `name` is one with the given suffix.
pub(crate) fn parse_segment_file(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?.strip_suffix('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok().filter(|offset: &i64| *offset >= 0)
}

/// The directory name of a partition: `<topic>-<partition>`.
pub(crate) fn partition_dir_name(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

/// Splits a partition directory name at its last '-' into topic and
/// partition; `None` for anything else (including deletion leftovers).
pub(crate) fn parse_partition_dir(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    // Only the canonical spelling ("7", not "07" or "+7") names a partition.
    let number: i32 = partition.parse().ok()?;
    if number < 0 || number.to_string() != partition {
        return None;
    }
    validate_topic_name(topic).ok()?;
    Some((topic.to_string(), number))
}

/// Checks a topic name the way Kafka does: 1..=249 characters from
/// `[a-zA-Z0-9._-]`, not `.` or `..`. This also keeps it a safe single
/// path component.
pub fn validate_topic_name(name: &str) -> Result<(), StorageError> {
    let invalid = |reason| StorageError::InvalidTopic {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.len() > MAX_TOPIC_LEN {
        return Err(invalid("the name is longer than 249 characters"));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are not topic names"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(invalid(
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

/// `<path>.tmp`, the name a file is written under before its rename.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(TMP_SUFFIX);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip() {
        let path = segment_file(Path::new("/d"), 4711, LOG_SUFFIX);
        assert_eq!(path, Path::new("/d/00000000000000004711.log"));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert_eq!(parse_segment_file(name, LOG_SUFFIX), Some(4711));
        assert_eq!(parse_segment_file(name, INDEX_SUFFIX), None);
        assert_eq!(parse_segment_file("123.log", LOG_SUFFIX), None);
        assert_eq!(
            parse_segment_file("0000000000000000004x.log", LOG_SUFFIX),
            None
        );
    }

    #[test]
    fn partition_dirs_split_at_the_last_dash() {
        assert_eq!(
            parse_partition_dir("my-topic-3"),
            Some(("my-topic".into(), 3))
        );
        assert_eq!(parse_partition_dir("t-07"), None);
        assert_eq!(parse_partition_dir("t--1"), Some(("t-".into(), 1)));
        assert_eq!(parse_partition_dir("topic"), None);
        assert_eq!(parse_partition_dir("t-0.abc-delete"), None);
        assert!(validate_topic_name("../x").is_err());
        assert!(validate_topic_name("a/b").is_err());
    }
}
