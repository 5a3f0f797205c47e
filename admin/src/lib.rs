//! durian-admin: not implemented yet.
//!
//! This crate is reserved in the workspace layout (see docs/ARCHITECTURE.md);
//! it holds no code until its issue is worked on, so nothing here pretends to work.
