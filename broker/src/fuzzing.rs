//! Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`):
//! the request decoding path `server::dispatch` runs on every frame, and
//! partition log recovery. Not a stable API: it follows the broker's
//! internals and exists only so the fuzzers drive the real code.

use kafka_protocol::messages::ApiKey;

pub use crate::server::decode_guard::decode_guarded;
pub use crate::server::frame::{decode_header, RequestPrefix};
pub use crate::storage::PartitionLog;

/// The versions of `api` this broker serves (inclusive), or `None` for an
/// API it does not serve; a frame outside them is refused before its
/// header is decoded.
pub fn served_versions(api: ApiKey) -> Option<(i16, i16)> {
    crate::handlers::lookup(api).map(|handler| (handler.versions.min, handler.versions.max))
}
