//! Reading input one line at a time with a bound on each line, so a file
//! without newlines cannot make `durian produce` hold it all in memory.
//!
//! A line ends at `\n`; a `\r` right before it is dropped too (files
//! written on Windows). The last line needs no newline. A line longer than
//! the bound is skipped to its end and reported as [`Line::TooLong`].

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes, without the line ending.
    Text(Vec<u8>),
    /// A line of `length` bytes, over the bound; its bytes were dropped.
    TooLong {
        /// The line's length without the line ending.
        length: usize,
    },
}

impl Line {
    /// The line's length without its line ending (progress counts it).
    pub fn length(&self) -> usize {
        match self {
            Line::Text(bytes) => bytes.len(),
            Line::TooLong { length } => *length,
        }
    }
}

/// Splits a byte stream into bounded lines.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    max_len: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Lines of at most `max_len` bytes from `reader`.
    pub fn new(reader: R, max_len: usize) -> LineReader<R> {
        LineReader { reader, max_len }
    }

    /// The next line, or `None` at the end of the input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let mut line = Vec::new();
        let mut length = 0usize;
        let mut seen_any = false;
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(seen_any.then(|| finish(line, length, self.max_len)));
            }
            seen_any = true;
            let (chunk, ends_line) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            length = length.saturating_add(chunk.len());
            // Keep one byte past the bound: it may be the `\r` of a CRLF.
            if length <= self.max_len.saturating_add(1) {
                line.extend_from_slice(chunk);
            }
            let used = chunk.len() + usize::from(ends_line);
            self.reader.consume(used);
            if ends_line {
                return Ok(Some(finish(line, length, self.max_len)));
            }
        }
    }
}

/// The line without a trailing `\r`, or `TooLong` when over `max_len`.
fn finish(mut line: Vec<u8>, mut length: usize, max_len: usize) -> Line {
    if length > 0 && length == line.len() && line.last() == Some(&b'\r') {
        line.pop();
        length -= 1;
    }
    if length > max_len {
        Line::TooLong { length }
    } else {
        Line::Text(line)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], max_len: usize, capacity: usize) -> Vec<Line> {
        let reader = tokio::io::BufReader::with_capacity(capacity, input);
        let mut lines = LineReader::new(reader, max_len);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn text(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn splits_on_newlines_and_keeps_empty_lines_and_a_last_line_without_newline() {
        for capacity in [1, 3, 64] {
            let lines = read_all(b"a\tb\n\nd\xc3\xbcrian\r\nlast", 100, capacity).await;
            assert_eq!(
                lines,
                vec![text("a\tb"), text(""), text("dürian"), text("last")],
                "buffer capacity {capacity}"
            );
        }
        assert!(read_all(b"", 10, 8).await.is_empty());
        assert_eq!(read_all(b"x\n", 10, 8).await, vec![text("x")]);
    }

    #[tokio::test]
    async fn long_lines_are_skipped_alone_without_being_kept() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n1234\r\n");
        for capacity in [4, 1024] {
            let lines = read_all(&input, 4, capacity).await;
            assert_eq!(
                lines,
                vec![Line::TooLong { length: 50 }, text("ok"), text("1234")],
                "buffer capacity {capacity}"
            );
        }
    }
}
