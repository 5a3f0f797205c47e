//! The producer's lifecycle: one state shared by the handles and the
//! sender task, which only ever moves forward.
//!
//! ```text
//!  Open ──close()/last handle dropped──▶ Closing ──close() timed out──▶ Aborting
//!    sends taken                          no sends; deliver                fail what is left
//!                                         everything left                  with Aborted
//!                     Closing/Aborting ──sender task exits──▶ Closed
//! ```
//!
//! Two things stay outside the state on purpose:
//! * the fatal error (`Shared::fatal`): it can strike in any state, it
//!   carries the error every later send must return, and it does not end
//!   the lifecycle (the sender keeps failing batches until a close);
//! * the flush count (`Shared::hurry`): how many `flush` calls are waiting,
//!   a counter that rises and falls while the producer is open.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where a producer is in its life; later states never go back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum State {
    /// Taking records.
    Open = 0,
    /// `close` was called or the last handle dropped: no more records are
    /// taken; the sender delivers what is buffered, then stops.
    Closing = 1,
    /// `close` timed out: the sender fails everything still pending with
    /// `ProducerError::Aborted`, then stops.
    Aborting = 2,
    /// The sender task has stopped.
    Closed = 3,
}

impl State {
    fn from_u8(value: u8) -> State {
        match value {
            0 => State::Open,
            1 => State::Closing,
            2 => State::Aborting,
            _ => State::Closed,
        }
    }
}

/// The lifecycle state, shared across threads without a lock.
#[derive(Debug)]
pub(crate) struct Lifecycle(AtomicU8);

impl Lifecycle {
    /// A producer that is open.
    pub(crate) fn new() -> Self {
        Lifecycle(AtomicU8::new(State::Open as u8))
    }

    /// The current state.
    pub(crate) fn get(&self) -> State {
        State::from_u8(self.0.load(Ordering::Acquire))
    }

    /// Moves to `state` unless the producer is already there or further
    /// on (a close after an abort, or after the sender stopped, changes
    /// nothing).
    pub(crate) fn advance(&self, state: State) {
        self.0.fetch_max(state as u8, Ordering::AcqRel);
    }

    /// Whether sends are refused: closing, aborting or closed.
    pub(crate) fn is_closing(&self) -> bool {
        self.get() >= State::Closing
    }

    /// Whether pending records must fail now: aborting or closed.
    pub(crate) fn is_aborting(&self) -> bool {
        self.get() >= State::Aborting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_only_moves_forward() {
        let lifecycle = Lifecycle::new();
        assert_eq!(lifecycle.get(), State::Open);
        assert!(!lifecycle.is_closing());
        lifecycle.advance(State::Closing);
        assert!(lifecycle.is_closing() && !lifecycle.is_aborting());
        lifecycle.advance(State::Aborting);
        lifecycle.advance(State::Closing);
        assert_eq!(lifecycle.get(), State::Aborting);
        lifecycle.advance(State::Closed);
        lifecycle.advance(State::Aborting);
        assert_eq!(lifecycle.get(), State::Closed);
        assert!(lifecycle.is_closing() && lifecycle.is_aborting());
    }
}
