//! Random damage to every kind of file must never make the storage panic:
//! opening, reading, looking up and appending either work or return errors.
//! The seed is fixed so a failure reproduces.

use std::fs;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::support::{batch, fill, small_config};
use crate::storage::PartitionLog;

/// Applies one random mutation to a random file of `dir`.
fn damage(dir: &std::path::Path, rng: &mut StdRng) {
    let mut files: Vec<_> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return;
    }
    let path = &files[rng.random_range(0..files.len())];
    let mut bytes = fs::read(path).expect("read");
    match rng.random_range(0..4) {
        0 => {
            // Overwrite a few bytes anywhere.
            for _ in 0..rng.random_range(1..8) {
                if !bytes.is_empty() {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] = rng.random();
                }
            }
        }
        1 => {
            // Append junk.
            let n = rng.random_range(1..200);
            bytes.extend((0..n).map(|_| rng.random::<u8>()));
        }
        2 => {
            // Cut at a random length.
            let keep = rng.random_range(0..=bytes.len());
            bytes.truncate(keep);
        }
        _ => {
            // Replace with random bytes of a random length.
            let n = rng.random_range(0..300);
            bytes = (0..n).map(|_| rng.random::<u8>()).collect();
        }
    }
    fs::write(path, &bytes).expect("write");
}

/// Exercises every read path of a (possibly damaged) log.
fn exercise(log: &mut PartitionLog, rng: &mut StdRng) {
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    assert!(start <= end);
    for offset in start.saturating_sub(1)..=end.saturating_add(1) {
        let _ = log.read(offset, rng.random_range(0..2_000), rng.random());
    }
    let _ = log.offset_for_timestamp(rng.random_range(0..40_000));
    let _ = log.max_timestamp();
    let result = log
        .append(&batch(2, 10, 50_000), 0, 0)
        .expect("append to a recovered log");
    assert_eq!(result.base_offset, end);
    let _ = log.enforce_retention(rng.random());
}

#[test]
fn storage_random_damage_never_panics() {
    let mut rng = StdRng::seed_from_u64(0x00d0_7a11);
    for round in 0..60 {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
        fill(&mut log, rng.random_range(1..25));
        if round % 2 == 0 {
            log.close().expect("close");
        } else {
            drop(log);
        }
        for _ in 0..rng.random_range(1..4) {
            damage(dir.path(), &mut rng);
        }
        // Opening may fail only with an error, never a panic; it should
        // succeed because every damage is recoverable.
        let mut log = PartitionLog::open(dir.path(), small_config())
            .unwrap_or_else(|e| panic!("round {round}: open failed: {e}"));
        exercise(&mut log, &mut rng);
        log.close().expect("close");
        let mut log = PartitionLog::open(dir.path(), small_config()).expect("reopen");
        exercise(&mut log, &mut rng);
    }
}

#[test]
fn storage_random_produce_input_is_rejected_cleanly() {
    let mut rng = StdRng::seed_from_u64(7);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    let valid = batch(2, 10, 1);
    for _ in 0..500 {
        let input: Vec<u8> = if rng.random() {
            (0..rng.random_range(0..300))
                .map(|_| rng.random())
                .collect()
        } else {
            let mut v = valid.clone();
            let at = rng.random_range(0..v.len());
            v[at] = v[at].wrapping_add(rng.random_range(1..=255));
            v
        };
        let end = log.log_end_offset();
        match log.append(&input, 0, 0) {
            Ok(result) => assert!(result.base_offset == end || result.base_offset == -1),
            Err(_) => assert_eq!(log.log_end_offset(), end),
        }
    }
    // Whatever was accepted is readable and still checks out.
    for header in super::support::all_headers(&log) {
        assert!(header.record_count >= 1);
    }
}
