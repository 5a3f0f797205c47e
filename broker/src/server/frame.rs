//! Length-prefixed frames and request headers.
//!
//! Every Kafka request is `i32 length` + `length` bytes. The length is
//! checked against `socket.request.max.bytes` before anything is allocated;
//! a negative, zero or oversized length means the peer is not speaking the
//! protocol (or is hostile), and the connection is closed.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::Decodable;
#[cfg(test)]
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::storage::FileRange;

/// Smallest meaningful request: api key, api version, correlation id.
pub const MIN_REQUEST_BYTES: usize = 8;

/// Why reading a frame failed; each variant ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is negative.
    #[error("negative frame length {0}")]
    Negative(i32),
    /// The frame is shorter than a request header.
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    /// The frame is larger than `socket.request.max.bytes`.
    #[error("frame of {size} bytes exceeds socket.request.max.bytes = {max}")]
    TooLarge {
        /// Announced size.
        size: usize,
        /// Configured limit.
        max: usize,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// Reading from the socket failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one frame's length prefix and checks it against `max_bytes`;
/// `Ok(None)` on a clean close between frames. (The connection reads its
/// prefix itself, under its own deadlines; see `connection::read_one`.)
#[cfg(test)]
pub async fn read_frame_length<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
) -> Result<Option<usize>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        match reader.read(&mut prefix[filled..]).await? {
            0 if filled == 0 => return Ok(None),
            0 => return Err(FrameError::Truncated),
            n => filled += n,
        }
    }
    frame_size(prefix, max_bytes).map(Some)
}

/// The body size a length prefix announces, checked against `max_bytes`
/// and the smallest request header.
pub fn frame_size(prefix: [u8; 4], max_bytes: usize) -> Result<usize, FrameError> {
    let announced = i32::from_be_bytes(prefix);
    let size = usize::try_from(announced).map_err(|_| FrameError::Negative(announced))?;
    if size > max_bytes {
        return Err(FrameError::TooLarge {
            size,
            max: max_bytes,
        });
    }
    if size < MIN_REQUEST_BYTES {
        return Err(FrameError::TooShort(size));
    }
    Ok(size)
}

/// Reads the `size` bytes of a frame whose length [`read_frame_length`] accepted.
#[cfg(test)]
pub async fn read_frame_body<R: AsyncRead + Unpin>(
    reader: &mut R,
    size: usize,
) -> Result<Bytes, FrameError> {
    // Read into the spare capacity: zeroing first would write every byte
    // of a large Produce once more before the socket overwrites it.
    let mut body = BytesMut::with_capacity(size);
    while body.len() < size {
        // `take` keeps a read from running into the next frame.
        let wanted = (size - body.len()) as u64;
        if reader.take(wanted).read_buf(&mut body).await? == 0 {
            return Err(FrameError::Truncated);
        }
    }
    Ok(body.freeze())
}

/// Reads one whole frame; `Ok(None)` on a clean close between frames.
#[cfg(test)]
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
) -> Result<Option<Bytes>, FrameError> {
    match read_frame_length(reader, max_bytes).await? {
        Some(size) => read_frame_body(reader, size).await.map(Some),
        None => Ok(None),
    }
}

/// The first eight bytes of every request, readable even when the rest is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    /// Raw API key.
    pub api_key: i16,
    /// Requested API version.
    pub api_version: i16,
    /// Correlation id to echo back.
    pub correlation_id: i32,
}

impl RequestPrefix {
    /// Reads the prefix of `frame` (which [`read_frame`] guarantees is long enough).
    pub fn parse(frame: &Bytes) -> Option<RequestPrefix> {
        let mut head = frame.get(..MIN_REQUEST_BYTES)?;
        Some(RequestPrefix {
            api_key: head.get_i16(),
            api_version: head.get_i16(),
            correlation_id: head.get_i32(),
        })
    }
}

/// Why a request header did not decode; the connection is closed with it.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// kafka-protocol refused the header.
    #[error("malformed request header: {0}")]
    Malformed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The decoder panicked (caught; only this connection pays for it).
    #[error("request header made the decoder panic")]
    Panicked,
}

/// Decodes the full request header of `frame` for `api` and returns it with the body.
pub fn decode_header(
    api: ApiKey,
    prefix: RequestPrefix,
    frame: &Bytes,
) -> Result<(RequestHeader, Bytes), HeaderError> {
    let header_version = api.request_header_version(prefix.api_version);
    let mut buf = frame.clone();
    let header = catch_unwind(AssertUnwindSafe(|| {
        RequestHeader::decode(&mut buf, header_version)
    }))
    .map_err(|_| HeaderError::Panicked)?
    .map_err(|e| HeaderError::Malformed(e.into()))?;
    Ok((header, buf))
}

/// A response too large for the protocol's `i32` length prefix.
#[derive(Debug, thiserror::Error)]
#[error("response of {0} bytes exceeds the protocol's 2 GiB frame limit; not sent")]
pub struct ResponseTooLarge(pub usize);

/// The length prefix of a response with a `header_len`-byte header and a
/// `body_len`-byte body, if it fits the protocol's `i32`.
pub fn response_length(header_len: usize, body_len: usize) -> Result<i32, ResponseTooLarge> {
    let total = header_len.saturating_add(body_len);
    i32::try_from(total).map_err(|_| ResponseTooLarge(total))
}

/// One piece of a response frame.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Bytes in memory: the length prefix, the header, an encoded body,
    /// the structure of a Fetch response, records read from a segment.
    Bytes(Bytes),
    /// Record batches still in their segment file, sent with `sendfile`
    /// on plaintext connections (see `response_write`).
    File(FileRange),
}

impl Piece {
    /// Bytes this piece puts on the wire.
    pub fn len(&self) -> usize {
        match self {
            Piece::Bytes(bytes) => bytes.len(),
            Piece::File(range) => range.len(),
        }
    }

    /// Whether the piece puts nothing on the wire.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Bytes> for Piece {
    fn from(bytes: Bytes) -> Piece {
        Piece::Bytes(bytes)
    }
}

/// A response ready to be written: length prefix, response header and
/// body, as pieces written in order and never joined into one buffer.
///
/// The body's pieces are the encoder's own buffers, and for Fetch the
/// record bytes as read from the segment files, or on plaintext
/// connections the ranges of the segment files holding them (see
/// `handlers::fetch_encode`), so a response is not copied between the
/// handler and the socket.
#[derive(Debug, Clone)]
pub struct ResponseFrame {
    parts: Vec<Piece>,
    len: usize,
}

impl ResponseFrame {
    /// A frame already laid out in one buffer, length prefix included.
    pub fn whole(frame: Bytes) -> ResponseFrame {
        ResponseFrame {
            len: frame.len(),
            parts: vec![Piece::Bytes(frame)],
        }
    }

    /// Bytes on the wire, length prefix included: what the response
    /// budget is charged for this frame.
    pub fn wire_len(&self) -> usize {
        self.len
    }

    /// The pieces, in wire order.
    pub fn pieces(&self) -> &[Piece] {
        &self.parts
    }

    /// The whole frame in one buffer (a copy, file ranges read; for tests
    /// and comparisons).
    #[cfg(test)]
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len);
        for part in &self.parts {
            match part {
                Piece::Bytes(bytes) => out.put_slice(bytes),
                Piece::File(range) => {
                    out.put_slice(&range.read().expect("a test frame's file range is readable"))
                }
            }
        }
        out.freeze()
    }
}

/// Builds a response frame: length, response header (v0 or v1 with tagged
/// fields), then the body's pieces as they are (not copied). A body too
/// large for the length prefix is refused rather than sent with a wrapped
/// length.
pub fn response_frame(
    correlation_id: i32,
    header_version: i16,
    body: Vec<Piece>,
) -> Result<ResponseFrame, ResponseTooLarge> {
    let header_len = if header_version >= 1 { 5 } else { 4 };
    let body_len = body
        .iter()
        .fold(0usize, |total, part| total.saturating_add(part.len()));
    let length = response_length(header_len, body_len)?;
    let mut head = BytesMut::with_capacity(4 + header_len);
    head.put_i32(length);
    head.put_i32(correlation_id);
    if header_version >= 1 {
        // Empty tagged-field section.
        head.put_u8(0);
    }
    let mut parts = Vec::with_capacity(1 + body.len());
    parts.push(Piece::Bytes(head.freeze()));
    parts.extend(body);
    Ok(ResponseFrame {
        parts,
        len: 4 + header_len + body_len,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8], max: usize) -> Result<Option<Bytes>, FrameError> {
        let mut input = bytes;
        read_frame(&mut input, max).await
    }

    #[tokio::test]
    async fn lengths_are_checked_before_reading() {
        assert!(matches!(
            read(&(-1i32).to_be_bytes(), 100).await,
            Err(FrameError::Negative(-1))
        ));
        assert!(matches!(
            read(&0i32.to_be_bytes(), 100).await,
            Err(FrameError::TooShort(0))
        ));
        assert!(matches!(
            read(&i32::MAX.to_be_bytes(), 100).await,
            Err(FrameError::TooLarge { .. })
        ));
        assert!(read(&[], 100).await.unwrap().is_none());
        assert!(matches!(
            read(&[0, 0], 100).await,
            Err(FrameError::Truncated)
        ));
        let mut truncated = 20i32.to_be_bytes().to_vec();
        truncated.extend_from_slice(&[1; 10]);
        assert!(matches!(
            read(&truncated, 100).await,
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn responses_beyond_2_gib_are_refused_not_wrapped() {
        assert_eq!(response_length(5, 100).unwrap(), 105);
        assert_eq!(response_length(4, i32::MAX as usize - 4).unwrap(), i32::MAX);
        let err = response_length(5, i32::MAX as usize).unwrap_err();
        assert!(err.to_string().contains("2 GiB"), "{err}");
        assert!(response_length(5, usize::MAX).is_err());
    }

    #[tokio::test]
    async fn whole_frames_are_returned() {
        let mut input = 8i32.to_be_bytes().to_vec();
        input.extend_from_slice(&[0, 18, 0, 3, 0, 0, 0, 7]);
        let frame = read(&input, 100).await.unwrap().unwrap();
        let prefix = RequestPrefix::parse(&frame).unwrap();
        assert_eq!(
            (prefix.api_key, prefix.api_version, prefix.correlation_id),
            (18, 3, 7)
        );
    }
}
