//! A finished batch in pieces: the writer's buffer, cut where large values
//! were referenced instead of copied.
//!
//! ```text
//!  [header | record prefix][value 0][value 0's headers | next prefix][value 1][..]
//!   └── writer's buffer ──┘ └ caller's Bytes ┘ └── writer's buffer ──┘
//! ```
//!
//! The pieces concatenated are the batch exactly as a contiguous writer
//! would have made it: same bytes, same CRC (CRC-32C carried across the
//! pieces). A request writes the pieces with one vectored write, so a
//! referenced value is copied only by the kernel, into the socket.

use bytes::{Bytes, BytesMut};

use super::header::CRC_POS;
use super::header::{ATTRIBUTES_POS, BASE_SEQUENCE_POS, PRODUCER_EPOCH_POS, PRODUCER_ID_POS};
use super::{BatchError, BatchHeader, BATCH_HEADER_LEN};

/// One finished record batch as a list of `Bytes` (see the module docs).
///
/// The first piece always holds the whole 61-byte batch header, so the
/// header can be read and restamped without touching the other pieces.
///
/// ```
/// use bytes::Bytes;
/// use durian_core::record::{verify_crc, BatchWriter, NO_HEADERS};
///
/// let value = Bytes::from(vec![b'x'; 4096]);
/// let mut writer = BatchWriter::builder().reference_values_from(1024).build();
/// writer.try_append_shared(1_700_000_000_000, None, Some(&value), NO_HEADERS).unwrap();
/// let rope = writer.finish_rope().unwrap();
/// assert_eq!(rope.pieces().len(), 3); // prefix, the value itself, the header count
/// assert_eq!(rope.pieces()[1].as_ptr(), value.as_ptr());
/// verify_crc(&rope.to_bytes()).unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchRope {
    pieces: Vec<Bytes>,
    len: usize,
}

impl From<Bytes> for BatchRope {
    /// A contiguous batch as a rope of one piece (no copy).
    fn from(batch: Bytes) -> Self {
        BatchRope {
            len: batch.len(),
            pieces: vec![batch],
        }
    }
}

impl BatchRope {
    /// Pieces from a writer; the caller guarantees the first holds the header.
    pub(super) fn from_pieces(pieces: Vec<Bytes>) -> Self {
        let len = pieces.iter().map(Bytes::len).sum();
        BatchRope { pieces, len }
    }

    /// The batch's length in bytes, all pieces together.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch has no bytes at all (never, for a finished batch).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces, in order; concatenated they are the batch.
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    /// The first piece, which holds the batch header.
    pub fn head(&self) -> &[u8] {
        self.pieces.first().map_or(&[][..], |head| &head[..])
    }

    /// The parsed batch header.
    pub fn header(&self) -> Result<BatchHeader, BatchError> {
        BatchHeader::parse(self.head())
    }

    /// The batch as one `Bytes`: the piece itself when there is only one,
    /// otherwise a copy of all of them (for the rare paths that need the
    /// batch contiguous, such as splitting it).
    pub fn to_bytes(&self) -> Bytes {
        match self.pieces.as_slice() {
            [] => Bytes::new(),
            [only] => only.clone(),
            pieces => {
                let mut joined = BytesMut::with_capacity(self.len);
                for piece in pieces {
                    joined.extend_from_slice(piece);
                }
                joined.freeze()
            }
        }
    }

    /// The CRC-32C the batch should carry, computed over the pieces.
    pub fn compute_crc(&self) -> Result<u32, BatchError> {
        crc_of_pieces(self.head(), self.pieces.get(1..).unwrap_or_default())
    }

    /// Sets producerId, producerEpoch and baseSequence and recomputes the
    /// CRC over every piece, as [`super::set_producer_state`] does for a
    /// contiguous batch. Only the first piece is rewritten (reclaimed
    /// without a copy when nothing else holds it).
    pub fn set_producer_state(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> Result<(), BatchError> {
        let contiguous = self.pieces.len() == 1;
        let Some(first) = self.pieces.first_mut() else {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_LEN,
                available: 0,
            });
        };
        if first.len() < BATCH_HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_LEN,
                available: first.len(),
            });
        }
        if contiguous {
            // Contiguous: the batch's own checks (exact length) apply.
            let mut owned = BytesMut::from(std::mem::take(first));
            super::set_producer_state(&mut owned, producer_id, producer_epoch, base_sequence)?;
            *first = owned.freeze();
            return Ok(());
        }
        let header = BatchHeader::parse(first)?;
        let expected = usize::try_from(header.batch_length)
            .ok()
            .and_then(|l| l.checked_add(super::header::BATCH_LENGTH_OVERHEAD));
        if expected != Some(self.len) {
            return Err(BatchError::Encode(
                "the pieces do not add up to the batch length",
            ));
        }
        let mut owned = BytesMut::from(std::mem::take(first));
        put(&mut owned, PRODUCER_ID_POS, &producer_id.to_be_bytes());
        put(
            &mut owned,
            PRODUCER_EPOCH_POS,
            &producer_epoch.to_be_bytes(),
        );
        put(&mut owned, BASE_SEQUENCE_POS, &base_sequence.to_be_bytes());
        let crc = crc_of_pieces(&owned, self.pieces.get(1..).unwrap_or_default())?;
        put(&mut owned, CRC_POS, &crc.to_be_bytes());
        if let Some(first) = self.pieces.first_mut() {
            *first = owned.freeze();
        }
        Ok(())
    }
}

/// Overwrites header bytes at `pos`; the caller checked the header's length.
fn put(buf: &mut [u8], pos: usize, bytes: &[u8]) {
    if let Some(slot) = buf.get_mut(pos..pos + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

/// CRC-32C from attributes to the end: `head` (which starts at the batch
/// header) followed by `rest`.
pub(super) fn crc_of_pieces(head: &[u8], rest: &[Bytes]) -> Result<u32, BatchError> {
    let covered = head.get(ATTRIBUTES_POS..).ok_or(BatchError::Truncated {
        needed: BATCH_HEADER_LEN,
        available: head.len(),
    })?;
    Ok(rest.iter().fold(crc32c::crc32c(covered), |crc, piece| {
        crc32c::crc32c_append(crc, piece)
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::compression::Compression;
    use crate::record::{decode_records, verify_crc, BatchWriter, BatchWriterBuilder};

    fn value(len: usize, seed: u8) -> Bytes {
        Bytes::from(
            (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect::<Vec<u8>>(),
        )
    }

    /// The same records through a copying writer and a referencing one.
    fn both(builder: BatchWriterBuilder, values: &[Option<Bytes>]) -> (Bytes, BatchRope) {
        let mut copying = builder.clone().build();
        let mut referencing = builder.reference_values_from(1024).build();
        for (i, v) in values.iter().enumerate() {
            let ts = 1_700_000_000_000 + i as i64;
            let key = Some(&b"key"[..]).filter(|_| i % 2 == 0);
            let headers = [("h", &b"1"[..])];
            let headers = if i % 3 == 0 { &headers[..] } else { &[] };
            assert!(copying.try_append(ts, key, v.as_deref(), headers).unwrap());
            assert!(referencing
                .try_append_shared(ts, key, v.as_ref(), headers)
                .unwrap());
            assert_eq!(copying.estimated_size(), referencing.estimated_size());
        }
        (
            copying.finish().unwrap(),
            referencing.finish_rope().unwrap(),
        )
    }

    #[test]
    fn pieces_are_byte_identical_to_the_contiguous_batch_and_carry_its_crc() {
        let values = [
            Some(value(10_000, 1)),
            Some(value(100, 2)),
            None,
            Some(value(1024, 3)),
            Some(value(1023, 4)),
            Some(value(4096, 5)),
            Some(value(4096, 6)),
        ];
        let builder = BatchWriter::builder()
            .producer(7, 1, 40)
            .size_limit(usize::MAX);
        let (contiguous, rope) = both(builder, &values);
        // Four values referenced: prefix, value, .. , tail.
        assert_eq!(rope.pieces().len(), 2 * 4 + 1);
        assert_eq!(rope.len(), contiguous.len());
        assert_eq!(rope.to_bytes(), contiguous);
        assert_eq!(
            rope.compute_crc().unwrap(),
            crate::record::compute_crc(&contiguous).unwrap()
        );
        verify_crc(&rope.to_bytes()).unwrap();
        assert!(rope.head().len() >= BATCH_HEADER_LEN);
        assert_eq!(rope.header().unwrap().record_count, 7);
        // The referenced values are the caller's bytes, not copies.
        assert_eq!(
            rope.pieces()[1].as_ptr(),
            values[0].as_ref().unwrap().as_ptr()
        );
        let decoded = decode_records(&rope.to_bytes()).unwrap();
        assert_eq!(decoded[5].value, values[5]);
        assert_eq!(decoded[2].value, None);
    }

    #[test]
    fn compressed_and_small_values_stay_contiguous() {
        let values = [Some(value(10_000, 1)), Some(value(5000, 2))];
        let lz4 = BatchWriter::builder()
            .compression(Compression::Lz4)
            .size_limit(usize::MAX);
        let (contiguous, rope) = both(lz4, &values);
        assert_eq!(rope.pieces().len(), 1);
        assert_eq!(rope.to_bytes(), contiguous);
        let small = [Some(value(1000, 1)), Some(value(20, 2))];
        let (contiguous, rope) = both(BatchWriter::builder(), &small);
        assert_eq!(rope.pieces().len(), 1);
        assert_eq!(rope.pieces()[0], contiguous);
    }

    #[test]
    fn restamping_the_producer_state_matches_the_contiguous_rewrite() {
        let values = [Some(value(3000, 9)), Some(value(2000, 8))];
        let (contiguous, mut rope) = both(BatchWriter::builder().size_limit(usize::MAX), &values);
        let mut expected = BytesMut::from(&contiguous[..]);
        crate::record::set_producer_state(&mut expected, 99, 3, 1234).unwrap();
        rope.set_producer_state(99, 3, 1234).unwrap();
        assert_eq!(rope.to_bytes(), expected.freeze());
        let header = rope.header().unwrap();
        assert_eq!((header.producer_id, header.base_sequence), (99, 1234));
        // A contiguous rope goes through the same rewrite.
        let mut single = BatchRope::from(contiguous);
        single.set_producer_state(99, 3, 1234).unwrap();
        assert_eq!(single, BatchRope::from(rope.to_bytes()));
    }

    #[test]
    fn the_size_limit_counts_referenced_values() {
        let mut writer = BatchWriter::builder()
            .size_limit(16 * 1024)
            .reference_values_from(1024)
            .build();
        let v = value(10_000, 1);
        assert!(writer
            .try_append_shared(0, None, Some(&v), crate::record::NO_HEADERS)
            .unwrap());
        assert!(writer.estimated_size() > 10_000);
        assert_eq!(writer.referenced_bytes(), 10_000);
        assert!(writer.capacity() >= writer.estimated_size());
        // A second 10 KB value would pass 16 KiB: refused.
        assert!(!writer
            .try_append_shared(0, None, Some(&v), crate::record::NO_HEADERS)
            .unwrap());
        assert!(!writer
            .would_fit(0, None, Some(&v[..]), crate::record::NO_HEADERS)
            .unwrap());
    }

    #[test]
    fn a_rope_whose_pieces_do_not_add_up_is_not_restamped() {
        let values = [Some(value(3000, 9))];
        let (_, rope) = both(BatchWriter::builder(), &values);
        let mut pieces = rope.pieces().to_vec();
        pieces.pop();
        let mut short = BatchRope::from_pieces(pieces);
        assert!(short.set_producer_state(1, 1, 1).is_err());
    }
}
