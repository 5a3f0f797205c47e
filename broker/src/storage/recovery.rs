//! Loading a partition directory, and recovering it after a crash.
//!
//! ```text
//! list *.log ──▶ for each segment, oldest first:
//!                  clean shutdown and before the recovery point?
//!                    yes ─▶ Segment::open (check indexes + log tail) ─┐ problem
//!                    no  ─▶ Segment::recover ◀──────────────────────┘
//!                           (CRC every batch, cut at the first bad one,
//!                            rebuild .index and .timeindex; .txnindex is
//!                            rebuilt by the partition's producer replay)
//!                  cut? ─▶ the log ends here; every later segment is
//!                          quarantined (renamed *.quarantined), never deleted
//! ```
//!
//! Nothing in a file can make this panic: every header is parsed with
//! bounds checks, every length is compared with the bytes present, and
//! anything that does not check out is cut off or rebuilt.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::Path;

use durian_core::record::BatchHeader;

use super::batch_io::{batch_at, crc_matches, BatchAt};
use super::layout::{
    parse_segment_file, segment_file, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, TMP_SUFFIX,
    TXN_INDEX_SUFFIX,
};
use super::segment::Segment;
use super::{LogConfig, StorageError};

/// What opening a partition log found and did; useful in logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Whether the previous close was clean (the marker file was present).
    pub clean_shutdown: bool,
    /// Segments whose every batch was validated (CRC) and indexes rebuilt.
    pub segments_recovered: usize,
    /// Bytes cut from the end of the log (torn or corrupt batches, junk).
    pub bytes_truncated: u64,
    /// Segments that followed a cut or overlapped: set aside as
    /// `<file>.<time>.quarantined` for an operator, never deleted.
    pub segments_quarantined: usize,
    /// Whether the idempotent producer state was rebuilt by scanning the
    /// log rather than loaded from its snapshot.
    pub producer_state_rebuilt: bool,
    /// One line per problem found, for the operator.
    pub problems: Vec<String>,
}

/// Where validation of a segment's log stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Truncation {
    /// Bytes of valid batches from the start of the file.
    pub valid_bytes: u64,
    /// Bytes after them (to be cut).
    pub dropped_bytes: u64,
    /// Why validation stopped before the end of the file.
    pub reason: Option<String>,
}

/// Validates the batches of a log file from its start, calling `on_batch`
/// with the position and header of each valid one, and reports where the
/// valid prefix ends.
///
/// A batch is valid when its header parses (magic 2, sane length), all its
/// bytes are present, its CRC matches, its offsets do not go backwards or
/// below `base_offset`, and it fits the 32-bit relative offsets and
/// positions of the indexes.
pub(crate) fn validate_log(
    file: &File,
    path: &Path,
    base_offset: i64,
    file_size: u64,
    mut on_batch: impl FnMut(u64, &BatchHeader) -> Result<(), StorageError>,
) -> Result<Truncation, StorageError> {
    let mut position = 0u64;
    let mut min_offset = base_offset;
    let reason = loop {
        let header = match batch_at(file, path, position, file_size)? {
            BatchAt::End => break None,
            BatchAt::Torn => break Some(format!("torn batch at position {position}")),
            BatchAt::Invalid(why) => {
                break Some(format!("invalid batch at position {position}: {why}"))
            }
            BatchAt::Batch(header) => header,
        };
        if header.base_offset < min_offset || header.last_offset_delta < 0 {
            break Some(format!(
                "batch at position {position} has offsets {}..={} but {min_offset} was expected next",
                header.base_offset,
                header.last_offset()
            ));
        }
        if header.last_offset() - base_offset > i64::from(u32::MAX)
            || position > u64::from(u32::MAX)
        {
            break Some(format!(
                "batch at position {position} exceeds the segment's 32-bit index range"
            ));
        }
        if !crc_matches(file, path, position, &header)? {
            break Some(format!("CRC mismatch in the batch at position {position}"));
        }
        on_batch(position, &header)?;
        min_offset = header.next_offset();
        position += header.total_len() as u64;
    };
    Ok(Truncation {
        valid_bytes: position,
        dropped_bytes: file_size.saturating_sub(position),
        reason,
    })
}

/// The segments of a partition directory, loaded or recovered.
pub(crate) struct LoadedSegments {
    /// Segments by base offset; may be empty for a new directory.
    pub segments: BTreeMap<i64, Segment>,
    /// What was found.
    pub report: OpenReport,
}

/// Loads every segment of `dir`.
///
/// After an unclean shutdown the segment holding `recovery_point` and all
/// later ones are recovered; earlier ones were flushed and are only opened.
/// A segment whose index files are missing or damaged is recovered even
/// after a clean shutdown.
pub(crate) fn load_segments(
    dir: &Path,
    config: &LogConfig,
    clean_shutdown: bool,
    recovery_point: i64,
    now_ms: i64,
) -> Result<LoadedSegments, StorageError> {
    // A log cleaner swap interrupted by a crash is finished (or discarded)
    // before the segments are listed.
    let swaps = super::cleaner::swap::finish_swaps(dir)?;
    let bases = list_segments(dir)?;
    let first_to_recover = if clean_shutdown {
        bases.len()
    } else {
        bases
            .iter()
            .rposition(|&b| b <= recovery_point)
            .unwrap_or(0)
    };
    let mut report = OpenReport {
        clean_shutdown,
        ..OpenReport::default()
    };
    if swaps > 0 {
        report
            .problems
            .push(format!("finished {swaps} interrupted log cleaner swap(s)"));
    }
    let mut segments = BTreeMap::new();
    let mut previous_end: Option<i64> = None;
    // Segments after a cut are set aside, never deleted: those below the
    // recovery point were fsynced, every one a later segment was rolled from
    // was synced at the roll (the checkpointed recovery point lags by up to
    // a minute), and even the active one holds acknowledged records that
    // survive a process crash in the page cache. durian keeps one copy, so
    // an operator decides what to do with them.
    let set_aside = SetAside { dir, stamp: now_ms };
    for (i, &base) in bases.iter().enumerate() {
        if previous_end.is_some_and(|end| base < end) {
            report.problems.push(format!(
                "segment {base} overlaps the previous segment ending at {}",
                previous_end.unwrap_or_default()
            ));
            set_aside.remove(bases.get(i..).unwrap_or_default(), &mut report)?;
            break;
        }
        let opened = if i >= first_to_recover {
            None
        } else {
            match Segment::open(dir, base, config, now_ms)? {
                Ok(segment) => Some(segment),
                Err(problem) => {
                    report
                        .problems
                        .push(format!("segment {base}: {problem}; recovering it"));
                    None
                }
            }
        };
        let (segment, cut) = match opened {
            Some(segment) => (segment, false),
            None => {
                let (segment, truncation) = Segment::recover(dir, base, config, now_ms)?;
                report.segments_recovered += 1;
                report.bytes_truncated += truncation.dropped_bytes;
                if let Some(reason) = &truncation.reason {
                    report.problems.push(format!(
                        "segment {base}: {reason}; cut {} bytes",
                        truncation.dropped_bytes
                    ));
                }
                (segment, truncation.reason.is_some())
            }
        };
        previous_end = Some(segment.next_offset());
        segments.insert(base, segment);
        if cut {
            // The log ends at the first bad batch; later data cannot be trusted
            // to follow it without a gap.
            set_aside.remove(bases.get(i + 1..).unwrap_or_default(), &mut report)?;
            break;
        }
    }
    Ok(LoadedSegments { segments, report })
}

/// Base offsets of the segments in `dir`, sorted. Removes leftovers that
/// cannot be used: temporary files and index files without a log.
fn list_segments(dir: &Path) -> Result<Vec<i64>, StorageError> {
    let mut logs = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = parse_segment_file(name, LOG_SUFFIX) {
            logs.push(base);
        } else if let Some(base) = parse_segment_file(name, INDEX_SUFFIX)
            .or_else(|| parse_segment_file(name, TIME_INDEX_SUFFIX))
            .or_else(|| parse_segment_file(name, TXN_INDEX_SUFFIX))
        {
            indexes.push((base, entry.path()));
        } else if name.ends_with(&format!(".{TMP_SUFFIX}")) {
            remove_if_exists(&entry.path())?;
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            remove_if_exists(&path)?;
        }
    }
    Ok(logs)
}

/// How segments that cannot follow the end of the log are removed.
struct SetAside<'a> {
    dir: &'a Path,
    /// Part of quarantined file names, so a second quarantine never
    /// overwrites the first.
    stamp: i64,
}

impl SetAside<'_> {
    /// Removes the segments with these base offsets from the log by
    /// renaming their files to `<file>.<stamp>.quarantined`, which the log
    /// ignores, and reports each for an operator to inspect. Nothing is
    /// deleted: they may hold acknowledged records (see `load_segments`).
    fn remove(&self, bases: &[i64], report: &mut OpenReport) -> Result<(), StorageError> {
        for &base in bases {
            for suffix in [
                LOG_SUFFIX,
                INDEX_SUFFIX,
                TIME_INDEX_SUFFIX,
                TXN_INDEX_SUFFIX,
            ] {
                let path = segment_file(self.dir, base, suffix);
                let mut name = path.clone().into_os_string();
                name.push(format!(".{}.quarantined", self.stamp));
                match fs::rename(&path, &name) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StorageError::io(&path, e)),
                }
            }
            report.segments_quarantined += 1;
            report.problems.push(format!(
                "segment {base} cannot follow the end of the log: quarantined as *.{}.quarantined",
                self.stamp
            ));
        }
        Ok(())
    }
}

/// Removes a file, treating "already gone" as success.
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io(path, e)),
    }
}
