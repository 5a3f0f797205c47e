//! The whole-process peer of `durian produce -f FILE` (issue 18): "a
//! 40-line rdkafka program (ThreadedProducer: read lines, send, flush;
//! librdkafka 2.12 defaults)".
//!
//! It runs as its own process (`durian-bench rdkafka-file`, dispatched
//! before the bench's tokio runtime exists, so the process holds nothing
//! but this program and librdkafka). Settings beyond librdkafka's
//! defaults are the three the durian CLI also uses: `bootstrap.servers`,
//! `acks=all` and `enable.idempotence=true`; everything else (linger.ms
//! 5, batch.size 1,000,000, batch.num.messages 10,000,
//! queue.buffering.max.messages 100,000, no compression, the
//! consistent_random partitioner, sticky for keyless records) is
//! librdkafka's.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::util::Timeout;

use super::rdkafka::{Counting, Threaded};

/// How long the program waits before offering a record again when
/// librdkafka's queue is full (as the library produce scenario does).
const QUEUE_FULL_BACKOFF: Duration = Duration::from_micros(200);

/// Sends every line of `file` (without its newline) to `topic` as one
/// record, flushes, and returns how many lines were sent; an error when
/// any record was not acknowledged.
pub fn run(bootstrap: &str, topic: &str, file: &Path) -> Result<u64, String> {
    let context = Counting::default();
    let producer: Threaded = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create_with_context(context.clone())
        .map_err(|e| format!("rdkafka producer: {e}"))?;
    let input = File::open(file).map_err(|e| format!("opening {}: {e}", file.display()))?;
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    let mut sent = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        if read == 0 {
            break;
        }
        let value = line.strip_suffix(b"\n").unwrap_or(&line);
        let mut record = BaseRecord::<(), [u8], ()>::to(topic).payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                }
                Err((e, _)) => return Err(format!("rdkafka send: {e}")),
            }
        }
        sent += 1;
    }
    producer
        .flush(Timeout::Never)
        .map_err(|e| format!("rdkafka flush: {e}"))?;
    let acked = context.0.ok.load(Ordering::Relaxed);
    let failed = context.0.failed.load(Ordering::Relaxed);
    if acked != sent || failed > 0 {
        return Err(format!(
            "rdkafka: {acked} of {sent} lines acknowledged, {failed} failed"
        ));
    }
    Ok(sent)
}
