//! The log-shipping agent as a library, against the embedded broker:
//! appends, rotation by rename, truncation, a file that appears late,
//! restarts from the checkpoint, and a restart after lines were
//! acknowledged but not yet checkpointed (no duplicate, no loss).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use durian::admin::{Admin, NewTopic};
use durian::broker::{Broker, BrokerHandle};
use durian::consumer::{Consumer, ConsumerRecord, OffsetReset, TopicPartition};
use durian::ship::checkpoint::Checkpoint;
use durian::ship::{ShipConfig, ShipProgress, Shipper};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOPIC: &str = "web_log";
const PARTITIONS: i32 = 3;
const DEADLINE: Duration = Duration::from_secs(30);

struct Setup {
    broker: BrokerHandle,
    dir: tempfile::TempDir,
    log: PathBuf,
}

async fn setup() -> Setup {
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
    fn config(&self) -> ShipConfig {
        ShipConfig::new(&self.log, TOPIC)
            .bootstrap_servers(self.broker.bootstrap())
            .poll_interval(Duration::from_millis(20))
            .checkpoint_interval(Duration::from_millis(50))
    }
}

/// A shipper running in its own task.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<ShipProgress, durian::ship::ShipError>>,
}

fn start(config: ShipConfig) -> Running {
    let shipper = Shipper::new(config).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(shipper.run(async move {
        let _ = stopped.await;
    }));
    Running { stop, task }
}

impl Running {
    /// Ctrl-C: deliver, checkpoint, return.
    async fn stop(self) -> ShipProgress {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap()
    }

    /// A kill: the task is dropped wherever it is, nothing is flushed.
    async fn kill(self) {
        self.task.abort();
        assert!(self.task.await.unwrap_err().is_cancelled());
    }
}

fn line(i: usize) -> String {
    format!(
        "10.0.0.{} - - [23/Nov/2026:10:00:00 +0000] \"GET /item/{i} HTTP/1.1\" 200 {}",
        i % 250,
        100 + i
    )
}

fn append(path: &Path, lines: std::ops::Range<usize>) -> Vec<String> {
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

/// Reads every partition of the topic from the beginning.
struct TopicReader {
    consumer: Consumer,
    records: Vec<ConsumerRecord>,
}

impl TopicReader {
    fn new(setup: &Setup) -> TopicReader {
        let mut consumer = Consumer::builder()
            .bootstrap_servers([setup.broker.bootstrap()])
            .auto_offset_reset(OffsetReset::Earliest)
            .build()
            .unwrap();
        consumer
            .assign((0..PARTITIONS).map(|p| TopicPartition::new(TOPIC, p)))
            .unwrap();
        TopicReader {
            consumer,
            records: Vec::new(),
        }
    }

    /// Waits until at least `count` records were read.
    async fn wait_for(&mut self, count: usize) {
        let deadline = Instant::now() + DEADLINE;
        while self.records.len() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} records arrived",
                self.records.len()
            );
            let batch = self
                .consumer
                .poll(Duration::from_millis(100))
                .await
                .unwrap();
            self.records.extend(batch.iter().cloned());
        }
    }

    /// Reads up to the current end of every partition (call once nothing
    /// writes any more) and returns the values per partition.
    async fn read_to_end(&mut self) -> Vec<(i32, String)> {
        let partitions: Vec<_> = (0..PARTITIONS)
            .map(|p| TopicPartition::new(TOPIC, p))
            .collect();
        let ends = self.consumer.end_offsets(&partitions).await.unwrap();
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut done = true;
            for tp in &partitions {
                done &= self.consumer.position(tp).await.unwrap() >= ends[tp];
            }
            if done {
                break;
            }
            assert!(Instant::now() < deadline, "topic not read to its end");
            let batch = self
                .consumer
                .poll(Duration::from_millis(100))
                .await
                .unwrap();
            self.records.extend(batch.iter().cloned());
        }
        self.records
            .iter()
            .map(|r| {
                let value = String::from_utf8(r.value.as_deref().unwrap_or_default().to_vec());
                (r.partition, value.unwrap())
            })
            .collect()
    }
}

/// Every line once, in order, all in one partition.
fn assert_shipped_exactly(records: &[(i32, String)], lines: &[String]) {
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

#[tokio::test]
async fn appended_lines_are_shipped_in_order_and_partial_lines_wait() {
    let setup = setup().await;
    let mut lines = append(&setup.log, 0..100);
    let running = start(setup.config());
    let mut reader = TopicReader::new(&setup);
    reader.wait_for(100).await;
    lines.extend(append(&setup.log, 100..250));
    reader.wait_for(250).await;
    // A line without its newline stays behind until it is complete.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&setup.log)
        .unwrap()
        .write_all(b"unfinished")
        .unwrap();
    let progress = running.stop().await;
    assert_eq!(progress.lines_shipped, 250);
    let records = reader.read_to_end().await;
    assert_shipped_exactly(&records, &lines);

    std::fs::OpenOptions::new()
        .append(true)
        .open(&setup.log)
        .unwrap()
        .write_all(b" now\n")
        .unwrap();
    lines.push("unfinished now".to_owned());
    let running = start(setup.config());
    reader.wait_for(251).await;
    running.stop().await;
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[cfg(unix)]
#[tokio::test]
async fn rotation_by_rename_finishes_the_old_file_first() {
    let setup = setup().await;
    let mut lines = append(&setup.log, 0..50);
    let running = start(setup.config());
    let mut reader = TopicReader::new(&setup);
    reader.wait_for(50).await;
    lines.extend(append(&setup.log, 50..80));
    let rotated = setup.dir.path().join("access.log.1");
    std::fs::rename(&setup.log, &rotated).unwrap();
    // The writer has not reopened yet: its last lines land in the old file.
    lines.extend(append(&rotated, 80..90));
    lines.extend(append(&setup.log, 90..150));
    reader.wait_for(150).await;
    let progress = running.stop().await;
    assert_eq!(progress.generation, 1, "the new file is generation 1");
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[tokio::test]
async fn truncation_starts_over_from_the_beginning() {
    let setup = setup().await;
    let mut lines = append(&setup.log, 0..40);
    let running = start(setup.config());
    let mut reader = TopicReader::new(&setup);
    reader.wait_for(40).await;
    std::fs::File::create(&setup.log).unwrap(); // truncate in place (copytruncate)
    lines.extend(append(&setup.log, 40..45));
    reader.wait_for(45).await;
    let progress = running.stop().await;
    assert_eq!(progress.generation, 1);
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[tokio::test]
async fn a_file_created_after_start_is_picked_up() {
    let setup = setup().await;
    let running = start(setup.config());
    let mut reader = TopicReader::new(&setup);
    // Let the shipper start (it writes its first checkpoint before reading).
    let deadline = Instant::now() + DEADLINE;
    while !setup.config().checkpoint.exists() {
        assert!(Instant::now() < deadline, "no initial checkpoint");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lines = append(&setup.log, 0..20);
    reader.wait_for(20).await;
    running.stop().await;
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[tokio::test]
async fn a_restart_resumes_at_the_checkpoint() {
    let setup = setup().await;
    let mut lines = append(&setup.log, 0..100);
    let running = start(setup.config());
    let mut reader = TopicReader::new(&setup);
    reader.wait_for(100).await;
    running.stop().await;
    let saved = Checkpoint::load(&setup.config().checkpoint)
        .unwrap()
        .unwrap();
    assert_eq!(saved.position, std::fs::metadata(&setup.log).unwrap().len());

    lines.extend(append(&setup.log, 100..130));
    let running = start(setup.config());
    reader.wait_for(130).await;
    let progress = running.stop().await;
    assert_eq!((progress.lines_shipped, progress.lines_skipped), (30, 0));
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[cfg(unix)]
#[tokio::test]
async fn a_kill_after_acknowledgement_but_before_the_checkpoint_sends_no_line_twice() {
    let setup = setup().await;
    // Checkpoints only at start: every acknowledged line is past the checkpoint.
    let rarely = setup
        .config()
        .checkpoint_interval(Duration::from_secs(3600));
    let mut lines = append(&setup.log, 0..200);
    let running = start(rarely.clone());
    let mut reader = TopicReader::new(&setup);
    reader.wait_for(200).await;
    let rotated = setup.dir.path().join("access.log.1");
    std::fs::rename(&setup.log, &rotated).unwrap();
    lines.extend(append(&setup.log, 200..300));
    reader.wait_for(300).await;
    running.kill().await;

    let stale = Checkpoint::load(&rarely.checkpoint).unwrap().unwrap();
    assert_eq!(
        (stale.generation, stale.file, stale.position),
        (0, None, 0),
        "the scenario needs a checkpoint from before the first line"
    );
    // Written while the agent is down.
    lines.extend(append(&setup.log, 300..350));
    let running = start(setup.config());
    reader.wait_for(350).await;
    let progress = running.stop().await;
    assert_eq!(progress.recovered_records, 300);
    assert_eq!((progress.lines_skipped, progress.lines_shipped), (300, 50));
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_rotated_while_the_agent_was_down_is_finished_from_its_new_name() {
    let setup = setup().await;
    let mut lines = append(&setup.log, 0..60);
    let running = start(setup.config());
    let mut reader = TopicReader::new(&setup);
    reader.wait_for(60).await;
    running.stop().await;
    let saved = Checkpoint::load(&setup.config().checkpoint)
        .unwrap()
        .unwrap();
    assert!(saved.file.is_some() && saved.position > 0);

    // While the agent is down: more lines, a rotation, a new file.
    lines.extend(append(&setup.log, 60..80));
    std::fs::rename(&setup.log, setup.dir.path().join("access.log-20261123")).unwrap();
    lines.extend(append(&setup.log, 80..100));
    let running = start(setup.config());
    reader.wait_for(100).await;
    let progress = running.stop().await;
    assert_eq!((progress.lines_shipped, progress.generation), (40, 1));
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}
