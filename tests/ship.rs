//! The log-shipping agent as a library, against the embedded broker:
//! appends, rotation by rename, truncation, a file that appears late,
//! restarts from the checkpoint, a restart after lines were
//! acknowledged but not yet checkpointed (no duplicate, no loss), an upgrade
//! over records in the older three-header form, and the
//! transactional mode killed with a transaction open.

#![allow(clippy::unwrap_used)]

#[path = "support/ship.rs"]
mod ship_support;

use std::io::Write;
use std::time::{Duration, Instant};

use durian::admin::Admin;
use durian::producer::{Producer, ProducerRecord};
use durian::ship::checkpoint::Checkpoint;
use durian::ship::{ShipConfig, ShipError, ShipProgress, Shipper};
use ship_support::{append, assert_shipped_exactly, setup, Setup, TopicReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(30);

impl Setup {
    fn config(&self) -> ShipConfig {
        ShipConfig::new(&self.log, ship_support::TOPIC)
            .bootstrap_servers(self.broker.bootstrap())
            .poll_interval(Duration::from_millis(20))
            .checkpoint_interval(Duration::from_millis(50))
    }

    /// How most tests begin: lines `0..count` in the file, a shipper
    /// started with `config`, and a reader that has seen them all arrive.
    async fn ship_first(
        &self,
        config: ShipConfig,
        count: usize,
    ) -> (Vec<String>, Running, TopicReader) {
        let lines = append(&self.log, 0..count);
        let running = start(config);
        let mut reader = self.reader(DEADLINE);
        reader.wait_for(count).await;
        (lines, running, reader)
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

#[tokio::test]
async fn appended_lines_are_shipped_in_order_and_partial_lines_wait() {
    let setup = setup().await;
    let (mut lines, running, mut reader) = setup.ship_first(setup.config(), 100).await;
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

/// The window holds 10,000 unacknowledged lines; every acknowledgement
/// gives its lines' room back, so a file of several windows ships whole
/// instead of stalling at the first 10,000.
#[tokio::test]
async fn a_file_longer_than_the_window_ships_whole() {
    let setup = setup().await;
    let (lines, running, mut reader) = setup.ship_first(setup.config(), 25_000).await;
    let progress = running.stop().await;
    assert_eq!(progress.lines_shipped, 25_000);
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[cfg(unix)]
#[tokio::test]
async fn rotation_by_rename_finishes_the_old_file_first() {
    let setup = setup().await;
    let (mut lines, running, mut reader) = setup.ship_first(setup.config(), 50).await;
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
    let (mut lines, running, mut reader) = setup.ship_first(setup.config(), 40).await;
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
    let mut reader = setup.reader(DEADLINE);
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
    let (mut lines, running, mut reader) = setup.ship_first(setup.config(), 100).await;
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
    let (mut lines, running, mut reader) = setup.ship_first(rarely.clone(), 200).await;
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
    let (mut lines, running, mut reader) = setup.ship_first(setup.config(), 60).await;
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

impl Running {
    /// How the run ends on its own (an error), failing the test if it
    /// keeps running.
    async fn outcome(self) -> Result<ShipProgress, ShipError> {
        let Running { stop, task } = self;
        let outcome = tokio::time::timeout(DEADLINE, task)
            .await
            .expect("the shipper should have stopped on its own")
            .unwrap();
        drop(stop);
        outcome
    }
}

/// Moves the log start of `partition` to `before` (as retention or
/// DeleteRecords would).
async fn delete_before(setup: &Setup, partition: i32, before: i64) {
    let admin = Admin::builder()
        .bootstrap_servers([setup.broker.bootstrap()])
        .connect()
        .await
        .unwrap();
    let tp = durian::admin::TopicPartition::new(ship_support::TOPIC, partition);
    let deleted = admin.delete_records([(tp.clone(), before)]).await;
    assert_eq!(deleted[&tp].as_ref().unwrap().low_watermark, before);
}

#[tokio::test]
async fn a_recovery_range_deleted_before_the_restart_is_refused_not_shipped_again() {
    let setup = setup().await;
    let rarely = setup
        .config()
        .checkpoint_interval(Duration::from_secs(3600));
    let (lines, running, _) = setup.ship_first(rarely.clone(), 100).await;
    running.kill().await;
    let stale = Checkpoint::load(&rarely.checkpoint).unwrap().unwrap();
    assert_eq!((stale.scan_from, stale.file), (0, None));
    // Retention removes the first 50 lines shipped past the checkpoint:
    // the restart cannot tell them from lines never shipped.
    delete_before(&setup, stale.partition, 50).await;

    let error = start(setup.config()).outcome().await.unwrap_err();
    assert!(
        matches!(
            error,
            ShipError::RecoveryRangeDeleted {
                scan_from: 0,
                log_start: 50,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("web_log-") && message.contains("scan_from"),
        "{message}"
    );
    // Nothing was sent again: the topic holds lines 50..100 once.
    let records = setup.reader(DEADLINE).read_to_end().await;
    assert_shipped_exactly(&records, &lines[50..]);
    // The checkpoint is untouched, so the refusal repeats until someone decides.
    assert_eq!(
        Checkpoint::load(&rarely.checkpoint).unwrap().unwrap(),
        stale
    );
}

#[tokio::test]
async fn a_cleanly_stopped_checkpoint_resumes_after_retention_passed_it() {
    let setup = setup().await;
    let (_, running, _) = setup.ship_first(setup.config(), 100).await;
    running.stop().await;
    let saved = Checkpoint::load(&setup.config().checkpoint)
        .unwrap()
        .unwrap();
    assert_eq!(saved.scan_from, 100);
    // Another producer's records follow, and retention removes them too.
    let producer = Producer::builder()
        .bootstrap_servers([setup.broker.bootstrap()])
        .build()
        .unwrap();
    for i in 0..20 {
        let record = ProducerRecord::new(ship_support::TOPIC, format!("other {i}").into_bytes())
            .with_key(b"another source".to_vec())
            .with_partition(saved.partition);
        producer.send_and_wait(record).await.unwrap();
    }
    producer.close(DEADLINE).await.unwrap();
    delete_before(&setup, saved.partition, 120).await;

    let new_lines = append(&setup.log, 100..130);
    let running = start(setup.config());
    let mut reader = setup.reader(DEADLINE);
    reader.wait_for(30).await;
    let progress = running.stop().await;
    assert_eq!((progress.lines_shipped, progress.lines_skipped), (30, 0));
    assert_shipped_exactly(&reader.read_to_end().await, &new_lines);
}

/// A header line longer than the fingerprint's 1 KiB, as some log
/// formats begin every file with: files that start with it look the same
/// to the fingerprint.
fn long_header() -> String {
    format!("#Fields: {}", "date time c-ip cs-method ".repeat(50))
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_truncated_and_rewritten_with_the_same_head_while_down_starts_over() {
    let setup = setup().await;
    let header = long_header();
    std::fs::write(&setup.log, format!("{header}\n")).unwrap();
    let mut lines = vec![header.clone()];
    lines.extend(append(&setup.log, 0..50));
    let running = start(setup.config());
    let mut reader = setup.reader(DEADLINE);
    reader.wait_for(51).await;
    running.stop().await;
    let saved = Checkpoint::load(&setup.config().checkpoint)
        .unwrap()
        .unwrap();

    // copytruncate while the agent is down, then the writer starts a new
    // file in place: same header, and soon longer than the checkpoint.
    std::fs::write(&setup.log, format!("{header}\n")).unwrap();
    lines.push(header);
    lines.extend(append(&setup.log, 100..200));
    assert!(std::fs::metadata(&setup.log).unwrap().len() > saved.position);
    let running = start(setup.config());
    reader.wait_for(lines.len()).await;
    let progress = running.stop().await;
    assert_eq!((progress.generation, progress.lines_shipped), (1, 101));
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[cfg(unix)]
#[tokio::test]
async fn a_generation_found_in_the_topic_is_checked_before_it_is_resumed() {
    let setup = setup().await;
    let rarely = setup
        .config()
        .checkpoint_interval(Duration::from_secs(3600));
    let (mut lines, running, mut reader) = setup.ship_first(rarely.clone(), 100).await;
    running.kill().await;
    let stale = Checkpoint::load(&rarely.checkpoint).unwrap().unwrap();
    assert_eq!(
        stale.file, None,
        "generation 0 is known from the topic only"
    );

    // While the agent is down the file is truncated in place (same inode)
    // and written again: the topic's lines of generation 0 are not in it.
    std::fs::File::create(&setup.log).unwrap();
    lines.extend(append(&setup.log, 200..300));
    let running = start(setup.config());
    reader.wait_for(200).await;
    let progress = running.stop().await;
    assert_eq!(progress.recovered_records, 100);
    assert_eq!((progress.generation, progress.lines_shipped), (1, 100));
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}

#[tokio::test]
async fn a_second_agent_on_the_same_checkpoint_is_refused() {
    let setup = setup().await;
    let (lines, first, mut reader) = setup.ship_first(setup.config(), 20).await;
    let error = start(setup.config()).outcome().await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ShipError::CheckpointLocked { .. }),
        "{message}"
    );
    let checkpoint = setup.config().checkpoint;
    assert!(
        message.contains(&checkpoint.display().to_string())
            && message.contains(&format!("pid {}", std::process::id())),
        "the error names the checkpoint and the holder: {message}"
    );
    // Once the first has stopped, the checkpoint is free again.
    first.stop().await;
    let again = start(setup.config());
    let more = append(&setup.log, 20..25);
    reader.wait_for(25).await;
    assert_eq!(again.stop().await.lines_shipped, 5);
    let mut expected = lines;
    expected.extend(more);
    assert_shipped_exactly(&reader.read_to_end().await, &expected);
}

#[cfg(unix)]
#[tokio::test]
async fn a_transactional_agent_killed_mid_transaction_ships_every_line_once_for_read_committed() {
    let setup = setup().await;
    // One transaction holds every line: it never commits before the kill.
    let open = setup
        .config()
        .transactional_id("ship-web")
        .checkpoint_interval(Duration::from_secs(3600));
    let mut lines = append(&setup.log, 0..200);
    let running = start(open.clone());
    let mut uncommitted = setup.reader(DEADLINE);
    uncommitted.wait_for(200).await;
    // More lines, and the kill while the agent is sending them: requests
    // of the open transaction may still be on their way.
    lines.extend(append(&setup.log, 200..300));
    uncommitted.wait_for(201).await;
    running.kill().await;
    let stale = Checkpoint::load(&open.checkpoint).unwrap().unwrap();
    assert_eq!(
        (stale.generation, stale.file, stale.position),
        (0, None, 0),
        "nothing committed, nothing checkpointed"
    );

    // The restart fences the killed agent and aborts its transaction:
    // its read_committed scan finds nothing, so it sends every line again.
    lines.extend(append(&setup.log, 300..350));
    let running = start(
        setup
            .config()
            .transactional_id("ship-web")
            .checkpoint_interval(Duration::from_millis(50)),
    );
    let mut committed = setup.committed_reader(DEADLINE);
    committed.wait_for(350).await;
    let progress = running.stop().await;
    assert_eq!(progress.recovered_records, 0);
    assert_eq!((progress.lines_skipped, progress.lines_shipped), (0, 350));
    assert_shipped_exactly(&committed.read_to_end().await, &lines);
    // The aborted copies are in the log, hidden from read_committed.
    let everything = uncommitted.read_to_end().await;
    assert!(everything.len() > 350, "{} records", everything.len());
    let last = Checkpoint::load(&open.checkpoint).unwrap().unwrap();
    assert!(
        last.complete,
        "a clean stop after the last commit: {last:?}"
    );

    // A third start from that complete checkpoint ships only new lines.
    lines.extend(append(&setup.log, 350..360));
    let running = start(setup.config().transactional_id("ship-web"));
    committed.wait_for(360).await;
    let progress = running.stop().await;
    assert_eq!((progress.lines_skipped, progress.lines_shipped), (0, 10));
    assert_shipped_exactly(&committed.read_to_end().await, &lines);
}

/// Lines `range` of `lines` (as `append` wrote them from byte 0) sent the
/// way agents before the one-header record form sent them: three headers.
async fn ship_as_an_older_agent(
    setup: &Setup,
    partition: i32,
    lines: &[String],
    range: std::ops::Range<usize>,
) {
    use durian::ship::identity::FileId;
    use durian::ship::record::{FILE_HEADER, GENERATION_HEADER, RANGE_HEADER};
    let file = FileId::of(&std::fs::metadata(&setup.log).unwrap());
    let source = setup.log.to_string_lossy().into_owned();
    let producer = Producer::builder()
        .bootstrap_servers([setup.broker.bootstrap()])
        .build()
        .unwrap();
    let mut start = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let end = start + line.len() as u64 + 1;
        if range.contains(&i) {
            let record = ProducerRecord::new(ship_support::TOPIC, line.clone().into_bytes())
                .with_key(source.clone().into_bytes())
                .with_partition(partition)
                .with_header(GENERATION_HEADER, "0")
                .with_header(FILE_HEADER, file.to_string())
                .with_header(RANGE_HEADER, format!("{start}-{end}"));
            producer.send(record).await.unwrap().await.unwrap();
        }
        start = end;
    }
    producer.close(DEADLINE).await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn an_upgraded_agent_resumes_over_lines_an_older_version_shipped() {
    let setup = setup().await;
    // An agent that starts (its first checkpoint: nothing shipped, scan
    // from the partition's end) and is killed before the file exists.
    let rarely = setup
        .config()
        .checkpoint_interval(Duration::from_secs(3600));
    let shipper = Shipper::new(rarely.clone()).unwrap();
    let mut progress = shipper.progress();
    let task = tokio::spawn(shipper.run(std::future::pending()));
    // Recovery publishes the partition once the first checkpoint is stored.
    tokio::time::timeout(DEADLINE, progress.changed())
        .await
        .unwrap()
        .unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let first = Checkpoint::load(&rarely.checkpoint).unwrap().unwrap();
    assert_eq!(
        (first.file, first.position, first.complete),
        (None, 0, false)
    );

    // The older version shipped the first 60 of 100 lines, then died
    // before its next checkpoint.
    let lines = append(&setup.log, 0..100);
    ship_as_an_older_agent(&setup, first.partition, &lines, 0..60).await;

    let mut reader = setup.reader(DEADLINE);
    let running = start(setup.config());
    reader.wait_for(100).await;
    let progress = running.stop().await;
    assert_eq!(progress.recovered_records, 60);
    assert_eq!((progress.lines_skipped, progress.lines_shipped), (60, 40));
    assert_shipped_exactly(&reader.read_to_end().await, &lines);
}
