//! Injectable storage faults, for tests of how the broker survives a
//! failing disk.
//!
//! ```text
//! test ──inject(point, ENOSPC|EIO, times)──▶ StorageFaults (atomics)
//!                                              ▲ checked at each point
//! log write · index write · roll · fsync · checkpoint · offsets commit
//! ```
//!
//! Besides failures, a test can hold the log cleaner at one point in the
//! middle of a clean ([`StorageFaults::hold_cleaner`]), to act on the log
//! while the cleaner is known to be in progress.
//!
//! The points are compiled in only with `cfg(test)` or the crate's
//! `testing` feature. Without them [`Faults`] is an empty struct whose
//! check is `Ok(())`, so the production path carries no branch; with them
//! an unused hook costs one branch on an `Option`.

#[cfg(any(test, feature = "testing"))]
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
#[cfg(any(test, feature = "testing"))]
use std::sync::{Arc, Condvar, Mutex};
#[cfg(any(test, feature = "testing"))]
use std::time::{Duration, Instant};

/// Longest a held cleaner waits for [`StorageFaults::release_cleaner`]: a
/// test that fails before releasing it must not leave a thread stuck.
#[cfg(any(test, feature = "testing"))]
const CLEANER_HOLD_LIMIT: Duration = Duration::from_secs(60);

/// A place in the storage layer where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultPoint {
    /// The write of appended batches to a segment's `.log`.
    LogWrite,
    /// The write of an offset or time index entry.
    IndexWrite,
    /// Creating the next segment when the active one rolls.
    Roll,
    /// An fsync of a segment's log (per append under `flush.messages=1`,
    /// on roll, flush and close).
    Fsync,
    /// Writing the recovery-point and log-start-offset checkpoints.
    Checkpoint,
    /// The append of committed offsets to the group coordinator's
    /// `offsets.log`.
    OffsetsCommit,
    /// The log cleaner finishing a cleaned segment's `.cleaned` files
    /// (before their fsync).
    CleanerWrite,
    /// The log cleaner renaming the cleaned log to `.swap`, the commit
    /// point (its index files were renamed already).
    CleanerSwap,
    /// The log cleaner renaming the `.swap` log over the old one (its index
    /// files were replaced already).
    CleanerReplace,
}

/// The error an injected fault returns.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// "No space left on device" (ENOSPC).
    NoSpace,
    /// "Input/output error" (EIO).
    Io,
}

#[cfg(any(test, feature = "testing"))]
impl FaultKind {
    /// The `std::io::Error` an operation hit by this fault returns.
    pub fn to_io_error(self) -> std::io::Error {
        match self {
            FaultKind::NoSpace => std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "injected fault: no space left on device (ENOSPC)",
            ),
            FaultKind::Io => std::io::Error::other("injected fault: input/output error (EIO)"),
        }
    }
}

#[cfg(any(test, feature = "testing"))]
const POINTS: usize = 9;

#[cfg(any(test, feature = "testing"))]
fn slot(point: FaultPoint) -> usize {
    match point {
        FaultPoint::LogWrite => 0,
        FaultPoint::IndexWrite => 1,
        FaultPoint::Roll => 2,
        FaultPoint::Fsync => 3,
        FaultPoint::Checkpoint => 4,
        FaultPoint::OffsetsCommit => 5,
        FaultPoint::CleanerWrite => 6,
        FaultPoint::CleanerSwap => 7,
        FaultPoint::CleanerReplace => 8,
    }
}

/// Armed faults, shared by every log of a [`LogManager`](super::LogManager)
/// (or one [`PartitionLog`](super::PartitionLog)) they are installed in.
///
/// Each point is either disarmed or fails its next `times` operations
/// (`times < 0`: until disarmed) with a [`FaultKind`].
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Default)]
pub struct StorageFaults {
    /// 0 = disarmed, 1 = ENOSPC, 2 = EIO, per point.
    kind: [AtomicU8; POINTS],
    /// Failures left per point; negative = unlimited.
    remaining: [AtomicI64; POINTS],
    /// Faults returned so far, per point.
    hits: [AtomicI64; POINTS],
    /// The log cleaner's pause point (see [`hold_cleaner`](Self::hold_cleaner)).
    cleaner_gate: Mutex<CleanerGate>,
    /// Signalled whenever `cleaner_gate` changes.
    cleaner_gate_changed: Condvar,
}

/// State of the cleaner's pause point.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Default)]
struct CleanerGate {
    /// A cleaner reaching the point waits there.
    armed: bool,
    /// A cleaner is waiting there now.
    held: bool,
}

#[cfg(any(test, feature = "testing"))]
impl StorageFaults {
    /// A set of faults with every point disarmed.
    pub fn new() -> Arc<StorageFaults> {
        Arc::new(StorageFaults::default())
    }

    /// Makes the next `times` operations at `point` fail with `kind`
    /// (`times < 0`: every operation until [`clear`](Self::clear)).
    pub fn inject(&self, point: FaultPoint, kind: FaultKind, times: i64) {
        let i = slot(point);
        self.remaining[i].store(times, Ordering::SeqCst);
        let code = match kind {
            FaultKind::NoSpace => 1,
            FaultKind::Io => 2,
        };
        self.kind[i].store(code, Ordering::SeqCst);
    }

    /// Disarms `point`.
    pub fn clear(&self, point: FaultPoint) {
        self.kind[slot(point)].store(0, Ordering::SeqCst);
    }

    /// How many operations at `point` an injected fault failed so far.
    pub fn hits(&self, point: FaultPoint) -> i64 {
        self.hits[slot(point)].load(Ordering::SeqCst)
    }

    /// Makes the log cleaner stop in the middle of its next clean (after
    /// it wrote the cleaned copies, before it locks the partition again to
    /// swap them in) until [`release_cleaner`](Self::release_cleaner), or
    /// at most a minute.
    pub fn hold_cleaner(&self) {
        self.gate().armed = true;
        self.cleaner_gate_changed.notify_all();
    }

    /// Waits up to `timeout` for a cleaner to be held at the pause point;
    /// returns whether one is.
    pub fn wait_cleaner_held(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut gate = self.gate();
        while !gate.held {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            gate = self
                .cleaner_gate_changed
                .wait_timeout(gate, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Lets a held cleaner go on, and disarms the pause point.
    pub fn release_cleaner(&self) {
        self.gate().armed = false;
        self.cleaner_gate_changed.notify_all();
    }

    /// Called by the cleaner at its pause point: waits there while armed.
    fn pause_cleaner(&self) {
        let deadline = Instant::now() + CLEANER_HOLD_LIMIT;
        let mut gate = self.gate();
        if !gate.armed {
            return;
        }
        gate.held = true;
        self.cleaner_gate_changed.notify_all();
        while gate.armed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("a held log cleaner was never released; going on");
                break;
            }
            gate = self
                .cleaner_gate_changed
                .wait_timeout(gate, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        gate.held = false;
        self.cleaner_gate_changed.notify_all();
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, CleanerGate> {
        self.cleaner_gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fault to return at `point` now, if one is armed.
    fn take(&self, point: FaultPoint) -> Option<FaultKind> {
        let i = slot(point);
        let kind = match self.kind[i].load(Ordering::SeqCst) {
            1 => FaultKind::NoSpace,
            2 => FaultKind::Io,
            _ => return None,
        };
        let left = self.remaining[i].fetch_sub(1, Ordering::SeqCst);
        if left == 0 {
            self.remaining[i].store(0, Ordering::SeqCst);
            self.kind[i].store(0, Ordering::SeqCst);
            return None;
        }
        if left == 1 {
            self.kind[i].store(0, Ordering::SeqCst);
        }
        if left < 0 {
            // Unlimited: keep the counter from drifting towards zero.
            self.remaining[i].store(-1, Ordering::SeqCst);
        }
        self.hits[i].fetch_add(1, Ordering::SeqCst);
        Some(kind)
    }
}

/// The fault hook a storage component carries: the installed
/// [`StorageFaults`] in test builds, nothing otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    #[cfg(any(test, feature = "testing"))]
    installed: Option<Arc<StorageFaults>>,
}

impl Faults {
    /// A hook that fails operations as `faults` says.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn installed(faults: Arc<StorageFaults>) -> Faults {
        Faults {
            installed: Some(faults),
        }
    }

    /// `Err` with the injected error if a fault is armed at `point`.
    #[inline]
    pub(crate) fn check(&self, point: FaultPoint) -> std::io::Result<()> {
        #[cfg(any(test, feature = "testing"))]
        if let Some(faults) = &self.installed {
            if let Some(kind) = faults.take(point) {
                return Err(kind.to_io_error());
            }
        }
        let _ = point;
        Ok(())
    }

    /// The log cleaner's pause point: returns at once unless a test holds
    /// the cleaner here (see [`StorageFaults::hold_cleaner`]).
    #[inline]
    pub(crate) fn cleaner_pause(&self) {
        #[cfg(any(test, feature = "testing"))]
        if let Some(faults) = &self.installed {
            faults.pause_cleaner();
        }
    }
}
