//! Cross-checks against kafka-protocol's own record batch codec: batches our
//! writer makes decode with its decoder, and batches its encoder makes
//! decode with ours. Its gzip/snappy features are off in this workspace, so
//! compressed batches plug our codecs into its custom-compression hooks;
//! that still checks the layout around the compressed section.

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};

use crate::compression::{self, Compression};
use crate::record::{decode_records, validate_batch, BatchWriter};

fn to_ours(codec: KpCompression) -> Compression {
    match codec {
        KpCompression::None => Compression::None,
        KpCompression::Gzip => Compression::Gzip,
        KpCompression::Snappy => Compression::Snappy,
        KpCompression::Lz4 => Compression::Lz4,
        KpCompression::Zstd => Compression::Zstd,
    }
}

const PAIRS: [(Compression, KpCompression); 5] = [
    (Compression::None, KpCompression::None),
    (Compression::Gzip, KpCompression::Gzip),
    (Compression::Snappy, KpCompression::Snappy),
    (Compression::Lz4, KpCompression::Lz4),
    (Compression::Zstd, KpCompression::Zstd),
];

#[test]
fn kafka_protocol_decodes_what_our_writer_writes() {
    for (ours, theirs) in PAIRS {
        let mut writer = BatchWriter::builder()
            .compression(ours)
            .producer(11, 1, 30)
            .build();
        for i in 0..10i64 {
            let key = format!("k{i}");
            let headers = [("x", &b"1"[..]), ("y", &b"2"[..])];
            writer
                .try_append(
                    1000 + i,
                    Some(key.as_bytes()),
                    (i % 3 != 0).then_some(&b"val"[..]),
                    &headers,
                )
                .expect("append");
        }
        let mut batch = writer.finish().expect("finish");
        // Closures, so the hooks' anyhow error type is inferred from the bounds.
        let kp_decompress = |buf: &mut Bytes, codec: KpCompression| {
            let out = compression::decompress(to_ours(codec), buf, 1 << 24)?;
            Ok(Bytes::from(out))
        };
        let set =
            RecordBatchDecoder::decode_with_custom_compression(&mut batch, Some(kp_decompress))
                .expect("kafka-protocol decodes our batch");
        assert_eq!(set.compression, theirs);
        assert_eq!(set.records.len(), 10);
        for (i, r) in set.records.iter().enumerate() {
            let i = i as i64;
            assert_eq!(r.offset, i);
            assert_eq!(r.timestamp, 1000 + i);
            assert_eq!(r.sequence, 30 + i as i32);
            assert_eq!(r.producer_id, 11);
            assert_eq!(r.key.as_deref(), Some(format!("k{i}").as_bytes()));
            assert_eq!(r.value.as_deref(), (i % 3 != 0).then_some(&b"val"[..]));
            assert_eq!(r.headers.len(), 2);
        }
    }
}

#[test]
fn we_decode_what_kafka_protocol_encodes() {
    let records: Vec<KpRecord> = (0..10i64)
        .map(|i| KpRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 3,
            producer_id: 5,
            producer_epoch: 0,
            timestamp_type: KpTimestampType::Creation,
            offset: 200 + i,
            sequence: i as i32,
            timestamp: 5000 - i,
            key: (i % 2 == 0).then(|| Bytes::from(format!("key{i}"))),
            value: Some(Bytes::from(vec![b'z'; i as usize * 10])),
            headers: Default::default(),
        })
        .map(|mut record| {
            let value = Some(Bytes::from_static(b"v"));
            record.headers.insert(StrBytes::from_static_str("h"), value);
            record
        })
        .collect();
    for (ours, theirs) in PAIRS {
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: theirs,
        };
        let kp_compress = |input: &mut BytesMut, out: &mut BytesMut, codec: KpCompression| {
            let mut packed = Vec::new();
            compression::compress(to_ours(codec), input, &mut packed)?;
            out.extend_from_slice(&packed);
            Ok(())
        };
        RecordBatchEncoder::encode_with_custom_compression(
            &mut buf,
            &records,
            &options,
            Some(kp_compress),
        )
        .expect("kafka-protocol encodes");
        let batch = buf.freeze();
        let header = validate_batch(&batch, usize::MAX).expect("their batch validates");
        assert_eq!(header.compression(), ours);
        assert_eq!(header.base_offset, 200);
        assert_eq!(header.partition_leader_epoch, 3);
        let decoded = decode_records(&batch).expect("we decode their batch");
        assert_eq!(decoded.len(), 10);
        for (got, want) in decoded.iter().zip(&records) {
            assert_eq!(got.offset, want.offset);
            assert_eq!(got.timestamp, want.timestamp);
            assert_eq!(got.key, want.key);
            assert_eq!(got.value, want.value);
            assert_eq!(got.headers.len(), 1);
            assert_eq!(got.headers[0].key, "h");
        }
    }
}
