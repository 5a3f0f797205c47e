//! A minimal Kafka client for the harness's own checks: one Metadata
//! request over a fresh connection. It speaks `kafka-protocol` directly so
//! that whether a node is ready never depends on the durian code under
//! test.

use std::io;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::scripted::encode;

/// Metadata v12: every Kafka 4.x broker serves it, and it still names
/// topics (v13 adds nothing the harness needs).
const METADATA_VERSION: i16 = 12;

/// How long one probe may take, connect included.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the broker at `address` for metadata about `topics` (none: only the
/// brokers). An error means the node is not (yet) answering.
pub async fn metadata(address: &str, topics: &[&str]) -> io::Result<MetadataResponse> {
    tokio::time::timeout(PROBE_TIMEOUT, exchange(address, topics))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "metadata probe timed out"))?
}

async fn exchange(address: &str, topics: &[&str]) -> io::Result<MetadataResponse> {
    let mut stream = TcpStream::connect(address).await?;
    let request = MetadataRequest::default()
        .with_topics(Some(
            topics
                .iter()
                .map(|name| {
                    MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string((*name).to_owned()))))
                })
                .collect(),
        ))
        .with_allow_auto_topic_creation(false);
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(METADATA_VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("durian-testkit-probe")));
    let header = encode(
        &header,
        ApiKey::Metadata.request_header_version(METADATA_VERSION),
    );
    let body = encode(&request, METADATA_VERSION);
    let mut frame = BytesMut::with_capacity(4 + header.len() + body.len());
    frame.put_i32(i32::try_from(header.len() + body.len()).map_err(invalid)?);
    frame.put_slice(&header);
    frame.put_slice(&body);
    stream.write_all(&frame).await?;

    let size = stream.read_i32().await?;
    let mut buf = vec![0u8; usize::try_from(size).map_err(invalid)?];
    stream.read_exact(&mut buf).await?;
    let mut buf = bytes::Bytes::from(buf);
    let header = ResponseHeader::decode(
        &mut buf,
        ApiKey::Metadata.response_header_version(METADATA_VERSION),
    )
    .map_err(invalid)?;
    if header.correlation_id != 1 {
        return Err(invalid("wrong correlation id"));
    }
    let response = MetadataResponse::decode(&mut buf, METADATA_VERSION).map_err(invalid)?;
    if buf.has_remaining() {
        return Err(invalid("trailing bytes after the metadata response"));
    }
    Ok(response)
}

fn invalid(error: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error.to_string())
}
