//! stdout of `durian consume`: each write's text goes to a thread of
//! tokio's blocking pool whole, without a copy.
//!
//! `tokio::io::Stdout` copies what it is given into a buffer of its own
//! before handing that to the blocking pool; here the rendered buffer
//! itself moves to the writing thread and comes back when the write is
//! done, to be rendered into again. One write runs at a time, while the
//! next text is rendered: the next write, and [`Output::finish`], wait for
//! it and report its error.

use std::io::Write;

use tokio::task::JoinHandle;

/// The write in flight and the buffer it will give back.
#[derive(Debug, Default)]
pub(super) struct Output {
    in_flight: Option<JoinHandle<(Vec<u8>, std::io::Result<()>)>>,
    /// An empty buffer (with the capacity of an earlier write's text) to
    /// render the next text into.
    spare: Vec<u8>,
}

impl Output {
    /// Waits for the write in flight, then starts writing `text` (and
    /// flushing it). `text` is left empty: it becomes the buffer of an
    /// earlier write, so rendering goes on without a new allocation.
    pub(super) async fn write(&mut self, text: &mut Vec<u8>) -> std::io::Result<()> {
        self.finish().await?;
        let data = std::mem::replace(text, std::mem::take(&mut self.spare));
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let mut stdout = std::io::stdout().lock();
            // std's stdout keeps what follows the last newline until a
            // flush: a template without `\n` must not hold text back.
            let written = stdout.write_all(&data).and_then(|()| stdout.flush());
            (data, written)
        }));
        Ok(())
    }

    /// Waits for the write in flight, if any, and returns its outcome.
    pub(super) async fn finish(&mut self) -> std::io::Result<()> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        let (mut data, written) = in_flight.await.map_err(std::io::Error::other)?;
        data.clear();
        self.spare = data;
        written
    }
}
