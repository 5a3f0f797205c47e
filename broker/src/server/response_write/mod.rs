//! Writing a response frame's pieces to the connection.
//!
//! ```text
//!  plaintext TCP:  [bytes..] ─writev─▶ socket    [file range] ─sendfile─▶ socket
//!  TLS, others:    every piece as bytes (file ranges read first) ─writev─▶ stream ─flush
//! ```
//!
//! On a plaintext connection the record bytes of a Fetch response go from
//! the page cache to the socket with `sendfile`, never through user space,
//! as Kafka's broker sends them. TLS must encrypt every byte in user space,
//! so a TLS connection never gets file ranges from the Fetch handler (see
//! `RequestContext::file_records`); should one reach it anyway, the range
//! is read and written like any other bytes.
//!
//! The socket is not corked around a frame: the few bytes of structure
//! before each partition's records then leave as small packets of their
//! own (the connection sets `TCP_NODELAY`), but `TCP_CORK` around each
//! frame measured no better, in broker CPU or consume time, than without
//! it (docs/PERFORMANCE.md, "Fetch records with sendfile").

use std::io::{self, IoSlice};

use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::frame::{Piece, ResponseFrame};
use crate::storage::FileRange;

#[cfg(test)]
mod tests;

/// Most buffers one `writev` takes on Linux (IOV_MAX); a run of more
/// pieces is written in several calls.
const MAX_IO_SLICES: usize = 1024;

/// Most bytes one `sendfile` call is asked for (Linux moves at most
/// 0x7fff_f000 per call anyway).
const MAX_SENDFILE_BYTES: usize = 1 << 30;

/// The write half of a connection, as the response writer sees it.
pub trait ResponseWriter: AsyncWrite + Unpin + Send {
    /// The TCP socket this writer puts bytes on unchanged, so file ranges
    /// can be sent to it with `sendfile`; `None` when bytes are transformed
    /// on the way (TLS).
    fn plain_socket(&self) -> Option<&TcpStream> {
        None
    }
}

impl ResponseWriter for tokio::net::tcp::OwnedWriteHalf {
    fn plain_socket(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

impl<S: AsyncWrite + Send> ResponseWriter for tokio::io::WriteHalf<S> {}

impl ResponseFrame {
    /// Writes the frame: on a plaintext socket with `writev` for the bytes
    /// and `sendfile` for the file ranges; otherwise with vectored writes
    /// (as many pieces per call as the stream takes, so the pieces are
    /// neither joined nor sent as a packet each), then a flush: a TLS
    /// stream accepts a write into its own buffer even when the socket is
    /// full, and only a flush (or a later write, which may never come: the
    /// client is waiting for the rest of this frame) sends what is left.
    /// The caller bounds it with its write deadline; a write cut short
    /// leaves the connection unusable, and the caller closes it.
    pub async fn write_to<W: ResponseWriter>(&self, writer: &mut W) -> io::Result<()> {
        let has_files = self.pieces().iter().any(|p| matches!(p, Piece::File(_)));
        if has_files {
            if let Some(socket) = writer.plain_socket() {
                return write_to_socket(socket, self.pieces()).await;
            }
        }
        let read;
        let pieces = if has_files {
            read = read_files(self.pieces())?;
            &read[..]
        } else {
            self.pieces()
        };
        let mut slices = io_slices(pieces);
        let mut remaining = &mut slices[..];
        while !remaining.is_empty() {
            let batch = remaining.len().min(MAX_IO_SLICES);
            let written = writer.write_vectored(&remaining[..batch]).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut remaining, written);
        }
        writer.flush().await
    }
}

/// The non-empty in-memory pieces, for `writev`.
fn io_slices(pieces: &[Piece]) -> Vec<IoSlice<'_>> {
    pieces
        .iter()
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| match piece {
            Piece::Bytes(bytes) => Some(IoSlice::new(bytes)),
            Piece::File(_) => None,
        })
        .collect()
}

/// The pieces with every file range read into memory.
fn read_files(pieces: &[Piece]) -> io::Result<Vec<Piece>> {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::File(range) => range.read().map(Piece::Bytes),
            bytes => Ok(bytes.clone()),
        })
        .collect()
}

/// Writes `pieces` to a plaintext socket: each run of in-memory pieces
/// with `writev`, each file range with `sendfile`.
async fn write_to_socket(socket: &TcpStream, pieces: &[Piece]) -> io::Result<()> {
    let mut rest = pieces;
    while let Some((first, after)) = rest.split_first() {
        if let Piece::File(range) = first {
            send_file(socket, range).await?;
            rest = after;
            continue;
        }
        let run = rest
            .iter()
            .position(|p| matches!(p, Piece::File(_)))
            .unwrap_or(rest.len());
        let (bytes, after) = rest.split_at(run);
        write_bytes(socket, bytes).await?;
        rest = after;
    }
    Ok(())
}

/// Writes a run of in-memory pieces with `writev`, waiting for the socket
/// to take them.
async fn write_bytes(socket: &TcpStream, pieces: &[Piece]) -> io::Result<()> {
    let mut slices = io_slices(pieces);
    let mut remaining = &mut slices[..];
    while !remaining.is_empty() {
        let batch = remaining.len().min(MAX_IO_SLICES);
        socket.writable().await?;
        match socket.try_write_vectored(&remaining[..batch]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut remaining, written),
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends a file range with `sendfile`, resuming short transfers and
/// waiting for writability whenever the socket buffer is full.
async fn send_file(socket: &TcpStream, range: &FileRange) -> io::Result<()> {
    let mut position = range.position();
    let end = position.saturating_add(range.len() as u64);
    while position < end {
        let count = usize::try_from(end - position)
            .unwrap_or(usize::MAX)
            .min(MAX_SENDFILE_BYTES);
        socket.writable().await?;
        let sent = socket.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(socket, range.file(), Some(&mut position), count)
                .map_err(io::Error::from)
        });
        match sent {
            // The file ends before the range: only a segment truncated
            // behind the broker's back can do that. The frame cannot be
            // completed; the caller closes the connection.
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment file ended inside a range being sent",
                ))
            }
            // `sendfile` advanced `position` by what it sent.
            Ok(_) => {}
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Errors after which the write is simply tried again: a full socket
/// (readiness was stale; `try_io` cleared it) or a signal.
fn retry(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
