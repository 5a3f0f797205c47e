//! Recovery: torn writes, corruption and damaged indexes after a crash or
//! between runs. A crash is simulated by dropping a log without `close`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::support::{all_headers, batch, fill, segment_path, small_config};
use crate::storage::{LogConfig, PartitionLog};

fn open(dir: &Path) -> PartitionLog {
    PartitionLog::open(dir, small_config()).expect("open")
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open file");
    file.write_all(bytes).expect("append junk");
}

fn active_log(log: &PartitionLog) -> std::path::PathBuf {
    let base = *log.segment_base_offsets().last().expect("a segment");
    segment_path(log.dir(), base, "log")
}

/// Checks the reopened log: exact offsets `0..end`, readable, appendable.
fn assert_intact(log: &mut PartitionLog, end: i64) {
    assert_eq!(log.log_end_offset(), end);
    let headers = all_headers(log);
    assert_eq!(headers.last().map(|h| h.next_offset()).unwrap_or(0), end);
    for pair in headers.windows(2) {
        assert_eq!(pair[0].next_offset(), pair[1].base_offset);
    }
    let result = log
        .append(&batch(1, 5, 99_000), 0, 0)
        .expect("append after recovery");
    assert_eq!(result.base_offset, end);
}

#[test]
fn storage_recovery_truncates_junk_after_the_last_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 12);
    let path = active_log(&log);
    drop(log);
    append_bytes(&path, &[0xAB; 100]);
    let mut log = open(dir.path());
    let report = log.open_report().clone();
    assert!(!report.clean_shutdown);
    assert_eq!(report.bytes_truncated, 100);
    assert_intact(&mut log, 36);
}

#[test]
fn storage_recovery_drops_a_batch_cut_mid_way() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    let sent = fill(&mut log, 12);
    let path = active_log(&log);
    drop(log);
    let len = fs::metadata(&path).expect("stat").len();
    let file = OpenOptions::new().write(true).open(&path).expect("open");
    file.set_len(len - 10).expect("cut");
    let mut log = open(dir.path());
    assert_eq!(
        log.open_report().bytes_truncated,
        sent[11].len() as u64 - 10
    );
    assert_intact(&mut log, 33);
}

#[test]
fn storage_recovery_drops_a_batch_with_a_flipped_byte() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 12);
    let path = active_log(&log);
    drop(log);
    let mut bytes = fs::read(&path).expect("read");
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    fs::write(&path, &bytes).expect("write");
    let mut log = open(dir.path());
    assert!(
        log.open_report().problems.iter().any(|p| p.contains("CRC")),
        "{:?}",
        log.open_report()
    );
    assert_intact(&mut log, 33);
}

#[test]
fn storage_recovery_quarantines_segments_after_a_corrupt_one_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 30);
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4);
    drop(log);
    // Damage the first batch of the second segment.
    let second = segment_path(dir.path(), bases[1], "log");
    let mut bytes = fs::read(&second).expect("read");
    bytes[70] ^= 0xFF;
    fs::write(&second, &bytes).expect("write");
    let mut log = open(dir.path());
    // No clean close, no checkpoint: the later segments are still set
    // aside, never deleted (they were synced at their rolls, and the
    // active one's records survive a process crash).
    assert_eq!(log.open_report().segments_quarantined, bases.len() - 2);
    // The damaged segment stays, emptied, as the active one.
    assert_eq!(log.segment_base_offsets(), vec![bases[0], bases[1]]);
    assert_intact(&mut log, bases[1]);
    assert!(!segment_path(dir.path(), bases[2], "log").exists());
}

#[test]
fn storage_missing_indexes_are_rebuilt_after_a_clean_close() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 20);
    let bases = log.segment_base_offsets();
    log.close().expect("close");
    fs::remove_file(segment_path(dir.path(), bases[0], "index")).expect("rm index");
    fs::remove_file(segment_path(dir.path(), bases[1], "timeindex")).expect("rm timeindex");
    let mut log = open(dir.path());
    assert!(log.open_report().clean_shutdown);
    assert_eq!(log.open_report().segments_recovered, 2);
    assert!(segment_path(dir.path(), bases[0], "index").exists());
    assert!(
        fs::metadata(segment_path(dir.path(), bases[0], "index"))
            .expect("stat")
            .len()
            > 0
    );
    assert_eq!(
        log.offset_for_timestamp(7_000).expect("lookup"),
        Some((18, 7_000))
    );
    assert_intact(&mut log, 60);
}

#[test]
fn storage_damaged_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 20);
    let bases = log.segment_base_offsets();
    log.close().expect("close");
    // Wrong length, entries past the log end, and non-monotonic entries.
    append_bytes(&segment_path(dir.path(), bases[0], "index"), &[1, 2, 3]);
    append_bytes(&segment_path(dir.path(), bases[1], "index"), &[0xFF; 8]);
    let time = segment_path(dir.path(), bases[2], "timeindex");
    let mut entry = 1i64.to_be_bytes().to_vec();
    entry.extend_from_slice(&0u32.to_be_bytes());
    append_bytes(&time, &entry);
    let mut log = open(dir.path());
    assert_eq!(
        log.open_report().segments_recovered,
        3,
        "{:?}",
        log.open_report()
    );
    for offset in 0..60 {
        let read = log.read(offset, 1, true).expect("read");
        let first = super::support::headers(&read.records)[0];
        assert!(first.base_offset <= offset && offset <= first.last_offset());
    }
    assert_intact(&mut log, 60);
}

#[test]
fn storage_clean_reopen_needs_no_scan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 20);
    log.close().expect("close");
    assert!(dir.path().join(".clean_shutdown").exists());
    let mut log = open(dir.path());
    let report = log.open_report().clone();
    assert!(report.clean_shutdown);
    assert_eq!(report.segments_recovered, 0);
    assert!(report.problems.is_empty(), "{report:?}");
    assert!(
        !dir.path().join(".clean_shutdown").exists(),
        "marker consumed on open"
    );
    assert_intact(&mut log, 60);
}

#[test]
fn storage_unclean_shutdown_validates_from_the_recovery_point() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 20);
    let bases = log.segment_base_offsets();
    let recovery_point = log.recovery_point();
    assert_eq!(
        recovery_point,
        *bases.last().expect("segments"),
        "rolls flush"
    );
    drop(log);
    let hints = crate::storage::RecoveryHints {
        recovery_point: Some(recovery_point),
        log_start_offset: None,
        cleaner_offset: None,
    };
    let mut log = PartitionLog::open_with(dir.path(), small_config(), hints).expect("open");
    assert_eq!(
        log.open_report().segments_recovered,
        1,
        "only the active segment"
    );
    assert_intact(&mut log, 60);
    let segments = log.segment_count();
    drop(log);
    let mut log = open(dir.path());
    assert_eq!(
        log.open_report().segments_recovered,
        segments,
        "no hint: everything"
    );
    assert_intact(&mut log, 61);
}

#[test]
fn storage_leftover_files_are_cleaned_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    fill(&mut log, 2);
    log.close().expect("close");
    fs::write(segment_path(dir.path(), 500, "index"), [0u8; 16]).expect("orphan index");
    fs::write(dir.path().join("checkpoint.tmp"), b"x").expect("tmp");
    fs::write(dir.path().join("notes.txt"), b"keep").expect("unrelated");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("reopen");
    assert!(!segment_path(dir.path(), 500, "index").exists());
    assert!(!dir.path().join("checkpoint.tmp").exists());
    assert!(dir.path().join("notes.txt").exists());
    assert_intact(&mut log, 6);
}

#[test]
fn storage_reads_survive_a_plausible_but_wrong_index_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 12);
    log.close().expect("close");
    let path = segment_path(dir.path(), 0, "index");
    let mut bytes = fs::read(&path).expect("read index");
    assert!(bytes.len() >= 24, "several entries expected");
    // Entry 1 keeps its offset but points one byte into its batch; entries
    // stay increasing, so only a lookup can notice.
    let position = u32::from_be_bytes(bytes[12..16].try_into().expect("4 bytes"));
    bytes[12..16].copy_from_slice(&(position + 1).to_be_bytes());
    let target = i64::from(u32::from_be_bytes(
        bytes[8..12].try_into().expect("4 bytes"),
    ));
    fs::write(&path, &bytes).expect("write index");
    let mut log = open(dir.path());
    assert_eq!(
        log.open_report().segments_recovered,
        0,
        "not detectable on open"
    );
    let read = log.read(target, 1, true).expect("read");
    let first = super::support::headers(&read.records)[0];
    assert!(first.base_offset <= target && target <= first.last_offset());
    assert_intact(&mut log, 36);
}

#[test]
fn storage_recovery_quarantines_flushed_segments_after_a_corrupt_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path());
    fill(&mut log, 30);
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4);
    log.close().expect("clean close: every segment flushed");
    // Damage the first batch of the second segment and its index, so the
    // next open recovers it and cuts the log there.
    let second = segment_path(dir.path(), bases[1], "log");
    let mut bytes = fs::read(&second).expect("read");
    bytes[70] ^= 0xFF;
    fs::write(&second, &bytes).expect("write");
    fs::remove_file(segment_path(dir.path(), bases[1], "index")).expect("remove index");
    let mut log = open(dir.path());
    let report = log.open_report().clone();
    assert_eq!(report.segments_quarantined, bases.len() - 2);
    assert_eq!(log.segment_base_offsets(), vec![bases[0], bases[1]]);
    assert_intact(&mut log, bases[1]);
    // The later segments' files are kept aside for an operator.
    let quarantined: Vec<_> = fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".quarantined"))
        .collect();
    for base in &bases[2..] {
        let log_name = format!("{base:020}.log.");
        assert!(
            quarantined.iter().any(|name| name.starts_with(&log_name)),
            "segment {base} missing from {quarantined:?}"
        );
    }
}
