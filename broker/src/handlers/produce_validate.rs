//! Deep validation of produced batches: the records themselves, not just
//! the header and CRC that storage checks.
//!
//! A batch with a valid CRC can still hold a decompression bomb or
//! records that do not parse. Stored as sent, it would make every consumer
//! of the partition fail on it forever, so, like Kafka's LogValidator, the
//! broker decodes each produced batch before appending and answers
//! CORRUPT_MESSAGE instead. Records are walked in place (nothing allocated
//! per record), which keeps the produce hot path cheap.
//!
//! Decompression is bounded twice:
//!
//! - per batch, by the broker's absolute `max_decompressed_batch_bytes`
//!   (64 MiB by default), which no topic or client setting scales;
//! - broker-wide, by the decompression budget: a compressed batch reserves
//!   the memory it may decompress into before it is decompressed, first a
//!   guess ([`FIRST_TRY_RATIO`] times its compressed size), and the whole
//!   per-batch limit only if the guess was too small. A batch that cannot
//!   get its reservation within `decompression_wait` is refused with
//!   REQUEST_TIMED_OUT (retriable: nothing was written, the producer sends
//!   it again), so concurrent bombs wait for each other instead of each
//!   taking the whole limit at once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use durian_core::compression::{Compression, CompressionError};
use durian_core::record::{validate_records, verify_crc, BatchError, BatchHeader};
use kafka_protocol::ResponseError;
use tokio::sync::OwnedSemaphorePermit;

use crate::server::resources::Resources;

/// The first reservation of a compressed batch, as a multiple of its
/// compressed size: most real batches decompress to less, so they never
/// reserve the whole per-batch limit.
pub const FIRST_TRY_RATIO: usize = 8;

/// The smallest first reservation of a compressed batch.
const MIN_FIRST_TRY: usize = 64 * 1024;

/// How produced batches may decompress.
#[derive(Debug, Clone)]
pub struct Decompression {
    /// Most bytes one batch may decompress to (`max_decompressed_batch_bytes`).
    pub limit: usize,
    /// How long a batch waits for budget (`decompression_wait`).
    pub wait: Duration,
    /// Holds the broker-wide decompression budget.
    pub resources: Arc<Resources>,
}

impl Decompression {
    /// Reserves `bytes` of the broker-wide budget, waiting at most `wait`.
    /// Called on the blocking pool (compressed batches are never checked
    /// on a runtime worker).
    fn reserve(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        self.resources
            .decompression
            .acquire_blocking(bytes, self.wait)
    }
}

/// A produced batch refused before the append; the message is the
/// producer's error text and names the batch by its byte position in the
/// partition's records.
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
         than {limit} bytes, the broker's limit per batch (max_decompressed_batch_bytes); \
         send smaller batches"
    )]
    DecompressesTooLarge {
        /// Byte position of the batch in the records.
        position: usize,
        /// The batch's codec.
        codec: Compression,
        /// The per-batch decompression limit.
        limit: usize,
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
    /// Not a fault of the batch: the broker's decompression budget stayed
    /// in use by other requests for the whole wait. Retriable.
    #[error(
        "batch at byte {position} of the records: the broker's decompression budget was \
         busy for {wait_ms} ms; nothing was written, retry"
    )]
    DecompressionBusy {
        /// Byte position of the batch in the records.
        position: usize,
        /// How long the batch waited.
        wait_ms: u64,
    },
}

impl UndecodableBatch {
    /// The Kafka error code the partition is answered with.
    pub fn code(&self) -> i16 {
        match self {
            UndecodableBatch::DecompressionBusy { .. } => ResponseError::RequestTimedOut.code(),
            _ => ResponseError::CorruptMessage.code(),
        }
    }
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
    decompression: &Decompression,
) -> Result<(), UndecodableBatch> {
    let limit = decompression.limit;
    for &(position, ref header) in batches {
        let batch = records.slice(position..position + header.total_len());
        if header.compression() == Compression::None {
            // Walked in place: nothing is decompressed or reserved.
            if let Err(err) = validate_records(&batch, limit) {
                return Err(classify(&batch, position, err, limit));
            }
            continue;
        }
        let busy = || UndecodableBatch::DecompressionBusy {
            position,
            wait_ms: decompression.wait.as_millis() as u64,
        };
        let first = batch
            .len()
            .saturating_mul(FIRST_TRY_RATIO)
            .max(MIN_FIRST_TRY)
            .min(limit);
        let reservation = decompression.reserve(first).ok_or_else(busy)?;
        let outcome = match validate_records(&batch, first) {
            Err(BatchError::Compression(CompressionError::OutputTooLarge { .. }))
                if first < limit =>
            {
                // Give the guess back before waiting for the whole limit,
                // so two retries cannot hold each other's budget.
                drop(reservation);
                let _whole = decompression.reserve(limit).ok_or_else(busy)?;
                validate_records(&batch, limit)
            }
            other => other,
        };
        if let Err(err) = outcome {
            return Err(classify(&batch, position, err, limit));
        }
    }
    Ok(())
}

/// Which kind of [`UndecodableBatch`] a batch that failed to decode is.
fn classify(batch: &[u8], position: usize, err: BatchError, limit: usize) -> UndecodableBatch {
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

    /// A decompression policy of `limit` bytes per batch over a budget of
    /// `budget` bytes.
    fn policy(limit: usize, budget: usize) -> Decompression {
        let mut config = crate::BrokerConfig::new("unused".into());
        config.max_decompressed_batch_bytes = limit;
        config.decompression_budget_bytes = budget;
        Decompression {
            limit,
            wait: std::time::Duration::from_millis(1),
            resources: Arc::new(Resources::new(&config)),
        }
    }

    /// [`check_produced_records`] after the one scan the handler does.
    fn check(records: &Bytes) -> Result<(), UndecodableBatch> {
        check_limited(records, 64 << 20)
    }

    /// [`check_produced_records`] with a `limit` per batch.
    fn check_limited(records: &Bytes, limit: usize) -> Result<(), UndecodableBatch> {
        let scanned = ScannedRecords::scan(records);
        check_produced_records(records, scanned.batches(), &policy(limit, 256 << 20))
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
    fn a_busy_budget_refuses_compressed_batches_as_retriable() {
        let decompression = policy(1 << 20, 1 << 20);
        let records = valid(Compression::Zstd, 3);
        let scanned = ScannedRecords::scan(&records);
        let held = decompression
            .resources
            .decompression
            .acquire_blocking(1 << 20, std::time::Duration::ZERO)
            .unwrap();
        let err = check_produced_records(&records, scanned.batches(), &decompression).unwrap_err();
        assert_eq!(err.code(), ResponseError::RequestTimedOut.code(), "{err}");
        assert!(err.to_string().contains("budget was busy"), "{err}");
        // Uncompressed batches need no budget.
        let plain = valid(Compression::None, 3);
        let plain_scanned = ScannedRecords::scan(&plain);
        check_produced_records(&plain, plain_scanned.batches(), &decompression).unwrap();
        drop(held);
        check_produced_records(&records, scanned.batches(), &decompression).unwrap();
        assert_eq!(decompression.resources.usage().decompression_bytes, 0);
    }

    #[test]
    fn a_large_ratio_batch_retries_with_the_whole_limit() {
        // 2 MiB of one repeated record compresses far beyond 8:1.
        let mut writer = BatchWriter::builder()
            .compression(Compression::Zstd)
            .build();
        let value = vec![b'a'; 2 << 20];
        writer
            .try_append(0, None, Some(&value), NO_HEADERS)
            .unwrap();
        let records = writer.finish().unwrap();
        assert!(records.len() * FIRST_TRY_RATIO < 2 << 20);
        check_limited(&records, 4 << 20).unwrap();
    }

    #[test]
    fn valid_batches_pass_and_bad_ones_name_the_batch() {
        for codec in CODECS.into_iter().chain([Compression::None]) {
            let two = [valid(codec, 3), valid(codec, 2)].concat();
            check(&Bytes::from(two)).unwrap();
        }
        let garbage = with_section(Compression::None, &[0xff; 40]);
        let records = Bytes::from([valid(Compression::Lz4, 2), garbage].concat());
        let message = check(&records).unwrap_err().to_string();
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
            let message = check_limited(&bomb, 1 << 20).unwrap_err().to_string();
            assert!(
                message.contains(&format!("more than {} bytes", 1 << 20))
                    && message.contains("max_decompressed_batch_bytes"),
                "{codec}: {message}"
            );
            check_limited(&bomb, 8 << 20).unwrap_err(); // zeros are not records
        }
    }

    #[test]
    fn a_bad_crc_is_reported_as_such() {
        let mut bytes = with_section(Compression::Gzip, b"not records").to_vec();
        bytes[20] ^= 1;
        let message = check(&Bytes::from(bytes)).unwrap_err().to_string();
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
            principal: crate::security::Principal::anonymous(),
            listener: None,
            file_records: false,
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
