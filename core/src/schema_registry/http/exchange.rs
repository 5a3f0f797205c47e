//! One HTTP/1.1 request and its response over a fresh connection.
//!
//! The registry is called rarely (once per schema or id, then the answers
//! are cached), so each call opens its own connection and sends
//! `Connection: close`; there is no pool to keep healthy. The response is
//! read by `Content-Length`, by chunked transfer coding, or to the end of
//! the connection, and never beyond [`MAX_RESPONSE_BYTES`].

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response (head and body) read; a registry's answers are a
/// schema or an id, far below this.
pub(super) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Largest response head (status line and headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A response: its status and decoded body.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Response {
    /// The status code (200, 404, ...).
    pub status: u16,
    /// The body, with any chunked coding removed.
    pub body: Vec<u8>,
}

/// Writes `request` (a complete head and body) to `stream` and reads the
/// response. Errors are text for `SchemaRegistryError::Unavailable`.
pub(super) async fn exchange<S>(stream: &mut S, request: &[u8]) -> Result<Response, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(format!("response head over {MAX_HEAD_BYTES} bytes"));
        }
        if read_more(stream, &mut buf)
            .await
            .map_err(|e| e.to_string())?
            == 0
        {
            return Err("connection closed before a complete response head".to_string());
        }
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| "response head is not UTF-8".to_string())?;
    let (status, framing) = parse_head(head)?;
    let body = match framing {
        Framing::Length(length) => {
            if length > MAX_RESPONSE_BYTES {
                return Err(format!("response body of {length} bytes is too large"));
            }
            while buf.len() - head_end < length {
                if read_more(stream, &mut buf)
                    .await
                    .map_err(|e| e.to_string())?
                    == 0
                {
                    return Err("connection closed inside the response body".to_string());
                }
            }
            buf[head_end..head_end + length].to_vec()
        }
        Framing::Chunked => {
            let mut chunked = Chunked::default();
            loop {
                if chunked.advance(&buf[head_end..])? {
                    break chunked.body;
                }
                if read_more(stream, &mut buf)
                    .await
                    .map_err(|e| e.to_string())?
                    == 0
                {
                    return Err("connection closed inside a chunked body".to_string());
                }
            }
        }
        Framing::UntilClose => {
            loop {
                match read_more(stream, &mut buf).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    // Over TLS a server that closes without close_notify
                    // ends the body all the same (browsers and curl accept
                    // it when the body's end is the connection's end).
                    Err(ReadError::UnexpectedEof) => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
            buf[head_end..].to_vec()
        }
    };
    Ok(Response { status, body })
}

/// Reads what is available into `buf`; the count, 0 at the end of the
/// stream. Refuses to grow `buf` past [`MAX_RESPONSE_BYTES`].
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, ReadError> {
    if buf.len() >= MAX_RESPONSE_BYTES {
        return Err(ReadError::TooLarge);
    }
    let mut chunk = [0u8; 8192];
    let read = stream.read(&mut chunk).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ReadError::UnexpectedEof
        } else {
            ReadError::Io(e)
        }
    })?;
    buf.extend_from_slice(&chunk[..read]);
    Ok(read)
}

/// Why [`read_more`] could not read.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("response over {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    /// The peer closed without ending the stream properly (TLS without
    /// close_notify).
    #[error("reading the response: the connection ended abruptly")]
    UnexpectedEof,
    #[error("reading the response: {0}")]
    Io(std::io::Error),
}

/// How the body's end is found.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    /// `Content-Length` bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends with the connection.
    UntilClose,
}

/// The status code and body framing of a response head.
fn parse_head(head: &str) -> Result<(u16, Framing), String> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("not an HTTP status line: {status_line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x response: {status_line:?}"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| format!("bad status code in {status_line:?}"))?;
    let mut framing = Framing::UntilClose;
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().ends_with("chunked") {
                framing = Framing::Chunked;
            }
        } else if name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let length = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            framing = Framing::Length(length);
        }
    }
    Ok((status, framing))
}

/// The longest chunk size line (size and extensions) accepted: a peer that
/// never ends one is refused rather than searched again on every read.
const MAX_CHUNK_LINE: usize = 4096;

/// A chunked body decoded as it arrives: each call goes on from where the
/// last one stopped, so a body read in many pieces (or sent in many tiny
/// chunks) is decoded in time linear in its size. Chunk extensions and
/// trailers are skipped.
#[derive(Debug, Default)]
struct Chunked {
    /// Where the next chunk's size line starts, in the bytes after the head.
    at: usize,
    /// After the last (empty) chunk: where its trailers start.
    trailers_from: Option<usize>,
    /// Where the search for the end of the trailers goes on.
    trailer_search: usize,
    /// The chunks' data so far.
    body: Vec<u8>,
}

impl Chunked {
    /// Decodes what `data` (every byte after the head received so far)
    /// holds past the last call; `true` once the body is complete.
    fn advance(&mut self, data: &[u8]) -> Result<bool, String> {
        loop {
            if let Some(start) = self.trailers_from {
                // Trailers (usually none) end with an empty line: CRLF
                // right away, else the first CRLFCRLF.
                if data[start..].starts_with(b"\r\n") {
                    return Ok(true);
                }
                let from = self.trailer_search.max(start);
                if find(&data[from..], b"\r\n\r\n").is_some() {
                    return Ok(true);
                }
                // Go on where a CRLFCRLF could still begin.
                self.trailer_search = data.len().saturating_sub(3).max(start);
                return Ok(false);
            }
            let rest = &data[self.at..];
            let Some(line_end) = find(rest, b"\r\n") else {
                if rest.len() > MAX_CHUNK_LINE {
                    return Err(format!("chunk size line over {MAX_CHUNK_LINE} bytes"));
                }
                return Ok(false);
            };
            let line = std::str::from_utf8(&rest[..line_end])
                .map_err(|_| "chunk size line is not UTF-8".to_string())?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            if size > MAX_RESPONSE_BYTES {
                return Err(format!("chunk of {size} bytes is too large"));
            }
            let chunk = &rest[line_end + 2..];
            if size == 0 {
                self.trailers_from = Some(self.at + line_end + 2);
                continue;
            }
            if chunk.len() < size + 2 {
                return Ok(false);
            }
            if &chunk[size..size + 2] != b"\r\n" {
                return Err("chunk not followed by CRLF".to_string());
            }
            self.body.extend_from_slice(&chunk[..size]);
            self.at += line_end + 2 + size + 2;
        }
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn answer(raw: &'static [u8]) -> Result<Response, String> {
        let (mut client, mut server) = tokio::io::duplex(1024);
        let serve = tokio::spawn(async move {
            let mut request = [0u8; 64];
            let _ = server.read(&mut request).await.unwrap();
            // Dribble the answer out in small pieces, as a network may.
            for piece in raw.chunks(7) {
                server.write_all(piece).await.unwrap();
            }
        });
        let response = exchange(&mut client, b"GET / HTTP/1.1\r\n\r\n").await;
        serve.await.unwrap();
        response
    }

    #[tokio::test]
    async fn bodies_by_length_chunks_or_close() {
        let by_length =
            answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"id\":1}\nextra").await;
        assert_eq!(
            by_length.unwrap(),
            Response {
                status: 200,
                body: b"{\"id\":1}\n".to_vec()
            }
        );
        let chunked = answer(
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n4;x=y\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(
            chunked.unwrap(),
            Response {
                status: 404,
                body: b"{\"a\":1}".to_vec()
            }
        );
        let until_close = answer(b"HTTP/1.0 500 Oops\r\n\r\nbroken").await;
        assert_eq!(until_close.unwrap().body, b"broken");
    }

    /// Feeds `data` to a decoder one byte at a time; the body once it is
    /// complete, with the count of bytes it took.
    fn chunked_by_bytes(data: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
        let mut chunked = Chunked::default();
        for end in 1..=data.len() {
            if chunked.advance(&data[..end])? {
                return Ok(Some((chunked.body, end)));
            }
        }
        Ok(None)
    }

    #[test]
    fn a_chunked_body_arriving_byte_by_byte_ends_exactly_at_its_end() {
        let mut data = Vec::new();
        for byte in b"hello world" {
            data.extend_from_slice(b"1\r\n");
            data.push(*byte);
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
        let whole = data.len();
        data.extend_from_slice(b"next response");
        assert_eq!(
            chunked_by_bytes(&data).unwrap(),
            Some((b"hello world".to_vec(), whole))
        );
        // A trailer line followed by something else is not the end yet.
        assert_eq!(chunked_by_bytes(b"2\r\nok\r\n0\r\nAB\r\nC").unwrap(), None);
        assert_eq!(
            chunked_by_bytes(b"2\r\nok\r\n0\r\n\r\n").unwrap(),
            Some((b"ok".to_vec(), 12))
        );
        let endless = vec![b'f'; MAX_CHUNK_LINE + 10];
        assert!(chunked_by_bytes(&endless)
            .unwrap_err()
            .contains("size line"));
    }

    /// Reads `data`, then fails as a TLS stream does when the peer closed
    /// without close_notify; accepts every write.
    struct AbruptEnd(std::io::Cursor<Vec<u8>>);

    impl AsyncRead for AbruptEnd {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.0.position() as usize == self.0.get_ref().len() {
                return std::task::Poll::Ready(Err(std::io::ErrorKind::UnexpectedEof.into()));
            }
            std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl tokio::io::AsyncWrite for AbruptEnd {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::task::Poll::Ready(Ok(buf.len()))
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
    async fn a_body_ended_by_an_abrupt_close_is_kept_but_a_cut_length_is_not() {
        let until_close = b"HTTP/1.0 200 OK\r\n\r\n{\"id\":7}".to_vec();
        let mut stream = AbruptEnd(std::io::Cursor::new(until_close));
        let response = exchange(&mut stream, b"GET / HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(response.body, b"{\"id\":7}");
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".to_vec();
        let mut stream = AbruptEnd(std::io::Cursor::new(cut));
        let error = exchange(&mut stream, b"GET / HTTP/1.1\r\n\r\n")
            .await
            .unwrap_err();
        assert!(error.contains("ended abruptly"), "{error}");
    }

    #[tokio::test]
    async fn truncated_or_foreign_answers_are_errors() {
        assert!(
            answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
                .await
                .unwrap_err()
                .contains("inside the response body")
        );
        assert!(
            answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
                .await
                .unwrap_err()
                .contains("chunked")
        );
        assert!(answer(b"SSH-2.0 OpenSSH_9.6\r\n\r\n")
            .await
            .unwrap_err()
            .contains("not an HTTP/1.x"));
        assert!(answer(b"garbage\r\n\r\n")
            .await
            .unwrap_err()
            .contains("not an HTTP status line"));
        assert!(answer(b"HTTP/1.1 200")
            .await
            .unwrap_err()
            .contains("complete response head"));
    }
}
