//! The broker's header stamps for an append, kept beside the producer's
//! bytes instead of written into a copy of them.
//!
//! An append changes only the 61-byte header of each batch (base offset,
//! leader epoch and, for LogAppendTime topics, timestamp type, max
//! timestamp and CRC). Copying a whole request's records to change those
//! bytes cost as much CPU as the record walk, so each header is copied and
//! stamped here and the log file gets the stamped headers interleaved with
//! the untouched record sections in one vectored write:
//!
//! ```text
//! records:  [hdr0|records0][hdr1|records1]...     (as the producer sent them)
//! stamped:  [hdr0'][hdr1']...                      (61 bytes per batch)
//! pwritev:  hdr0' records0 hdr1' records1 ...      (= the stamped batches)
//! ```

use std::fs::File;
use std::io::{self, IoSlice};

use durian_core::record::header::{
    ATTRIBUTES_POS, ATTR_TIMESTAMP_TYPE, BASE_OFFSET_POS, CRC_POS, MAX_TIMESTAMP_POS,
    PARTITION_LEADER_EPOCH_POS,
};
use durian_core::record::{BatchError, BatchHeader, BATCH_HEADER_LEN};

use super::segment::PlacedBatch;

/// Most slices one `pwritev` takes (Linux's IOV_MAX is 1024).
const MAX_SLICES: usize = 1024;

/// The stamped headers of the batches of one append, in order.
#[derive(Debug)]
pub(crate) struct StampedHeaders {
    headers: Vec<u8>,
}

impl StampedHeaders {
    /// Copies the header of each placed batch of `records` and stamps its
    /// assigned base offset and leader epoch, and with `log_append_time`
    /// that time as its max timestamp and type (recomputing the CRC over
    /// the stamped header and the untouched records). The placed headers
    /// are updated to match what is written.
    pub(crate) fn stamp(
        records: &[u8],
        placed: &mut [PlacedBatch],
        log_append_time: Option<i64>,
    ) -> Result<StampedHeaders, BatchError> {
        let mut headers = Vec::with_capacity(placed.len() * BATCH_HEADER_LEN);
        for batch in placed.iter_mut() {
            let (original, body) = batch_parts(records, batch)?;
            let start = headers.len();
            headers.extend_from_slice(original);
            let header = &mut headers[start..];
            put(
                header,
                BASE_OFFSET_POS,
                &batch.header.base_offset.to_be_bytes(),
            );
            put(
                header,
                PARTITION_LEADER_EPOCH_POS,
                &batch.header.partition_leader_epoch.to_be_bytes(),
            );
            if let Some(now_ms) = log_append_time {
                let attributes = batch.header.attributes | ATTR_TIMESTAMP_TYPE;
                put(header, ATTRIBUTES_POS, &attributes.to_be_bytes());
                put(header, MAX_TIMESTAMP_POS, &now_ms.to_be_bytes());
                // The CRC covers attributes..end: the stamped part of the
                // header, then the records as sent.
                let crc = crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES_POS..]), body);
                put(header, CRC_POS, &crc.to_be_bytes());
                batch.header = BatchHeader::parse(header)?;
            }
        }
        Ok(StampedHeaders { headers })
    }

    /// The bytes to write, in order: each batch's stamped header, then its
    /// records section from `records` (the bytes [`StampedHeaders::stamp`]
    /// was given, with the same `placed`).
    pub(crate) fn slices<'a>(
        &'a self,
        records: &'a [u8],
        placed: &[PlacedBatch],
    ) -> Result<Vec<IoSlice<'a>>, BatchError> {
        let mut slices = Vec::with_capacity(placed.len() * 2);
        for (batch, header) in placed
            .iter()
            .zip(self.headers.chunks_exact(BATCH_HEADER_LEN))
        {
            let (_, body) = batch_parts(records, batch)?;
            slices.push(IoSlice::new(header));
            if !body.is_empty() {
                slices.push(IoSlice::new(body));
            }
        }
        Ok(slices)
    }
}

/// The header and records section of `batch` within `records`.
fn batch_parts<'a>(
    records: &'a [u8],
    batch: &PlacedBatch,
) -> Result<(&'a [u8], &'a [u8]), BatchError> {
    let end = batch.position + batch.header.total_len();
    records
        .get(batch.position..end)
        .and_then(|bytes| bytes.split_at_checked(BATCH_HEADER_LEN))
        .ok_or(BatchError::Truncated {
            needed: end,
            available: records.len(),
        })
}

/// Overwrites `bytes.len()` bytes of a 61-byte header at `pos` (a header
/// field position, always inside it).
fn put(header: &mut [u8], pos: usize, bytes: &[u8]) {
    header[pos..pos + bytes.len()].copy_from_slice(bytes);
}

/// Writes all of `slices` to `file` from byte `offset` on, in as few
/// `pwritev` calls as the kernel allows.
pub(crate) fn write_all_vectored_at(
    file: &File,
    mut slices: &mut [IoSlice<'_>],
    mut offset: u64,
) -> io::Result<()> {
    while !slices.is_empty() {
        let batch = &slices[..slices.len().min(MAX_SLICES)];
        let written = match rustix::io::pwritev(file, batch, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        offset += written as u64;
        IoSlice::advance_slices(&mut slices, written);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::tests::support::batch;
    use durian_core::record::{
        set_base_offset, set_log_append_time, set_partition_leader_epoch, verify_crc,
    };
    use std::os::unix::fs::FileExt;

    /// Three batches of different sizes, back to back, with their places.
    fn three_batches() -> (Vec<u8>, Vec<PlacedBatch>) {
        let mut records = Vec::new();
        let mut placed = Vec::new();
        for (i, count) in [3usize, 1, 5].into_iter().enumerate() {
            let bytes = batch(count, 7 + i, 1_000 + i as i64);
            let header = BatchHeader::parse(&bytes).unwrap();
            placed.push(PlacedBatch {
                position: records.len(),
                header: BatchHeader {
                    base_offset: 100 + 10 * i as i64,
                    partition_leader_epoch: 4,
                    ..header
                },
            });
            records.extend_from_slice(&bytes);
        }
        (records, placed)
    }

    /// The same stamps written into a copy of the records, batch by batch.
    fn stamped_in_place(records: &[u8], placed: &[PlacedBatch], now: Option<i64>) -> Vec<u8> {
        let mut copy = records.to_vec();
        for batch in placed {
            let bytes = &mut copy[batch.position..batch.position + batch.header.total_len()];
            set_base_offset(bytes, batch.header.base_offset).unwrap();
            set_partition_leader_epoch(bytes, batch.header.partition_leader_epoch).unwrap();
            if let Some(now) = now {
                set_log_append_time(bytes, now).unwrap();
            }
        }
        copy
    }

    #[test]
    fn the_written_bytes_are_the_batches_stamped_in_place() {
        let (records, original) = three_batches();
        for now in [None, Some(1_700_000_000_123)] {
            let mut placed = original.clone();
            let stamped = StampedHeaders::stamp(&records, &mut placed, now).unwrap();
            let written: Vec<u8> = stamped
                .slices(&records, &placed)
                .unwrap()
                .iter()
                .flat_map(|slice| slice.iter().copied())
                .collect();
            let expected = stamped_in_place(&records, &original, now);
            assert_eq!(written, expected, "log append time {now:?}");
            for batch in &placed {
                let bytes = &written[batch.position..batch.position + batch.header.total_len()];
                verify_crc(bytes).unwrap();
                assert_eq!(BatchHeader::parse(bytes).unwrap(), batch.header);
            }
            assert_ne!(
                written, records,
                "the producer's bytes are not what is written"
            );
        }
    }

    #[test]
    fn a_batch_cut_short_is_refused_not_sliced() {
        let (records, mut placed) = three_batches();
        let cut = &records[..records.len() - 1];
        assert!(StampedHeaders::stamp(cut, &mut placed, None).is_err());
    }

    #[test]
    fn more_slices_than_one_pwritev_takes_are_all_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("log"))
            .unwrap();
        let pieces: Vec<Vec<u8>> = (0..3 * MAX_SLICES)
            .map(|i| vec![(i % 251) as u8; 1 + i % 5])
            .collect();
        let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
        write_all_vectored_at(&file, &mut slices, 3).unwrap();
        let expected: Vec<u8> = pieces.concat();
        let mut read = vec![0u8; expected.len()];
        file.read_exact_at(&mut read, 3).unwrap();
        assert_eq!(read, expected);
        assert_eq!(file.metadata().unwrap().len(), 3 + expected.len() as u64);
    }
}
