//! The log-shipping agent: follow a growing file like `tail -F` and ship
//! each line to a topic, exactly once across restarts.
//!
//! ```text
//!  access.log ──▶ FileFollower ──▶ Shipper ──▶ Producer (idempotent) ──▶ topic, one partition
//!   (appends,       (lines with      │                                    per source, file order
//!    rotation,      generation and   └──▶ acknowledged prefix ──▶ checkpoint file
//!    truncation)    byte range)
//! ```
//!
//! * [`follow`]: the file follower (appends, rotation by rename,
//!   truncation, a file that does not exist yet).
//! * [`checkpoint`]: the checkpoint file, written atomically, and its
//!   lock file (one agent per checkpoint).
//! * [`recovery`]: what the topic holds past the checkpoint.
//! * [`record`]: the record of one line (key and headers).
//! * [`Shipper`]: ties them together.
//!
//! docs/SHIP.md explains why restarts neither lose nor duplicate lines,
//! the limits and the defaults.

pub mod checkpoint;
mod config;
mod error;
pub mod follow;
pub mod identity;
mod lock;
pub mod record;
pub mod recovery;
mod shipper;

pub use config::{
    ShipConfig, CHECKPOINT_SUFFIX, DEFAULT_BATCH_SIZE, DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_MAX_LINE_BYTES, DEFAULT_POLL_INTERVAL, DEFAULT_RECOVERY_TIMEOUT,
};
pub use error::ShipError;
pub use shipper::{ShipProgress, Shipper};
