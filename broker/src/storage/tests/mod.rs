//! Tests of the storage engine through its public API (plus a few looks at
//! the files it writes). Run them with `cargo test -p durian-broker storage`.

mod append_read;
mod cleaner_locking;
mod compaction;
mod faults;
mod flush;
mod fuzz;
mod idempotence;
mod located;
mod log_manager;
mod recovery;
mod retention;
pub(super) mod support;
mod timestamps;
mod transactions;
mod txn_index;
