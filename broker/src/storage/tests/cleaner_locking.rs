//! The log cleaner and the partition lock: a clean builds its cleaned
//! copies without the lock (appends go on meanwhile), and a retention
//! delete or DeleteRecords racing it makes it discard its work. The
//! cleaner is held mid-clean through `StorageFaults::hold_cleaner`.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::compaction::{
    compacted, dir_files, expected, fill, put, read_all, row, sealed_end, Row, SOON,
};
use crate::storage::{
    lock_log, CleanOutcome, CleanerConfig, PartitionLog, SharedLog, StorageError, StorageFaults,
};

/// How long a test waits for the cleaner to reach its pause point.
const HELD_WITHIN: Duration = Duration::from_secs(20);

type CleanResult = Result<Option<CleanOutcome>, StorageError>;

/// A filled compacted log with faults installed, shared as the broker
/// shares it, and its rows before cleaning.
fn shared_log(dir: &std::path::Path) -> (SharedLog, Arc<StorageFaults>, Vec<Row>) {
    let mut log = PartitionLog::open(dir, compacted()).expect("open");
    let rows = fill(&mut log);
    let faults = StorageFaults::new();
    log.set_faults(Arc::clone(&faults));
    (Arc::new(Mutex::new(log)), faults, rows)
}

/// Starts a clean of `log` on its own thread, as the broker's maintenance
/// task does, and waits until it is held mid-clean.
fn clean_held(log: &SharedLog, faults: &StorageFaults) -> JoinHandle<CleanResult> {
    faults.hold_cleaner();
    let log = Arc::clone(log);
    let cleaner = std::thread::spawn(move || {
        PartitionLog::clean_shared(&log, SOON, &CleanerConfig::default())
    });
    if !faults.wait_cleaner_held(HELD_WITHIN) {
        faults.release_cleaner();
        panic!("the cleaner never reached its pause point");
    }
    cleaner
}

fn cleaned_files(dir: &std::path::Path) -> Vec<String> {
    dir_files(dir)
        .into_iter()
        .filter(|name| name.ends_with(".cleaned") || name.ends_with(".swap"))
        .collect()
}

#[test]
fn storage_appends_go_on_while_a_clean_is_in_progress() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (log, faults, before) = shared_log(dir.path());
    let upper = sealed_end(&lock_log(&log));
    let cleaner = clean_held(&log, &faults);
    // Mid-clean: the cleaned copies are written, and the partition lock is
    // free, so an append does not wait for the clean.
    assert!(!cleaned_files(dir.path()).is_empty(), "copies are written");
    let appended = match log.try_lock() {
        Ok(mut locked) => put(&mut locked, "during", Some("the clean")),
        Err(e) => {
            faults.release_cleaner();
            panic!("the cleaner holds the partition lock mid-clean: {e}");
        }
    };
    faults.release_cleaner();
    let outcome = cleaner
        .join()
        .expect("cleaner thread")
        .expect("clean")
        .expect("due");
    assert_eq!(outcome.cleaned_up_to, upper);
    assert!(outcome.segments_rewritten > 0);
    let log = lock_log(&log);
    let mut want = expected(&before, upper);
    want.push(row(appended, "during", Some("the clean")));
    assert_eq!(read_all(&log), want);
    assert_eq!(log.cleaner_offset(), Some(upper));
    assert!(cleaned_files(dir.path()).is_empty(), "no leftovers");
}

/// Runs `racer` on the log while a clean is held mid-clean; checks that
/// the clean discards its work and leaves the log as `racer` left it.
/// Returns the log and its rows.
fn race_a_clean(racer: impl FnOnce(&mut PartitionLog)) -> (tempfile::TempDir, SharedLog, Vec<Row>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (log, faults, before) = shared_log(dir.path());
    let cleaner = clean_held(&log, &faults);
    let start = {
        let mut locked = lock_log(&log);
        racer(&mut locked);
        locked.log_start_offset()
    };
    faults.release_cleaner();
    let result = cleaner.join().expect("cleaner thread").expect("clean");
    assert_eq!(result, None, "the work is discarded");
    let remaining: Vec<Row> = before.into_iter().filter(|r| r.0 >= start).collect();
    {
        let locked = lock_log(&log);
        assert!(start > 0, "the racer removed segments");
        assert_eq!(read_all(&locked), remaining, "nothing was swapped in");
        assert_eq!(locked.cleaner_offset(), None, "the dirty section stays");
        assert_eq!(locked.cleaner_failure(), None, "not a failure");
    }
    assert!(cleaned_files(dir.path()).is_empty(), "copies removed");
    (dir, log, remaining)
}

#[test]
fn storage_delete_records_racing_a_clean_makes_it_discard_its_work() {
    let (_dir, log, remaining) = race_a_clean(|log| {
        let second = log.segment_base_offsets()[1];
        log.delete_records_before(second).expect("delete records");
    });
    // The next pass cleans what is left.
    let mut locked = lock_log(&log);
    let upper = sealed_end(&locked);
    let outcome = locked
        .clean(SOON, &CleanerConfig::default())
        .expect("clean")
        .expect("still due");
    assert_eq!(outcome.cleaned_up_to, upper);
    assert_eq!(read_all(&locked), expected(&remaining, upper));
}

#[test]
fn storage_a_retention_delete_racing_a_clean_makes_it_discard_its_work() {
    race_a_clean(|log| {
        // compact,delete with a retention.ms every sealed segment exceeds.
        let mut config = compacted();
        config.cleanup_policy.delete = true;
        config.retention_ms = Some(1_000);
        log.set_config(config).expect("config");
        assert!(log.enforce_retention(SOON + 10_000).expect("retention") > 0);
    });
}
