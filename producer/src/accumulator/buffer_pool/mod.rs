//! The `buffer.memory` budget shared by every batch of a producer.

mod memory;

pub(crate) use memory::{MemoryBudget, Reservation};
