//! Helpers of the log-shipping tests, shared by the library's
//! (`tests/ship.rs`) and the command's (`cli/tests/ship.rs`): an embedded
//! broker with the topic, a log file to append access-log lines to, and a
//! reader that reads the topic back.
//!
//! Both test files include this file with `#[path]` rather than taking it
//! from `durian-testkit`: these helpers need durian's broker, admin client
//! and consumer, and a testkit that depends on `durian` would make every
//! testkit user build the whole stack (durian-core's and durian-producer's
//! tests among them) and give durian-core's own unit tests a second,
//! incompatible copy of durian-core.

// Each including test uses a different subset.
#![allow(dead_code)]

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use durian::admin::{Admin, NewTopic};
use durian::broker::{Broker, BrokerHandle};
use durian::consumer::{Consumer, IsolationLevel, OffsetReset, TopicPartition};

/// The topic the agent ships to.
pub const TOPIC: &str = "web_log";
/// Its partitions: more than one, so that "all lines of a file go to one
/// partition" is something a test can get wrong.
pub const PARTITIONS: i32 = 3;

/// An embedded broker holding [`TOPIC`], and a directory for the log.
pub struct Setup {
    /// The broker, on a free port, in a temporary directory.
    pub broker: BrokerHandle,
    /// Holds the log file, its rotations and the agent's checkpoint.
    pub dir: tempfile::TempDir,
    /// The log file the agent follows (`access.log`, not created yet).
    pub log: PathBuf,
}

/// Starts a broker and creates [`TOPIC`] with [`PARTITIONS`] partitions.
pub async fn setup() -> Setup {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let admin = Admin::builder()
        .bootstrap_servers([broker.bootstrap()])
        .connect()
        .await
        .unwrap();
    for (_, created) in admin
        .create_topics([NewTopic::new(TOPIC, PARTITIONS)])
        .await
    {
        created.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    Setup { broker, dir, log }
}

impl Setup {
    /// A reader of the whole topic that waits at most `patience` for what
    /// it expects.
    pub fn reader(&self, patience: Duration) -> TopicReader {
        TopicReader::new(&self.broker.bootstrap(), patience)
    }

    /// A reader like [`Setup::reader`] that sees committed transactions
    /// only (`isolation.level=read_committed`).
    pub fn committed_reader(&self, patience: Duration) -> TopicReader {
        TopicReader::with_isolation(
            &self.broker.bootstrap(),
            patience,
            IsolationLevel::ReadCommitted,
        )
    }
}

/// Log line number `i`: an access-log line, different for every `i`, so a
/// line shipped twice or lost shows in the comparison.
pub fn line(i: usize) -> String {
    format!(
        "10.0.0.{} - - [23/Nov/2026:10:00:00 +0000] \"GET /item/{i} HTTP/1.1\" 200 {}",
        i % 250,
        100 + i
    )
}

/// Appends lines number `lines` to `path` (creating it) and returns them.
pub fn append(path: &Path, lines: Range<usize>) -> Vec<String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let lines: Vec<String> = lines.map(line).collect();
    for text in &lines {
        writeln!(file, "{text}").unwrap();
    }
    lines
}

/// Reads every partition of [`TOPIC`] from the beginning, keeping each
/// record as (partition, value).
pub struct TopicReader {
    consumer: Consumer,
    records: Vec<(i32, String)>,
    patience: Duration,
    /// A file whose contents a timed-out wait shows (the agent's stderr).
    diagnostics: Option<PathBuf>,
}

impl TopicReader {
    /// A reader bootstrapped from `bootstrap`; see [`Setup::reader`].
    pub fn new(bootstrap: &str, patience: Duration) -> TopicReader {
        TopicReader::with_isolation(bootstrap, patience, IsolationLevel::ReadUncommitted)
    }

    /// A reader that reads at `isolation`.
    pub fn with_isolation(
        bootstrap: &str,
        patience: Duration,
        isolation: IsolationLevel,
    ) -> TopicReader {
        let mut consumer = Consumer::builder()
            .bootstrap_servers([bootstrap])
            .auto_offset_reset(OffsetReset::Earliest)
            .isolation_level(isolation)
            .build()
            .unwrap();
        consumer
            .assign((0..PARTITIONS).map(|p| TopicPartition::new(TOPIC, p)))
            .unwrap();
        TopicReader {
            consumer,
            records: Vec::new(),
            patience,
            diagnostics: None,
        }
    }

    /// Shows the contents of `path` when a wait times out: when the agent
    /// is a child process, its stderr says why nothing arrived.
    pub fn with_diagnostics(mut self, path: &Path) -> TopicReader {
        self.diagnostics = Some(path.to_owned());
        self
    }

    async fn poll_once(&mut self) {
        let batch = self
            .consumer
            .poll(Duration::from_millis(100))
            .await
            .unwrap();
        for record in batch.iter() {
            let value = record.value.as_deref().unwrap_or_default().to_vec();
            self.records
                .push((record.partition, String::from_utf8(value).unwrap()));
        }
    }

    /// Waits until at least `count` records were read.
    pub async fn wait_for(&mut self, count: usize) {
        let deadline = Instant::now() + self.patience;
        while self.records.len() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} records arrived{}",
                self.records.len(),
                self.diagnostics
                    .as_deref()
                    .map(|path| format!(
                        "; {}:\n{}",
                        path.display(),
                        std::fs::read_to_string(path).unwrap_or_default()
                    ))
                    .unwrap_or_default()
            );
            self.poll_once().await;
        }
    }

    /// Reads up to the current end of every partition (call once nothing
    /// writes any more) and returns every record read.
    pub async fn read_to_end(&mut self) -> Vec<(i32, String)> {
        let partitions: Vec<_> = (0..PARTITIONS)
            .map(|p| TopicPartition::new(TOPIC, p))
            .collect();
        let ends = self.consumer.end_offsets(&partitions).await.unwrap();
        let deadline = Instant::now() + self.patience;
        loop {
            let mut done = true;
            for tp in &partitions {
                done &= self.consumer.position(tp).await.unwrap() >= ends[tp];
            }
            if done {
                return self.records.clone();
            }
            assert!(Instant::now() < deadline, "topic not read to its end");
            self.poll_once().await;
        }
    }
}

/// Every line once, in order, all in one partition.
pub fn assert_shipped_exactly(records: &[(i32, String)], lines: &[String]) {
    let values: Vec<&String> = records.iter().map(|(_, v)| v).collect();
    let expected: Vec<&String> = lines.iter().collect();
    if values != expected {
        let first_difference = values
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(values.len().min(expected.len()));
        panic!(
            "topic holds {} records, file had {} lines; first difference at {first_difference}: \
             {:?} vs {:?}",
            values.len(),
            expected.len(),
            values.get(first_difference),
            expected.get(first_difference)
        );
    }
    let partition = records.first().map(|(p, _)| *p);
    assert!(
        records.iter().all(|(p, _)| Some(*p) == partition),
        "all lines of a file go to one partition"
    );
}
