//! Producer id allocation for InitProducerId.
//!
//! Ids are handed out from blocks reserved on disk before use: the file
//! `<data>/meta/producer_ids` holds the first id not yet reserved, so after a
//! crash or restart no id is ever given out twice (a few reserved ids may
//! be skipped, which is harmless).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::catalog::{write_durably, CatalogError};

/// Ids reserved per disk write.
const BLOCK_SIZE: i64 = 1000;

/// Outcome of an InitProducerId request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProducerIdGrant {
    /// Use this id and epoch.
    Granted {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i16,
    },
    /// The caller's epoch is older than the current one: it has been fenced.
    Fenced,
}

#[derive(Debug, Default)]
struct AllocatorState {
    next: i64,
    reserved_until: i64,
    /// Latest epoch handed out per producer id (since this start).
    epochs: HashMap<i64, i16>,
}

/// Hands out producer ids and epochs.
#[derive(Debug)]
pub struct ProducerIdAllocator {
    file: PathBuf,
    state: Mutex<AllocatorState>,
}

impl ProducerIdAllocator {
    /// Opens the allocator whose state lives in `meta_dir/producer_ids`.
    pub fn open(meta_dir: &Path) -> Result<ProducerIdAllocator, CatalogError> {
        let file = meta_dir.join("producer_ids");
        let next = match std::fs::read_to_string(&file) {
            Ok(text) => text
                .trim()
                .parse::<i64>()
                .map_err(|_| CatalogError::Corrupt {
                    path: file.clone(),
                    reason: format!("expected one number, found {:?}", text.trim()),
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => return Err(CatalogError::Io { path: file, source }),
        };
        Ok(ProducerIdAllocator {
            file,
            state: Mutex::new(AllocatorState {
                next,
                reserved_until: next,
                ..AllocatorState::default()
            }),
        })
    }

    /// Makes sure every id handed out from now on is above `id` (a producer
    /// id found in the logs); the next reservation is written from there.
    pub fn skip_past(&self, id: i64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.next <= id {
            state.next = id.saturating_add(1);
            state.reserved_until = state.next;
        }
    }

    /// A fresh producer id, never handed out before (the transaction
    /// coordinator's ids for transactional ids).
    pub fn new_id(&self) -> Result<i64, CatalogError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.allocate(&mut state)
    }

    /// Answers InitProducerId for an idempotent producer (transactional
    /// ids are the transaction coordinator's):
    ///
    /// * `producer_id` -1: a fresh id with epoch 0;
    /// * an existing id and its current epoch (KIP-360): the same id with
    ///   the epoch bumped, or a fresh id when the epoch would overflow; an
    ///   older epoch is fenced.
    pub fn init(&self, producer_id: i64, epoch: i16) -> Result<ProducerIdGrant, CatalogError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if producer_id < 0 {
            let id = self.allocate(&mut state)?;
            state.epochs.insert(id, 0);
            return Ok(ProducerIdGrant::Granted {
                producer_id: id,
                epoch: 0,
            });
        }
        if producer_id >= state.next {
            // Never handed out by this broker: treat it like a new producer.
            let id = self.allocate(&mut state)?;
            state.epochs.insert(id, 0);
            return Ok(ProducerIdGrant::Granted {
                producer_id: id,
                epoch: 0,
            });
        }
        let current = state.epochs.get(&producer_id).copied().unwrap_or(epoch);
        if epoch < current {
            return Ok(ProducerIdGrant::Fenced);
        }
        if epoch >= i16::MAX - 1 {
            let id = self.allocate(&mut state)?;
            state.epochs.insert(id, 0);
            return Ok(ProducerIdGrant::Granted {
                producer_id: id,
                epoch: 0,
            });
        }
        let bumped = epoch.max(current) + 1;
        state.epochs.insert(producer_id, bumped);
        Ok(ProducerIdGrant::Granted {
            producer_id,
            epoch: bumped,
        })
    }

    fn allocate(&self, state: &mut AllocatorState) -> Result<i64, CatalogError> {
        if state.next >= state.reserved_until {
            let until = state.next + BLOCK_SIZE;
            let tmp = self.file.with_extension("tmp");
            write_durably(&tmp, &self.file, until.to_string().as_bytes())?;
            state.reserved_until = until;
        }
        let id = state.next;
        state.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn granted(grant: ProducerIdGrant) -> (i64, i16) {
        match grant {
            ProducerIdGrant::Granted { producer_id, epoch } => (producer_id, epoch),
            ProducerIdGrant::Fenced => panic!("unexpectedly fenced"),
        }
    }

    #[test]
    fn ids_are_not_reused_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProducerIdAllocator::open(dir.path()).unwrap();
        let a = granted(first.init(-1, -1).unwrap());
        let b = granted(first.init(-1, -1).unwrap());
        assert_ne!(a.0, b.0);
        drop(first);
        let second = ProducerIdAllocator::open(dir.path()).unwrap();
        let c = granted(second.init(-1, -1).unwrap());
        assert!(c.0 > b.0, "{c:?} reuses an id at or below {b:?}");
    }

    #[test]
    fn epoch_bump_and_fencing() {
        let dir = tempfile::tempdir().unwrap();
        let alloc = ProducerIdAllocator::open(dir.path()).unwrap();
        let (pid, epoch) = granted(alloc.init(-1, -1).unwrap());
        assert_eq!(granted(alloc.init(pid, epoch).unwrap()), (pid, epoch + 1));
        assert_eq!(alloc.init(pid, epoch).unwrap(), ProducerIdGrant::Fenced);
        let fresh = alloc.new_id().unwrap();
        assert!(fresh > pid, "{fresh} reuses an id at or below {pid}");
    }
}
