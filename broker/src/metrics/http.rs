//! A tiny HTTP/1.1 responder for `GET /metrics`: no framework, one request
//! per connection, then close.
//!
//! Every connection is bounded: its request head (request line and
//! headers) must arrive within [`HEAD_TIMEOUT`] and fit in
//! [`MAX_HEAD_BYTES`], and at most [`MAX_CONNECTIONS`] are served at once
//! (further ones are closed at once), so a slow or hostile client cannot
//! hold the broker's memory or tasks.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::server::shutdown::Shutdown;
use crate::state::BrokerState;

/// Largest request head read; a longer one is answered 431 and closed.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// How long a client has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Most scrape connections served at once.
pub const MAX_CONNECTIONS: usize = 16;

/// The content type of the Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves the broker's page on `listener` until `shutdown` fires.
pub async fn serve(listener: TcpListener, state: Arc<BrokerState>, mut shutdown: Shutdown) {
    let render = move || super::render(&state);
    serve_page(listener, render, async move { shutdown.wait().await }).await;
}

/// Serves `GET /metrics` on `listener` with the page `render` builds at
/// each scrape, until `stop` resolves; the bounds of this module apply.
///
/// Public (re-exported as `durian_broker::serve_metrics_page`) so the CLI's
/// long-running client commands serve their own recorder's page with the
/// same responder.
pub async fn serve_page<F>(
    listener: TcpListener,
    render: F,
    stop: impl std::future::Future<Output = ()> + Send,
) where
    F: Fn() -> String + Send + Sync + 'static,
{
    let render = Arc::new(render);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(error = %e, "metrics: accept failed");
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "metrics: too many scrape connections; closing");
            continue;
        };
        let render = render.clone();
        connections.spawn(async move {
            if let Err(e) = answer(stream, &*render).await {
                tracing::debug!(%peer, error = %e, "metrics: connection ended");
            }
            drop(slot);
        });
    }
    connections.shutdown().await;
}

/// What a request head asked for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `GET /metrics` (a query string is ignored).
    Metrics,
    /// A GET of any other path.
    NotFound,
    /// Another method.
    MethodNotAllowed,
    /// Not an HTTP request line.
    BadRequest,
}

/// Reads one request head and answers it.
async fn answer(
    mut stream: TcpStream,
    render: &(dyn Fn() -> String + Send + Sync),
) -> std::io::Result<()> {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => head?,
        Err(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request head not received in time",
            ))
        }
    };
    let (status, body) = match head {
        None => ("431 Request Header Fields Too Large", String::new()),
        Some(head) => match route(&head) {
            Route::Metrics => ("200 OK", render()),
            Route::NotFound => ("404 Not Found", "not found; try /metrics\n".to_string()),
            Route::MethodNotAllowed => ("405 Method Not Allowed", String::new()),
            Route::BadRequest => ("400 Bad Request", String::new()),
        },
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Reads up to the blank line ending the head; `None` when the head does
/// not fit in [`MAX_HEAD_BYTES`]. A client closing early ends it too.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(Some(head));
        }
        head.extend_from_slice(&chunk[..read]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD_BYTES {
            return Ok(None);
        }
    }
}

/// Routes on the request line, the head's first line.
fn route(head: &[u8]) -> Route {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Route::BadRequest;
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    if method != "GET" {
        return Route::MethodNotAllowed;
    }
    let path = target.split('?').next().unwrap_or(target);
    if path == "/metrics" {
        Route::Metrics
    } else {
        Route::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_method_and_path() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics
        );
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics);
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"GET /metricsx HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Route::MethodNotAllowed
        );
        assert_eq!(route(b"GET /metrics\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b"\x16\x03\x01 binary"), Route::BadRequest);
    }
}
