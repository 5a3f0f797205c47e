//! The loopback TCP baseline: one socket writing 10 KB chunks to a reader in
//! the same process, the ceiling a 10 KB produce run is compared with.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::measure::{Measurement, Span};

/// Moves `total` bytes in `chunk`-sized writes over a loopback connection.
pub async fn loopback(total: u64, chunk: usize) -> Result<Measurement, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("loopback bind: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("loopback addr: {e}"))?;
    let reader = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut received = 0u64;
        loop {
            let n = socket.read(&mut buf).await?;
            if n == 0 {
                return Ok::<u64, std::io::Error>(received);
            }
            received += n as u64;
        }
    });
    let mut writer = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("loopback connect: {e}"))?;
    let data = vec![b'x'; chunk];
    let chunks = total / chunk.max(1) as u64;
    let span = Span::start();
    for _ in 0..chunks {
        writer
            .write_all(&data)
            .await
            .map_err(|e| format!("loopback write: {e}"))?;
    }
    writer
        .shutdown()
        .await
        .map_err(|e| format!("loopback shutdown: {e}"))?;
    let received = tokio::time::timeout(Duration::from_secs(120), reader)
        .await
        .map_err(|_| "loopback reader did not finish".to_owned())?
        .map_err(|e| format!("loopback reader task: {e}"))?
        .map_err(|e| format!("loopback read: {e}"))?;
    let sent = chunks * chunk as u64;
    if received != sent {
        return Err(format!("loopback: sent {sent} bytes, received {received}"));
    }
    Ok(span.finish(chunks, sent))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_byte_arrives() {
        let m = super::loopback(1_000_000, 10_000)
            .await
            .expect("loopback works");
        assert_eq!(m.bytes, 1_000_000);
        assert_eq!(m.records, 100);
    }
}
