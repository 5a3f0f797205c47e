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
        if read_more(stream, &mut buf).await? == 0 {
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
                if read_more(stream, &mut buf).await? == 0 {
                    return Err("connection closed inside the response body".to_string());
                }
            }
            buf[head_end..head_end + length].to_vec()
        }
        Framing::Chunked => loop {
            if let Some(body) = decode_chunked(&buf[head_end..])? {
                break body;
            }
            if read_more(stream, &mut buf).await? == 0 {
                return Err("connection closed inside a chunked body".to_string());
            }
        },
        Framing::UntilClose => {
            while read_more(stream, &mut buf).await? != 0 {}
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
) -> Result<usize, String> {
    if buf.len() >= MAX_RESPONSE_BYTES {
        return Err(format!("response over {MAX_RESPONSE_BYTES} bytes"));
    }
    let mut chunk = [0u8; 8192];
    let read = stream
        .read(&mut chunk)
        .await
        .map_err(|e| format!("reading the response: {e}"))?;
    buf.extend_from_slice(&chunk[..read]);
    Ok(read)
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

/// The body of a complete chunked encoding at the start of `data`, or
/// `None` when more bytes are needed. Chunk extensions and trailers are
/// skipped.
fn decode_chunked(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[..line_end])
            .map_err(|_| "chunk size line is not UTF-8".to_string())?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        if size > MAX_RESPONSE_BYTES {
            return Err(format!("chunk of {size} bytes is too large"));
        }
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers (usually none) end with an empty line.
            return Ok(
                if data.starts_with(b"\r\n") || find(data, b"\r\n\r\n").is_some() {
                    Some(body)
                } else {
                    None
                },
            );
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        if &data[size..size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".to_string());
        }
        data = &data[size + 2..];
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
