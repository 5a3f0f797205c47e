//! The byte stream under a connection: plain TCP or TLS over TCP, chosen
//! by `security.protocol`. The actor only sees `AsyncRead + AsyncWrite`;
//! [`Transport`] is that stream for every real connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::connect_tcp;
use crate::error::{Error, Result};
use crate::security::SecurityContext;

/// A connected socket, with or without TLS.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP (`PLAINTEXT`, `SASL_PLAINTEXT`).
    Plain(TcpStream),
    /// TLS over TCP (`SSL`, `SASL_SSL`); boxed, as its buffers are large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// Dials `address` and, when `security` asks for TLS, runs the TLS
    /// handshake; both within `timeout`.
    pub async fn connect(
        address: &str,
        security: &SecurityContext,
        timeout: Duration,
    ) -> Result<Transport> {
        let stream = connect_tcp(address, timeout).await?;
        match security.tls() {
            None => Ok(Transport::Plain(stream)),
            Some(tls) => {
                let handshake = tls.connect(address, stream);
                let stream = tokio::time::timeout(timeout, handshake)
                    .await
                    .map_err(|_| Error::Timeout {
                        operation: format!("TLS handshake with {address}"),
                        timeout,
                    })??;
                Ok(Transport::Tls(Box::new(stream)))
            }
        }
    }
}

// Both variants are `Unpin`, so pinning the enum pins nothing inside and
// `Pin::new` on the variant is sound without unsafe projection.
impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(stream) => stream.is_write_vectored(),
            Transport::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
