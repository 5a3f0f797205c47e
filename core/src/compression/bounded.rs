//! Reading a decoder's output up to a caller-chosen limit.

use std::io::Read;

use super::{Compression, CompressionError};

/// Reads all of `decoder` into `out`, failing once more than `max_output`
/// bytes in total would be in `out`.
///
/// The decoder is wrapped in `take(limit + 1)` so a bomb stops producing at
/// one byte past the limit; nothing beyond that is ever allocated.
pub(super) fn read_bounded(
    decoder: impl Read,
    codec: Compression,
    max_output: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let budget = max_output.saturating_sub(out.len()) as u64;
    let mut limited = decoder.take(budget.saturating_add(1));
    limited
        .read_to_end(out)
        .map_err(|err| CompressionError::Corrupt {
            codec,
            reason: err.to_string(),
        })?;
    if out.len() > max_output {
        return Err(CompressionError::OutputTooLarge {
            codec,
            limit: max_output,
        });
    }
    Ok(())
}
