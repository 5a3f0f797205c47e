//! The record batch scanner and decoder (`durian_core::record`), as a
//! consumer runs them on the records of a fetch response: scan whole
//! batches, validate and CRC-check each, then decode its records
//! (decompressing with a 4 MiB bound). Input: the records bytes.

#![no_main]

use bytes::Bytes;
use durian_core::record::{validate_batch, verify_crc, BytesBatchScanner, RecordIter};
use libfuzzer_sys::fuzz_target;

const MAX_BATCH: usize = 1 << 20;
const MAX_DECOMPRESSED: usize = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let mut scanner =
        BytesBatchScanner::new(Bytes::copy_from_slice(data)).max_batch_size(MAX_BATCH);
    for batch in scanner.by_ref() {
        let Ok(batch) = batch else { break };
        let _ = validate_batch(&batch.bytes, MAX_BATCH);
        let _ = verify_crc(&batch.bytes);
        if let Ok(records) = RecordIter::with_max_decompressed(&batch.bytes, MAX_DECOMPRESSED) {
            for record in records {
                if record.is_err() {
                    break;
                }
            }
        }
    }
    let _ = scanner.truncated();
});
