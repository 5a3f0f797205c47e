//! Apache Kafka's Java clients, driven by the perf tools Kafka ships
//! (`org.apache.kafka.tools.ProducerPerformance` and `ConsumerPerformance`
//! from the kafka-tools jar), each run as a JVM child of the worker.
//!
//! The tools measure their own rates, and the figures here are theirs: the
//! producer's summary line (from its first send to the last
//! acknowledgement) and the consumer's fetch rate (after the group's first
//! assignment). CPU and peak RSS are the whole JVM's, start-up and JIT
//! included, from the kernel's accounting of the reaped child
//! (`getrusage(RUSAGE_CHILDREN)`; the worker has no other child).
//! There is no latency scenario: the tools have no paced end-to-end mode.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::{WorkerResult, WorkerSpec, BATCH_SIZE, LINGER, VALUE_POOL};
use crate::apache_kafka::{self, G1_FLAGS};
use crate::measure::{Measurement, Usage};
use crate::payload;

/// Heap of a tool's JVM, as Kafka's perf-test scripts set it.
const TOOL_HEAP: &str = "-Xmx512m";
/// Upper bound of one tool run.
const TOOL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long ConsumerPerformance waits for a record before giving up.
const CONSUMER_IDLE_MS: &str = "60000";

/// Runs a tool class with `args`; returns its stdout and the JVM's usage.
async fn run_tool(class: &str, args: &[String]) -> Result<(String, Usage), String> {
    let install = apache_kafka::find()?;
    let mut child = Command::new(&install.java)
        .arg(TOOL_HEAP)
        .args(G1_FLAGS)
        .arg("-cp")
        .arg(install.classpath())
        .arg(class)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {class}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("tool has no stdout")?;
    let mut text = String::new();
    let status = tokio::time::timeout(TOOL_TIMEOUT, async {
        stdout.read_to_string(&mut text).await?;
        child.wait().await
    })
    .await
    .map_err(|_| format!("{class} still running after {TOOL_TIMEOUT:?}"))?
    .map_err(|e| format!("{class}: {e}"))?;
    if !status.success() {
        return Err(format!("{class} exited with {status}:\n{text}"));
    }
    Ok((text, children_usage()))
}

/// CPU and peak RSS of this process's reaped children (here: the one JVM).
fn children_usage() -> Usage {
    // SAFETY: getrusage only writes into the zeroed struct we own.
    let mut raw: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_CHILDREN with a valid pointer cannot fail on Linux.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut raw) } != 0 {
        return Usage::default();
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Usage {
        cpu: tv(raw.ru_utime) + tv(raw.ru_stime),
        max_rss_kib: raw.ru_maxrss.max(0) as u64,
    }
}

/// Writes the bench's value pool, one value per line, for `--payload-file`
/// (the values are log-like text without newlines, so each line is one
/// value of exactly `size` bytes and lz4 gets the same work as elsewhere).
fn write_payloads(path: &Path, size: usize) -> Result<(), String> {
    let mut text = Vec::with_capacity((size + 1) * VALUE_POOL);
    for value in payload::values(size, VALUE_POOL) {
        text.extend_from_slice(&value);
        text.push(b'\n');
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// ProducerPerformance with the bench's equal settings.
pub async fn produce(spec: &WorkerSpec) -> WorkerResult {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let payloads = dir.path().join("payloads.txt");
    write_payloads(&payloads, spec.value_size)?;
    let mut args: Vec<String> = [
        "--bootstrap-server",
        &spec.bootstrap,
        "--topic",
        &spec.topic,
        "--num-records",
        &spec.records.to_string(),
        "--throughput",
        "-1",
        "--payload-file",
        &payloads.display().to_string(),
        "--command-property",
        "acks=all",
        "enable.idempotence=true",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(format!("linger.ms={}", LINGER.as_millis()));
    args.push(format!("batch.size={BATCH_SIZE}"));
    args.push(format!(
        "compression.type={}",
        if spec.lz4 { "lz4" } else { "none" }
    ));
    let (out, usage) = run_tool("org.apache.kafka.tools.ProducerPerformance", &args).await?;
    let (records, per_sec) = parse_producer_summary(&out)
        .ok_or_else(|| format!("ProducerPerformance printed no summary:\n{out}"))?;
    Ok(Measurement {
        records,
        bytes: records * spec.value_size as u64,
        elapsed: Duration::from_secs_f64(records as f64 / per_sec.max(1e-9)),
        cpu: usage.cpu,
        max_rss_kib: usage.max_rss_kib,
        ..Measurement::default()
    })
}

/// ConsumerPerformance from the beginning of the filled topic.
pub async fn consume(spec: &WorkerSpec) -> WorkerResult {
    let args: Vec<String> = [
        "--bootstrap-server",
        &spec.bootstrap,
        "--topic",
        &spec.topic,
        "--num-records",
        &spec.records.to_string(),
        "--group",
        &format!("durian-bench-java-{}", spec.topic),
        "--timeout",
        CONSUMER_IDLE_MS,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let (out, usage) = run_tool("org.apache.kafka.tools.ConsumerPerformance", &args).await?;
    let stats = parse_consumer_stats(&out)
        .ok_or_else(|| format!("ConsumerPerformance printed no stats:\n{out}"))?;
    if stats.records < spec.records {
        return Err(format!(
            "ConsumerPerformance read {} of {} records",
            stats.records, spec.records
        ));
    }
    Ok(Measurement {
        records: stats.records,
        bytes: stats.records * spec.value_size as u64,
        elapsed: Duration::from_secs_f64(stats.fetch_ms / 1e3),
        cpu: usage.cpu,
        max_rss_kib: usage.max_rss_kib,
        startup: Some(Duration::from_secs_f64(stats.rebalance_ms / 1e3)),
        ..Measurement::default()
    })
}

/// The records and records/s of ProducerPerformance's last summary line,
/// `N records sent, R records/sec (M MB/sec), ...`.
fn parse_producer_summary(out: &str) -> Option<(u64, f64)> {
    let line = out.lines().rev().find(|l| l.contains(" records sent, "))?;
    let (count, rest) = line.trim().split_once(" records sent, ")?;
    let (rate, _) = rest.split_once(" records/sec")?;
    Some((count.trim().parse().ok()?, rate.trim().parse().ok()?))
}

/// ConsumerPerformance's figures the bench uses.
#[derive(Debug, PartialEq)]
struct ConsumerStats {
    records: u64,
    rebalance_ms: f64,
    fetch_ms: f64,
}

/// Reads ConsumerPerformance's CSV: a header naming the columns, then one
/// line of values (the tool's date column holds no comma).
fn parse_consumer_stats(out: &str) -> Option<ConsumerStats> {
    let mut lines = out
        .lines()
        .skip_while(|l| !l.contains("data.consumed.in.nMsg"));
    let header: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
    let values: Vec<&str> = lines.next()?.split(',').map(str::trim).collect();
    let get = |name: &str| -> Option<f64> {
        let i = header.iter().position(|h| *h == name)?;
        values.get(i)?.parse().ok()
    };
    Some(ConsumerStats {
        records: get("data.consumed.in.nMsg")? as u64,
        rebalance_ms: get("rebalance.time.ms")?,
        fetch_ms: get("fetch.time.ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_summary_is_the_last_line() {
        let out = "50000 records sent, 9990.0 records/sec (0.95 MB/sec), 3.1 ms avg latency, 80.0 ms max latency.\n\
                   200000 records sent, 123456.7 records/sec (11.77 MB/sec), 5.20 ms avg latency, 300.00 ms max latency, 4 ms 50th, 12 ms 95th, 20 ms 99th, 40 ms 99.9th.\n";
        assert_eq!(parse_producer_summary(out), Some((200_000, 123_456.7)));
        assert_eq!(parse_producer_summary("nothing here"), None);
    }

    #[test]
    fn consumer_stats_come_from_the_named_columns() {
        let out = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n\
                   2026-12-06 11:00:00:000, 2026-12-06 11:00:02:000, 19.07, 9.5, 200001, 100000.5, 1500, 500, 38.1, 400002.0\n";
        assert_eq!(
            parse_consumer_stats(out),
            Some(ConsumerStats {
                records: 200_001,
                rebalance_ms: 1500.0,
                fetch_ms: 500.0
            })
        );
        assert_eq!(parse_consumer_stats("WARN something\n"), None);
    }

    #[test]
    fn payload_lines_are_whole_values() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.txt");
        write_payloads(&path, 100).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), VALUE_POOL);
        assert!(text.lines().all(|l| l.len() == 100));
    }
}
