//! `durian ship` as a process (issue 6's acceptance): lines appended while
//! it runs, the file rotated, the agent SIGKILLed between acknowledgement
//! and checkpoint and restarted → the topic holds every line exactly
//! once, in file order.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use durian::admin::{Admin, NewTopic};
use durian::broker::Broker;
use durian::consumer::{Consumer, OffsetReset, TopicPartition};
use durian::ship::checkpoint::Checkpoint;

const TOPIC: &str = "web_log";
const PARTITIONS: i32 = 3;
const DEADLINE: Duration = Duration::from_secs(60);

fn append(path: &Path, lines: std::ops::Range<usize>, all: &mut Vec<String>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in lines {
        let line = format!(
            "192.168.1.{} - - \"GET /page/{i} HTTP/1.1\" 200 {}",
            i % 200,
            512 + i
        );
        writeln!(file, "{line}").unwrap();
        all.push(line);
    }
}

fn ship(bootstrap: &str, log: &Path, stderr: &Path, checkpoint_interval_ms: u64) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_durian"))
        .args([
            "-b",
            bootstrap,
            "ship",
            "--topic",
            TOPIC,
            "--poll-interval-ms",
            "20",
        ])
        .arg("--checkpoint-interval-ms")
        .arg(checkpoint_interval_ms.to_string())
        .arg("--file")
        .arg(log)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Every record of the topic, read from the beginning, as (partition, value).
struct TopicReader {
    consumer: Consumer,
    records: Vec<(i32, String)>,
}

impl TopicReader {
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

    async fn wait_for(&mut self, count: usize, agent_log: &Path) {
        let deadline = Instant::now() + DEADLINE;
        while self.records.len() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} lines reached the topic; agent's stderr:\n{}",
                self.records.len(),
                std::fs::read_to_string(agent_log).unwrap_or_default()
            );
            self.poll_once().await;
        }
    }

    async fn read_to_end(&mut self) {
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
                return;
            }
            assert!(Instant::now() < deadline, "topic not read to its end");
            self.poll_once().await;
        }
    }
}

async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "durian ship did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_after_rotation_ships_every_line_exactly_once_in_order() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let bootstrap = broker.bootstrap();
    let admin = Admin::builder()
        .bootstrap_servers([bootstrap.clone()])
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
    let agent_log = dir.path().join("agent.stderr");
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap.clone()])
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(TOPIC, p)))
        .unwrap();
    let mut topic = TopicReader {
        consumer,
        records: Vec::new(),
    };
    let mut lines = Vec::new();

    // First run: checkpoints only at start, so everything it ships is
    // acknowledged but not checkpointed when it is killed.
    append(&log, 0..100, &mut lines);
    let mut agent = ship(&bootstrap, &log, &agent_log, 3_600_000);
    topic.wait_for(100, &agent_log).await;
    append(&log, 100..200, &mut lines);
    topic.wait_for(200, &agent_log).await;
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, 200..220, &mut lines); // the writer's last lines before it reopens
    append(&log, 220..320, &mut lines);
    topic.wait_for(320, &agent_log).await;
    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();

    let checkpoint_path = dir.path().join("access.log.durian-ship");
    let stale = Checkpoint::load(&checkpoint_path).unwrap().unwrap();
    assert_eq!(
        (stale.file, stale.position),
        (None, 0),
        "the kill came before any line was checkpointed"
    );

    // Written while the agent is down, then a second run that is stopped cleanly.
    append(&log, 320..370, &mut lines);
    let mut agent = ship(&bootstrap, &log, &agent_log, 50);
    topic.wait_for(370, &agent_log).await;
    append(&log, 370..400, &mut lines);
    topic.wait_for(400, &agent_log).await;
    let term = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = wait_exit(&mut agent).await;
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        std::fs::read_to_string(&agent_log).unwrap_or_default()
    );

    let saved = Checkpoint::load(&checkpoint_path).unwrap().unwrap();
    assert_eq!(saved.generation, 1, "the second file is generation 1");
    assert_eq!(saved.position, std::fs::metadata(&log).unwrap().len());

    topic.read_to_end().await;
    let values: Vec<&String> = topic.records.iter().map(|(_, v)| v).collect();
    let expected: Vec<&String> = lines.iter().collect();
    assert_eq!(values.len(), expected.len(), "no line lost, none twice");
    assert_eq!(values, expected, "file order");
    let partition = topic.records[0].0;
    assert!(topic.records.iter().all(|(p, _)| *p == partition));
    broker.shutdown().await.unwrap();
}
