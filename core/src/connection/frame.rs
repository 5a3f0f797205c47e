//! Length-prefixed frames: a big-endian `i32` size, then that many bytes.
//!
//! [`FrameReader`] keeps partially received frames in its own buffer, so
//! [`FrameReader::next_frame`] can be cancelled (for example by a timer in
//! a `select!`) without losing bytes. The size prefix is checked against the
//! configured maximum before any memory is reserved for the frame body,
//! and the buffer then grows with the bytes received, not to the size the
//! prefix announces.

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};

const SIZE_PREFIX: usize = 4;

/// Bytes requested from the socket per read when no frame size is known yet.
const READ_CHUNK: usize = 8 * 1024;

/// Extracts one complete frame from the front of `buf`, if it holds one.
///
/// Returns `Ok(None)` when more bytes are needed. A negative or oversized
/// size prefix is an error; the caller must then drop the connection since
/// the stream can no longer be resynchronised.
pub fn parse_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>> {
    let Some(prefix) = buf.get(..SIZE_PREFIX) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let size = usize::try_from(size)
        .ok()
        .filter(|size| *size <= max)
        .ok_or(Error::FrameTooLarge {
            size: i64::from(size),
            max,
        })?;
    let total = SIZE_PREFIX + size;
    if buf.len() < total {
        // Grow with the bytes that arrived (at most doubling what is held),
        // never to the announced size at once: a hostile 4-byte prefix
        // announcing 100 MiB must not reserve 100 MiB.
        let wanted = (total - buf.len()).min(buf.len().max(READ_CHUNK));
        buf.reserve(wanted);
        return Ok(None);
    }
    buf.advance(SIZE_PREFIX);
    Ok(Some(buf.split_to(size).freeze()))
}

/// Reads frames from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
    max: usize,
    broker: String,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader accepting frames of at most `max` bytes from `broker`.
    pub fn new(reader: R, max: usize, broker: impl Into<String>) -> Self {
        FrameReader {
            reader,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max,
            broker: broker.into(),
        }
    }

    /// The next frame, or `Ok(None)` when the peer closed the stream
    /// cleanly between frames. Cancellation-safe.
    pub async fn next_frame(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(frame) = parse_frame(&mut self.buf, self.max)? {
                return Ok(Some(frame));
            }
            if self.buf.capacity() == self.buf.len() {
                self.buf.reserve(READ_CHUNK);
            }
            let read = self
                .reader
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| Error::io(&self.broker, e))?;
            if read == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(Error::io(
                    &self.broker,
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "connection closed in the middle of a frame ({} bytes buffered)",
                            self.buf.len()
                        ),
                    ),
                ));
            }
        }
    }
}

/// Most buffers one `writev` takes on Linux (IOV_MAX); a frame of more
/// parts is written in several calls.
const MAX_IO_SLICES: usize = 1024;

/// Writes one frame made of `parts` (concatenated) and flushes.
///
/// The size prefix and the parts go out in one vectored write (`writev`)
/// when the socket takes them all, instead of one write each: with
/// TCP_NODELAY, separate writes would send the 4-byte prefix as a packet of
/// its own and wake the broker once per piece. Parts are written where they
/// are, never copied into one buffer.
///
/// Not cancellation-safe by nature; durian only calls it from the
/// connection's writer task, which never abandons a write.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    parts: &[&[u8]],
) -> std::io::Result<()> {
    let size: usize = parts.iter().map(|part| part.len()).sum();
    let size = i32::try_from(size).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("request of {size} bytes exceeds the protocol's 2 GiB frame limit"),
        )
    })?;
    let prefix = size.to_be_bytes();
    let mut slices = Vec::with_capacity(parts.len() + 1);
    slices.push(IoSlice::new(&prefix));
    slices.extend(
        parts
            .iter()
            .filter(|part| !part.is_empty())
            .map(|part| IoSlice::new(part)),
    );
    let mut remaining = &mut slices[..];
    while !remaining.is_empty() {
        let batch = remaining.len().min(MAX_IO_SLICES);
        let written = writer.write_vectored(&remaining[..batch]).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut remaining, written);
    }
    writer.flush().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn parses_complete_frames_and_waits_for_partial_ones() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&framed(b"hello"));
        buf.extend_from_slice(&framed(b"world")[..6]);
        assert_eq!(
            parse_frame(&mut buf, 100).unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(parse_frame(&mut buf, 100).unwrap(), None);
        buf.extend_from_slice(b"rld");
        assert_eq!(
            parse_frame(&mut buf, 100).unwrap().as_deref(),
            Some(&b"world"[..])
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_oversized_and_negative_sizes_before_allocating() {
        let mut buf = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        let err = parse_frame(&mut buf, 1024).unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { size, max: 1024 } if size == i64::from(i32::MAX))
        );
        assert!(buf.capacity() < 1024 * 1024);
        let mut buf = BytesMut::from(&(-7i32).to_be_bytes()[..]);
        let err = parse_frame(&mut buf, 1024).unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { size: -7, .. }));
    }

    #[test]
    fn an_announced_size_reserves_nothing_until_bytes_arrive() {
        // A valid prefix announcing 100 MiB, followed by 10 bytes.
        let mut buf = BytesMut::from(&(100i32 << 20).to_be_bytes()[..]);
        buf.extend_from_slice(&[0; 10]);
        assert_eq!(parse_frame(&mut buf, 100 << 20).unwrap(), None);
        assert!(
            buf.capacity() <= 2 * READ_CHUNK,
            "{} bytes reserved for 14 received",
            buf.capacity()
        );
    }

    #[tokio::test]
    async fn reader_distinguishes_clean_close_from_torn_frame() {
        let mut bytes = framed(b"abc");
        let mut reader = FrameReader::new(&bytes[..], 100, "t");
        assert_eq!(
            reader.next_frame().await.unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        assert!(reader.next_frame().await.unwrap().is_none());

        bytes.extend_from_slice(&framed(b"defg")[..5]);
        let mut reader = FrameReader::new(&bytes[..], 100, "t");
        reader.next_frame().await.unwrap();
        let err = reader.next_frame().await.unwrap_err();
        assert!(matches!(err, Error::Connection { .. }), "{err}");
    }

    #[tokio::test]
    async fn write_frame_prefixes_the_total_size() {
        let mut out = Vec::new();
        write_frame(&mut out, &[b"ab", b"cde"]).await.unwrap();
        assert_eq!(out, framed(b"abcde"));
    }

    /// A writer that takes at most `step` bytes per call, across slices.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let this = self.get_mut();
            this.calls += 1;
            let n = buf.len().min(this.step);
            this.out.extend_from_slice(&buf[..n]);
            std::task::Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let this = self.get_mut();
            this.calls += 1;
            let mut taken = 0;
            for buf in bufs {
                let n = buf.len().min(this.step - taken);
                this.out.extend_from_slice(&buf[..n]);
                taken += n;
                if taken == this.step {
                    break;
                }
            }
            std::task::Poll::Ready(Ok(taken))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn write_frame_is_one_vectored_write_and_survives_short_writes() {
        let mut whole = Trickle {
            out: Vec::new(),
            step: usize::MAX,
            calls: 0,
        };
        write_frame(&mut whole, &[b"head", b"", b"body"])
            .await
            .unwrap();
        assert_eq!(whole.out, framed(b"headbody"));
        assert_eq!(whole.calls, 1, "prefix and parts in one write");

        // Short writes that stop inside the prefix and inside each part.
        for step in 1..=7 {
            let mut short = Trickle {
                out: Vec::new(),
                step,
                calls: 0,
            };
            write_frame(&mut short, &[b"head", b"", b"body"])
                .await
                .unwrap();
            assert_eq!(short.out, framed(b"headbody"), "step {step}");
        }
    }

    #[tokio::test]
    async fn write_frame_takes_more_parts_than_one_writev() {
        let mut out = Trickle {
            out: Vec::new(),
            step: usize::MAX,
            calls: 0,
        };
        let parts: Vec<&[u8]> = vec![b"xy"; 3000];
        write_frame(&mut out, &parts).await.unwrap();
        assert_eq!(out.out, framed(&b"xy".repeat(3000)));
        assert_eq!(out.calls, 3, "1024 slices per call");
    }
}
