//! Swapping a cleaned segment in, so that a crash at any point leaves
//! either the old segment or the cleaned one, never a mix.
//!
//! ```text
//! write  <base>.{index,timeindex,txnindex,log}.cleaned   (fsynced)
//! commit rename the three indexes, then the log, to *.swap; fsync dir
//!          └─ the rename of the log to .log.swap is the commit point
//! replace rename the indexes, then the log, over the old files; fsync dir
//! ```
//!
//! On open ([`finish_swaps`], called by recovery before the segments are
//! listed) a `<base>.log.swap` means the swap was committed: its remaining
//! `.swap` files replace the old ones. Any other `.swap` file, and every
//! `.cleaned` file, belongs to a swap that never committed and is removed.
//! This is Kafka's scheme (`.cleaned`, `.swap`), with one segment replaced
//! by one.

use std::fs;
use std::path::{Path, PathBuf};

use crate::storage::checkpoint::sync_dir;
use crate::storage::faults::{FaultPoint, Faults};
use crate::storage::layout::{
    parse_segment_file, segment_file, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX,
};
use crate::storage::recovery::remove_if_exists;
use crate::storage::StorageError;

/// Extra suffix of files the cleaner is still writing.
pub(crate) const CLEANED: &str = ".cleaned";
/// Extra suffix of files of a committed swap.
pub(crate) const SWAP: &str = ".swap";

/// The index kinds, renamed before the log at every step.
const INDEXES: [&str; 3] = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX];

/// `<dir>/<base>.<suffix><extra>`.
fn named(dir: &Path, base: i64, suffix: &str, extra: &str) -> PathBuf {
    let mut name = segment_file(dir, base, suffix).into_os_string();
    name.push(extra);
    PathBuf::from(name)
}

fn rename(from: &Path, to: &Path) -> Result<(), StorageError> {
    fs::rename(from, to).map_err(|e| StorageError::io(from, e))
}

/// Renames the `.cleaned` files of `base` to `.swap`, the log last: once
/// this returns, the swap survives a crash. On an error the swap did not
/// commit; the caller [`discard`]s it.
pub(crate) fn commit(dir: &Path, base: i64, faults: &Faults) -> Result<(), StorageError> {
    for suffix in INDEXES {
        rename(
            &named(dir, base, suffix, CLEANED),
            &named(dir, base, suffix, SWAP),
        )?;
    }
    let log = named(dir, base, LOG_SUFFIX, CLEANED);
    faults
        .check(FaultPoint::CleanerSwap)
        .map_err(|e| StorageError::io(&log, e))?;
    rename(&log, &named(dir, base, LOG_SUFFIX, SWAP))?;
    sync_dir(dir)
}

/// Moves a committed swap of `base` over the old files, the log last.
/// An error leaves a swap that the next open finishes.
pub(crate) fn replace(dir: &Path, base: i64, faults: &Faults) -> Result<(), StorageError> {
    for suffix in INDEXES {
        rename(
            &named(dir, base, suffix, SWAP),
            &segment_file(dir, base, suffix),
        )?;
    }
    let log = named(dir, base, LOG_SUFFIX, SWAP);
    faults
        .check(FaultPoint::CleanerReplace)
        .map_err(|e| StorageError::io(&log, e))?;
    rename(&log, &segment_file(dir, base, LOG_SUFFIX))?;
    sync_dir(dir)
}

/// Removes whatever an uncommitted swap of `base` left (best effort: the
/// next open removes what is left).
pub(crate) fn discard(dir: &Path, base: i64) {
    for suffix in [
        LOG_SUFFIX,
        INDEX_SUFFIX,
        TIME_INDEX_SUFFIX,
        TXN_INDEX_SUFFIX,
    ] {
        for extra in [CLEANED, SWAP] {
            let path = named(dir, base, suffix, extra);
            if let Err(e) = remove_if_exists(&path) {
                tracing::warn!(file = %path.display(), error = %e, "could not remove a cleaner leftover");
            }
        }
    }
}

/// Finishes the committed swaps found in `dir` and removes the leftovers
/// of uncommitted ones (see the module docs). Returns how many swaps were
/// finished.
pub(crate) fn finish_swaps(dir: &Path) -> Result<usize, StorageError> {
    let mut committed = Vec::new();
    let mut leftovers = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(SWAP) {
            match parse_segment_file(stem, LOG_SUFFIX) {
                Some(base) => committed.push(base),
                None => leftovers.push((stem.to_string(), entry.path())),
            }
        } else if name.ends_with(CLEANED) {
            leftovers.push((String::new(), entry.path()));
        }
    }
    for &base in &committed {
        for suffix in INDEXES {
            let swap = named(dir, base, suffix, SWAP);
            if swap.exists() {
                rename(&swap, &segment_file(dir, base, suffix))?;
            }
        }
        rename(
            &named(dir, base, LOG_SUFFIX, SWAP),
            &segment_file(dir, base, LOG_SUFFIX),
        )?;
        tracing::info!(log = %dir.display(), segment = base, "finished an interrupted log cleaner swap");
    }
    for (stem, path) in &leftovers {
        // Index swaps of a committed log swap were renamed above.
        let finished = INDEXES.iter().any(|suffix| {
            parse_segment_file(stem, suffix).is_some_and(|base| committed.contains(&base))
        });
        if !finished {
            remove_if_exists(path)?;
        }
    }
    if !committed.is_empty() || !leftovers.is_empty() {
        sync_dir(dir)?;
    }
    Ok(committed.len())
}
