//! `durian produce TOPIC`: one record per input line, from a file or stdin.
//!
//! ```text
//! input (1 MiB reads) ─▶ LineReader (bounded lines) ─▶ record (key split, headers) ─▶ producer.send ─┐
//!                                         awaiting send = backpressure │ DeliveryFuture
//!                                                                     ▼ chunks of DELIVERY_CHUNK
//!                        summary on stderr ◀── tally ◀── collector task (awaits in order)
//! ```
//!
//! Both hand-offs are sized so that cross-thread wake-ups happen per chunk,
//! not per line (docs/PERFORMANCE.md, "Syscalls and CPU per 1M lines"):
//! the input is read in large blocks (each read of a tokio file is a trip
//! to the blocking pool), and delivery futures reach the collector in
//! chunks (one channel message per line woke the collector per line once
//! it had caught up with the reader).
//!
//! Lines are streamed: nothing but the lines inside the producer's
//! `buffer.memory` and a bounded queue of delivery futures is held at a
//! time. The command exits once every record is acknowledged or failed,
//! with status 0 only if all were acknowledged.

mod lines;
mod summary;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use durian::admin::Admin;
use durian::producer::{DeliveryFuture, Producer, ProducerError, ProducerRecord};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use tokio::io::{AsyncBufRead, BufReader};
use tokio::sync::mpsc;

use crate::global::parse_property;
use crate::progress;
use crate::topic::{topic_partitions, ADMIN_TIMEOUT};
use crate::{CliError, GlobalOpts};
use lines::{Line, LineReader};
use summary::{report, Tally};

/// Delivery futures waiting for their acknowledgement in the channel, at
/// most (plus the chunk being filled and the one being collected);
/// reading pauses when the collector falls this far behind.
const PENDING_DELIVERIES: usize = 8192;

/// Delivery futures handed to the collector in one message.
const DELIVERY_CHUNK: usize = 512;

/// Bytes of input read at once.
const READ_BUFFER: usize = 1 << 20;

/// How long `close` may take once every record has been resolved.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of `durian produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The topic to write to (must exist).
    pub topic: String,
    /// Read lines from this file instead of stdin.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Split each line into key and value at the first SEP; a line without
    /// SEP has no key.
    #[arg(long, value_name = "SEP")]
    pub key_sep: Option<String>,
    /// A header added to every record, `key=value` (repeatable).
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_property)]
    pub headers: Vec<(String, String)>,
    /// Compression codec (default: the producer's, none).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// Acknowledgements to wait for (default: all, with idempotence;
    /// 0 or 1 turn idempotence off).
    #[arg(long, value_enum)]
    pub acks: Option<AcksArg>,
    /// Write every record to this partition instead of partitioning by key.
    #[arg(short = 'p', long)]
    pub partition: Option<i32>,
}

/// The `--compression` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

/// The `--acks` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AcksArg {
    /// No acknowledgement (fire and forget; failures go unnoticed).
    #[value(name = "0")]
    Zero,
    /// The leader has written the record.
    #[value(name = "1")]
    One,
    /// Every in-sync replica has the record.
    All,
}

/// Runs `durian produce`.
pub async fn run(args: ProduceArgs, global: &GlobalOpts) -> Result<(), CliError> {
    if args.key_sep.as_deref() == Some("") {
        return Err(CliError::new("--key-sep must not be empty"));
    }
    let producer = Producer::from_properties(global.client_properties(&producer_settings(&args)))
        .map_err(|e| CliError::new(format!("bad client settings: {e}")))?;
    let admin = Admin::with_client(producer.client().clone(), ADMIN_TIMEOUT);
    let counts = topic_partitions(&admin, std::slice::from_ref(&args.topic)).await?;
    let partitions = counts.get(&args.topic).copied().unwrap_or(0);
    if let Some(p) = args.partition.filter(|p| *p < 0 || *p >= partitions) {
        return Err(CliError::new(format!(
            "topic `{}` has {partitions} partitions; partition {p} does not exist",
            args.topic
        )));
    }
    let (input, length): (Box<dyn AsyncBufRead + Unpin + Send>, _) = match &args.file {
        Some(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| CliError::new(format!("cannot open {}: {e}", path.display())))?;
            // The bar's total; without it (a FIFO, say) there is no bar.
            let length = file.metadata().await.ok().map(|m| m.len());
            (
                Box::new(BufReader::with_capacity(READ_BUFFER, file)),
                length,
            )
        }
        None => (
            Box::new(BufReader::with_capacity(READ_BUFFER, tokio::io::stdin())),
            None,
        ),
    };
    let lines = Arc::new(AtomicU64::new(0));
    let bar = match length {
        Some(length) if length > 0 => progress::bar(length, file_style(lines.clone())),
        _ => ProgressBar::hidden(),
    };
    let started = Instant::now();
    let (tally, read, stopped) = stream_lines(&producer, &args, input, &bar, &lines).await;
    bar.finish_and_clear();
    // Everything is resolved by now, so this only stops the sender task.
    let _ = producer.close(CLOSE_TIMEOUT).await;
    report(&args.topic, &tally, read, started.elapsed(), stopped)
}

/// The `produce -f` bar: bytes of the file read, and the lines read so
/// far with their rate (the `{records}` key, computed only when drawn).
fn file_style(lines: Arc<AtomicU64>) -> ProgressStyle {
    progress::style(progress::PRODUCE_TEMPLATE).with_key(
        "records",
        move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let lines = lines.load(Ordering::Relaxed);
            let seconds = state.elapsed().as_secs_f64();
            let rate = if seconds > 0.0 {
                lines as f64 / seconds
            } else {
                0.0
            };
            // Nowhere to report a failed write into the bar's own buffer.
            let _ = write!(out, "{lines} records, {rate:.0} rec/s");
        },
    )
}

/// The command's defaults, from its flags; `-X` may override any of them.
fn producer_settings(args: &ProduceArgs) -> Vec<(&'static str, String)> {
    // batch.size is the library's (1,000,000, as librdkafka's): a file is a
    // bulk load, and each batch costs a Produce request with its
    // cross-thread hand-offs; the command's own 256 KiB became redundant
    // once the library's default grew (docs/PERFORMANCE.md, "Syscalls and
    // CPU per 1M lines", measured 1 MiB below 256 KiB in CPU).
    let mut settings = Vec::new();
    if let Some(codec) = args.compression {
        let name = match codec {
            CompressionArg::None => "none",
            CompressionArg::Gzip => "gzip",
            CompressionArg::Snappy => "snappy",
            CompressionArg::Lz4 => "lz4",
            CompressionArg::Zstd => "zstd",
        };
        settings.push(("compression.type", name.to_owned()));
    }
    match args.acks {
        Some(AcksArg::Zero) => settings.extend([("acks", "0".into()), no_idempotence()]),
        Some(AcksArg::One) => settings.extend([("acks", "1".into()), no_idempotence()]),
        Some(AcksArg::All) => settings.push(("acks", "all".into())),
        None => {}
    }
    settings
}

/// Idempotence needs acks=all, so a weaker `--acks` turns it off.
fn no_idempotence() -> (&'static str, String) {
    ("enable.idempotence", "false".to_owned())
}

/// Lines between two progress updates of `produce -f`.
const PROGRESS_EVERY: u64 = 512;

/// Reads every line and sends it; returns the tally, the number of lines
/// read and, if reading stopped early, why.
async fn stream_lines(
    producer: &Producer,
    args: &ProduceArgs,
    input: Box<dyn AsyncBufRead + Unpin + Send>,
    bar: &ProgressBar,
    lines: &AtomicU64,
) -> (Tally, u64, Option<String>) {
    let (queue, mut pending) =
        mpsc::channel::<Vec<(u64, DeliveryFuture)>>(PENDING_DELIVERIES / DELIVERY_CHUNK);
    let collector = tokio::spawn(async move {
        let mut tally = Tally::default();
        while let Some(chunk) = pending.recv().await {
            for (line, delivery) in chunk {
                match delivery.await {
                    Ok(_) => tally.acknowledged += 1,
                    Err(e) => tally.fail(line, e.to_string()),
                }
            }
        }
        tally
    });
    let mut chunk = Vec::with_capacity(DELIVERY_CHUNK);
    let max_len = producer.config().max_request_size;
    let mut reader = LineReader::new(input, max_len);
    let mut local = Tally::default();
    let mut read = 0u64;
    let mut stopped = None;
    let mut unreported = 0u64;
    loop {
        let line = match reader.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                stopped = Some(format!("cannot read the input: {e}"));
                break;
            }
        };
        read += 1;
        // The line's bytes and its newline, handed to the bar every
        // PROGRESS_EVERY lines: `ProgressBar::inc` reads the clock, which
        // per line is a measurable share of this loop's CPU.
        unreported += line.length() as u64 + 1;
        if read.is_multiple_of(PROGRESS_EVERY) {
            lines.store(read, Ordering::Relaxed);
            bar.inc(std::mem::take(&mut unreported));
        }
        let bytes = match line {
            Line::Text(bytes) => bytes,
            Line::TooLong { length } => {
                local.fail(
                    read,
                    format!("line of {length} bytes is longer than max.request.size ({max_len})"),
                );
                continue;
            }
        };
        match producer.send(build_record(args, bytes)).await {
            Ok(delivery) => {
                chunk.push((read, delivery));
                if chunk.len() == DELIVERY_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(DELIVERY_CHUNK));
                    if queue.send(full).await.is_err() {
                        stopped = Some("the delivery collector stopped unexpectedly".to_owned());
                        break;
                    }
                }
            }
            Err(e) if concerns_one_record(&e) => local.fail(read, e.to_string()),
            Err(e) => {
                local.fail(read, e.to_string());
                stopped = Some(e.to_string());
                break;
            }
        }
    }
    lines.store(read, Ordering::Relaxed);
    bar.inc(unreported);
    // The last, partial chunk (also after an early stop: those records
    // were sent and are still counted). A failed hand-off leaves them
    // uncounted, as it did the single record before.
    if !chunk.is_empty() {
        let _ = queue.send(chunk).await;
    }
    drop(queue);
    let delivered = collector.await.unwrap_or_else(|e| {
        let mut tally = Tally::default();
        tally.fail(0, format!("the delivery collector failed: {e}"));
        tally
    });
    let mut tally = Tally {
        acknowledged: delivered.acknowledged,
        failed: delivered.failed + local.failed,
        first_failure: None,
    };
    // The earliest line's failure is the one worth showing.
    tally.first_failure = [delivered.first_failure, local.first_failure]
        .into_iter()
        .flatten()
        .min_by_key(|(line, _)| *line);
    (tally, read, stopped)
}

/// Whether a `send` error is about this record alone, so the next lines
/// may still go through.
fn concerns_one_record(error: &ProducerError) -> bool {
    matches!(
        error,
        ProducerError::Serialization { .. }
            | ProducerError::RecordTooLarge { .. }
            | ProducerError::InvalidPartition { .. }
    )
}

/// The record for one line: key split, headers and partition from the flags.
fn build_record(args: &ProduceArgs, line: Vec<u8>) -> ProducerRecord {
    let (key, value) = match args.key_sep.as_deref() {
        Some(sep) => split_key(line, sep.as_bytes()),
        None => (None, line),
    };
    let mut record = ProducerRecord::new(args.topic.clone(), Bytes::from(value));
    if let Some(key) = key {
        record = record.with_key(Bytes::from(key));
    }
    for (name, value) in &args.headers {
        record = record.with_header(name.clone(), Bytes::from(value.clone().into_bytes()));
    }
    if let Some(partition) = args.partition {
        record = record.with_partition(partition);
    }
    record
}

/// Key and value of a line split at the first `sep`; no key without `sep`.
fn split_key(mut line: Vec<u8>, sep: &[u8]) -> (Option<Vec<u8>>, Vec<u8>) {
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(at) => {
            let value = line.split_off(at + sep.len());
            line.truncate(at);
            (Some(line), value)
        }
        None => (None, line),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_first_separator_only() {
        assert_eq!(
            split_key(b"k::v::w".to_vec(), b"::"),
            (Some(b"k".to_vec()), b"v::w".to_vec())
        );
        assert_eq!(
            split_key(b"no-sep".to_vec(), b"\t"),
            (None, b"no-sep".to_vec())
        );
        assert_eq!(
            split_key(b"\tv".to_vec(), b"\t"),
            (Some(Vec::new()), b"v".to_vec())
        );
    }

    #[test]
    fn weaker_acks_turn_idempotence_off() {
        let args = |acks| ProduceArgs {
            topic: "t".into(),
            file: None,
            key_sep: None,
            headers: Vec::new(),
            compression: Some(CompressionArg::Lz4),
            acks,
            partition: None,
        };
        let settings = producer_settings(&args(Some(AcksArg::One)));
        assert!(settings.contains(&("acks", "1".to_owned())));
        assert!(settings.contains(&("enable.idempotence", "false".to_owned())));
        assert!(settings.contains(&("compression.type", "lz4".to_owned())));
        let settings = producer_settings(&args(Some(AcksArg::All)));
        assert!(!settings.iter().any(|(k, _)| *k == "enable.idempotence"));
        // The library's default batch.size applies (1,000,000).
        assert!(!settings.iter().any(|(k, _)| *k == "batch.size"));
    }
}
