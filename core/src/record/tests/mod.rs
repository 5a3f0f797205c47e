//! Tests of the record batch module that span several of its files.

mod bounds;
mod crosscheck;
mod golden;
mod roundtrip;
mod scan;
