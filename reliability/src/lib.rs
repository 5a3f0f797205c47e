//! durian's reliability suite (see docs/RELIABILITY.md): the record format
//! the scenarios send, the checker that judges what was read back, and the
//! helpers the scenarios in `tests/` share.
//!
//! ```text
//! Workload ─▶ workload::produce ─▶ SendLedger ─┐
//!                                              ├─▶ checker::check ─▶ Report
//! broker ─▶ readback::read_all ─▶ ReadRecords ─┘
//! ```
//!
//! [`BrokerProcess`] runs `durian broker` as a child process so scenarios
//! can SIGKILL it and start it again on the same port and data.

pub mod bombs;
pub mod broker_process;
pub mod checker;
pub mod durian_binary;
pub mod ledger;
pub mod readback;
pub mod record;
pub mod workload;

pub use broker_process::{BrokerOptions, BrokerProcess, Memory, ProcessError};
pub use checker::{check, Expectations, ReadRecord, Report};
pub use ledger::{Outcome, SendLedger, SentRecord};
pub use record::{decode, DecodeError, RecordId};
pub use workload::{produce, Workload};
