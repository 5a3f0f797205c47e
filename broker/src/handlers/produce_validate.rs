//! Deep validation of produced batches: the records themselves, not just
//! the header and CRC that storage checks.
//!
//! A batch with a valid CRC can still hold a decompression bomb or
//! records that do not parse. Stored as sent, it would make every consumer
//! of the partition fail on it forever, so, like Kafka's LogValidator, the
//! broker decodes each produced batch before appending and answers
//! CORRUPT_MESSAGE instead. Compressed sections are decompressed into one
//! buffer of at most [`decompressed_limit`] bytes; records are walked in
//! place (nothing allocated per record), which keeps the produce hot path
//! cheap.

use bytes::Bytes;
use durian_core::compression::{Compression, CompressionError};
use durian_core::record::{validate_records, verify_crc, BatchError, BatchHeader};

/// The floor of the decompressed-size limit of one produced batch.
pub const MIN_DECOMPRESSED_LIMIT: usize = 64 << 20;

/// How many times `max.message.bytes` a batch may decompress to.
pub const DECOMPRESSION_FACTOR: usize = 16;

/// The most bytes one produced batch may decompress to:
/// max(64 MiB, 16 × `max.message.bytes`).
///
/// 64 MiB is also the consumer's default decompression limit, so with the
/// default `max.message.bytes` everything accepted is readable by default
/// consumers.
pub fn decompressed_limit(max_message_bytes: usize) -> usize {
    MIN_DECOMPRESSED_LIMIT.max(max_message_bytes.saturating_mul(DECOMPRESSION_FACTOR))
}

/// A produced batch that does not decode; the message is the producer's
/// CORRUPT_MESSAGE error text and names the batch by its byte position in
/// the partition's records.
#[derive(Debug, thiserror::Error)]
pub enum UndecodableBatch {
    /// The CRC does not match: damage in transit, so how the damaged
    /// bytes failed to parse is beside the point.
    #[error("batch at byte {position} of the records: {source}")]
    Damaged {
        /// Byte position of the batch in the records.
        position: usize,
        /// The CRC check's error.
        source: BatchError,
    },
    /// The records decompress to more than the broker's limit.
    #[error(
        "batch at byte {position} of the records: its {codec} records decompress to more \
         than {limit} bytes, the broker's limit (max(64 MiB, {DECOMPRESSION_FACTOR} x \
         max.message.bytes={max_message_bytes})); send smaller batches"
    )]
    DecompressesTooLarge {
        /// Byte position of the batch in the records.
        position: usize,
        /// The batch's codec.
        codec: Compression,
        /// The decompressed-size limit ([`decompressed_limit`]).
        limit: usize,
        /// The partition's `max.message.bytes`.
        max_message_bytes: usize,
    },
    /// The records do not parse (counts, lengths, offsets, codec data).
    #[error(
        "batch at byte {position} of the records does not decode, so no consumer could \
         read it: {source}"
    )]
    Undecodable {
        /// Byte position of the batch in the records.
        position: usize,
        /// What does not parse.
        source: BatchError,
    },
}

/// Checks that every batch of `records` decodes: the (bounded)
/// decompression succeeds and the records parse, numbered 0..count, with
/// exactly the header's record count. The error names the first bad batch.
///
/// `batches` are the whole batches of `records` as
/// [`crate::storage::ScannedRecords`] found them, so the bytes are not
/// walked again here. Framing errors (a partial batch, a bad length) are
/// left to storage, which reports them; only whole batches are decoded.
pub fn check_produced_records(
    records: &Bytes,
    batches: &[(usize, BatchHeader)],
    max_message_bytes: usize,
) -> Result<(), UndecodableBatch> {
    check_with_limit(
        records,
        batches,
        decompressed_limit(max_message_bytes),
        max_message_bytes,
    )
}

/// [`check_produced_records`] with an explicit decompression limit.
fn check_with_limit(
    records: &Bytes,
    batches: &[(usize, BatchHeader)],
    limit: usize,
    max_message_bytes: usize,
) -> Result<(), UndecodableBatch> {
    for &(position, ref header) in batches {
        let batch = records.slice(position..position + header.total_len());
        if let Err(err) = validate_records(&batch, limit) {
            return Err(classify(&batch, position, err, limit, max_message_bytes));
        }
    }
    Ok(())
}

/// Which kind of [`UndecodableBatch`] a batch that failed to decode is.
fn classify(
    batch: &[u8],
    position: usize,
    err: BatchError,
    limit: usize,
    max_message_bytes: usize,
) -> UndecodableBatch {
    // Garbage under a bad CRC is damage in transit: say that, not how the
    // garbage failed to parse.
    if let Err(crc) = verify_crc(batch) {
        return UndecodableBatch::Damaged {
            position,
            source: crc,
        };
    }
    match err {
        BatchError::Compression(CompressionError::OutputTooLarge { codec, .. }) => {
            UndecodableBatch::DecompressesTooLarge {
                position,
                codec,
                limit,
                max_message_bytes,
            }
        }
        other => UndecodableBatch::Undecodable {
            position,
            source: other,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::produce::{handle, ProduceReply};
    use crate::handlers::RequestContext;
    use crate::storage::ScannedRecords;
    use durian_core::compression::{compress, Compression};
    use durian_core::record::{BatchWriter, NO_HEADERS};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::ProduceRequest;
    use kafka_protocol::ResponseError;

    /// [`check_produced_records`] after the one scan the handler does.
    fn check(records: &Bytes, max_message_bytes: usize) -> Result<(), UndecodableBatch> {
        let scanned = ScannedRecords::scan(records);
        check_produced_records(records, scanned.batches(), max_message_bytes)
    }

    /// [`check_with_limit`] after the one scan the handler does.
    fn check_limited(
        records: &Bytes,
        limit: usize,
        max_message_bytes: usize,
    ) -> Result<(), UndecodableBatch> {
        let scanned = ScannedRecords::scan(records);
        check_with_limit(records, scanned.batches(), limit, max_message_bytes)
    }

    const CODECS: [Compression; 4] = [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn valid(codec: Compression, n: i64) -> Bytes {
        let mut writer = BatchWriter::builder().compression(codec).build();
        for i in 0..n {
            writer
                .try_append(i, Some(b"k"), Some(b"durian"), NO_HEADERS)
                .unwrap();
        }
        writer.finish().unwrap()
    }

    /// `template` (one record) with its records section replaced by
    /// `section` compressed by `codec`, and a correct CRC.
    fn with_section(codec: Compression, section: &[u8]) -> Bytes {
        let template = valid(Compression::None, 1);
        let mut out = template[..61].to_vec();
        compress(codec, section, &mut out).unwrap();
        let batch_length = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&batch_length.to_be_bytes());
        out[21..23].copy_from_slice(&codec.attribute_bits().to_be_bytes());
        let crc = crc32c::crc32c(&out[21..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(out)
    }

    #[test]
    fn the_limit_has_a_floor_and_follows_max_message_bytes() {
        assert_eq!(decompressed_limit(1_048_588), 64 << 20);
        assert_eq!(decompressed_limit(8 << 20), 128 << 20);
        assert_eq!(decompressed_limit(usize::MAX), usize::MAX);
    }

    #[test]
    fn valid_batches_pass_and_bad_ones_name_the_batch() {
        for codec in CODECS.into_iter().chain([Compression::None]) {
            let two = [valid(codec, 3), valid(codec, 2)].concat();
            check(&Bytes::from(two), 1 << 20).unwrap();
        }
        let garbage = with_section(Compression::None, &[0xff; 40]);
        let records = Bytes::from([valid(Compression::Lz4, 2), garbage].concat());
        let message = check(&records, 1 << 20).unwrap_err().to_string();
        let first_len = valid(Compression::Lz4, 2).len();
        assert!(
            message.contains(&format!("batch at byte {first_len} ")),
            "{message}"
        );
    }

    #[test]
    fn a_bomb_of_every_codec_is_refused_naming_the_limit() {
        // 4 MiB of zeros against a 1 MiB limit: the same path as a 1 GiB
        // bomb against the real 64 MiB, without a 64 MiB test allocation.
        let zeros = vec![0u8; 4 << 20];
        for codec in CODECS {
            let bomb = with_section(codec, &zeros);
            let message = check_limited(&bomb, 1 << 20, 65_536)
                .unwrap_err()
                .to_string();
            assert!(
                message.contains(&format!("more than {} bytes", 1 << 20))
                    && message.contains("max.message.bytes=65536"),
                "{codec}: {message}"
            );
            check_limited(&bomb, 4 << 20, 65_536).unwrap_err(); // zeros are not records
        }
    }

    #[test]
    fn a_bad_crc_is_reported_as_such() {
        let mut bytes = with_section(Compression::Gzip, b"not records").to_vec();
        bytes[20] ^= 1;
        let message = check(&Bytes::from(bytes), 1 << 20).unwrap_err().to_string();
        assert!(message.contains("CRC"), "{message}");
    }

    #[tokio::test]
    async fn a_refused_batch_leaves_its_partition_untouched() {
        let broker = crate::Broker::builder()
            .temporary()
            .listen("127.0.0.1:0")
            .start()
            .await
            .unwrap();
        let state = broker.state.clone();
        let garbage = with_section(Compression::Zstd, &[7u8; 300]);
        let partition = |records: Bytes| {
            PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))
        };
        let topic = |name: &str, records: Bytes| {
            TopicProduceData::default()
                .with_name(crate::handlers::topic_name(name))
                .with_partition_data(vec![partition(records)])
        };
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_topic_data(vec![
                topic("good", valid(Compression::Snappy, 4)),
                topic("bad", garbage),
            ]);
        let ctx = RequestContext {
            version: 9,
            client_id: None,
            peer: "127.0.0.1:1".parse().unwrap(),
            node_id: 0,
        };
        let ProduceReply::Respond(response) = handle(&state.data_context(), request, &ctx).await
        else {
            panic!("acks=-1 must be answered");
        };
        let codes: Vec<(i16, Option<String>)> = response
            .responses
            .iter()
            .map(|t| {
                let p = &t.partition_responses[0];
                (
                    p.error_code,
                    p.error_message.as_ref().map(|m| m.to_string()),
                )
            })
            .collect();
        assert_eq!(codes[0], (0, None), "{codes:?}");
        assert_eq!(
            codes[1].0,
            ResponseError::CorruptMessage.code(),
            "{codes:?}"
        );
        assert!(
            codes[1]
                .1
                .as_deref()
                .unwrap_or("")
                .contains("does not decode"),
            "{codes:?}"
        );
        let end = |name: &str| {
            let log = state.logs().get(name, 0).unwrap();
            let log = log.lock().unwrap();
            log.log_end_offset()
        };
        assert_eq!(end("good"), 4);
        assert_eq!(end("bad"), 0);
    }
}
