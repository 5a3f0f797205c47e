//! The shipper: recover, then read lines, produce them, and checkpoint
//! what is acknowledged.
//!
//! ```text
//!  start: metadata (partition count) ─▶ checkpoint ─▶ recovery scan of the partition
//!                                                         │ resume points, skip filter
//!                                                         ▼
//!  reader:  FileFollower ─▶ line already in the topic? ── yes ──────────────┐
//!                                   │ no                                    │
//!                                   ▼                                       ▼
//!                           producer.send ─▶ DeliveryFuture ─▶ bounded queue (file order)
//!                                                                           │
//!  acknowledger:  await each delivery in order ─▶ position = line end ─▶ checkpoint
//!                 (every checkpoint interval, and on shutdown)
//! ```
//!
//! The reader and the acknowledger run in the same task (joined futures),
//! so dropping the `run` future stops both at once, as a kill would.
//!
//! With a `transactional.id` the reader also opens a transaction before
//! the first line it sends and commits it every checkpoint interval,
//! queueing a commit mark behind the transaction's lines; the
//! acknowledger then checkpoints only up to the last commit mark, so the
//! checkpoint never covers a line an abort could still remove.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use durian_admin::{Admin, OffsetSpec, TopicPartition as AdminPartition};
use durian_consumer::ConsumerError;
use durian_producer::partitioner::partition_for_key;
use durian_producer::{DeliveryFuture, Producer};
use tokio::sync::{mpsc, watch, Semaphore};

use super::checkpoint::{Checkpoint, CheckpointFile};
use super::config::ShipConfig;
use super::error::ShipError;
use super::follow::{FileFollower, Line, ResumePoint};
use super::lock::CheckpointLock;
use super::record::LineRecords;
use super::recovery::{scan, Written};

/// Lines read and not yet acknowledged, at most (the producer's
/// `buffer.memory` bounds their bytes). Counted per line, whatever the
/// size of the handovers they travel in: a slowly written file hands
/// lines over one at a time and still gets the whole window.
const MAX_UNACKED_LINES: usize = 10_000;
/// Lines the reader hands the acknowledger at once, at most: the lines of
/// one read go over in bursts of this many, so the queue, the checkpoint
/// copy and the progress update happen per burst rather than per line.
/// A burst ends early when no further line is read yet, so a slow writer's
/// lines never wait for company.
const LINES_PER_HANDOVER: usize = 512;
/// How long shutdown waits for the producer to deliver what is buffered.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long start-up waits for the topic to show up in the metadata.
const TOPIC_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Counters and position of a running shipper.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShipProgress {
    /// Lines acknowledged by the broker since start.
    pub lines_shipped: u64,
    /// Lines not sent because recovery found them in the topic.
    pub lines_skipped: u64,
    /// Records of this source recovery found past the checkpoint.
    pub recovered_records: u64,
    /// The partition the lines go to.
    pub partition: i32,
    /// Generation of the file of the last acknowledged line.
    pub generation: u64,
    /// Byte after the last acknowledged line of that file.
    pub position: u64,
    /// Checkpoints written since start.
    pub checkpoints_written: u64,
}

/// Follows one file and ships each line to a topic, exactly once across
/// restarts (docs/SHIP.md has the argument).
///
/// ```no_run
/// # async fn demo() -> Result<(), durian::ship::ShipError> {
/// use durian::ship::{ShipConfig, Shipper};
///
/// let config = ShipConfig::new("/var/log/nginx/access.log", "web_log")
///     .bootstrap_servers("localhost:9092");
/// let shipper = Shipper::new(config)?;
/// let progress = shipper.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// eprintln!("shipped {} lines", progress.lines_shipped);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Shipper {
    config: ShipConfig,
    producer: Producer,
    consumer_properties: Vec<(String, String)>,
    progress: watch::Sender<ShipProgress>,
    /// Lines go out in transactions (`transactional.id` is set).
    transactional: bool,
}

/// Where recovery says to go on from.
struct Plan {
    checkpoint: Checkpoint,
    written: Written,
    follower: FileFollower,
}

/// What the reader queues for the acknowledger, in file order.
enum Queued {
    /// Lines, sent or skipped, in file order.
    Lines(Vec<Pending>),
    /// Transactional mode: every line queued before this is committed.
    Committed,
}

/// A line on its way, in file order.
struct Pending {
    line: Line,
    /// `None` when the line was already in the topic.
    delivery: Option<DeliveryFuture>,
}

impl Shipper {
    /// A shipper for `config`; fails on invalid settings. Connects on `run`.
    pub fn new(config: ShipConfig) -> Result<Shipper, ShipError> {
        let (producer_config, consumer_properties) = config.split_properties()?;
        let transactional = producer_config.transactional_id.is_some();
        let producer = Producer::builder().config(producer_config).build()?;
        Ok(Shipper {
            config,
            producer,
            consumer_properties,
            progress: watch::Sender::new(ShipProgress::default()),
            transactional,
        })
    }

    /// Watches the shipper's progress (updated as lines are acknowledged).
    pub fn progress(&self) -> watch::Receiver<ShipProgress> {
        self.progress.subscribe()
    }

    /// Recovers, then ships until `shutdown` resolves or an error occurs.
    /// On shutdown it delivers what is buffered, writes a last checkpoint
    /// and returns the progress. After an error, what was acknowledged is
    /// checkpointed too; restarting resumes exactly after the lines in the
    /// topic.
    ///
    /// Fails with [`ShipError::CheckpointLocked`] if another agent runs on
    /// the same checkpoint.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<ShipProgress, ShipError> {
        let checkpoint = self.config.checkpoint.clone();
        // Held until `run` returns or its future is dropped.
        let _lock = tokio::task::spawn_blocking(move || CheckpointLock::acquire(&checkpoint))
            .await
            .map_err(|e| checkpoint_io(&self.config.checkpoint, e))??;
        if self.transactional {
            // Before the scan: fences the previous incarnation (a produce
            // request of it still on its way is refused from now on) and
            // aborts its open transaction, so the read_committed scan
            // sees every line that will ever be visible, and only those.
            self.producer.init_transactions().await?;
        }
        let plan = self.recover().await?;
        // Every handover holds at least one line of the window, so the
        // queue never fills before the window does.
        let (queue, acknowledgements) = mpsc::channel(MAX_UNACKED_LINES);
        let window = Semaphore::new(MAX_UNACKED_LINES);
        let source = Bytes::from(self.config.source.clone().into_bytes());
        let partition = plan.checkpoint.partition;
        let reading = async {
            let read = self
                .read_lines(
                    plan.follower,
                    &plan.written,
                    partition,
                    &source,
                    queue,
                    &window,
                    shutdown,
                )
                .await;
            // Hurry what lingers in batches; the acknowledger awaits it.
            let flushed = self.producer.flush().await;
            read.and(flushed.map_err(ShipError::from))
        };
        let acking = self.acknowledge(acknowledgements, &window, plan.checkpoint, &plan.written);
        let (read, acked) = tokio::join!(reading, acking);
        let closed = self.producer.close(CLOSE_TIMEOUT).await;
        // A failed delivery also stops the reader, so it is the cause to report.
        let progress = acked?;
        read?;
        closed?;
        tracing::info!(
            shipped = progress.lines_shipped,
            generation = progress.generation,
            position = progress.position,
            "shipper stopped; checkpoint written"
        );
        Ok(progress)
    }

    /// Loads the checkpoint, scans the topic past it, and plans where to
    /// read from.
    async fn recover(&self) -> Result<Plan, ShipError> {
        let config = &self.config;
        let partitions = self.partition_count().await?;
        let path = config.checkpoint.clone();
        let stored = tokio::task::spawn_blocking(move || Checkpoint::load(&path))
            .await
            .map_err(|e| checkpoint_io(&config.checkpoint, e))??;
        if let Some(stored) = &stored {
            self.check_belongs_here(stored, partitions)?;
        }
        let partition = match &stored {
            Some(stored) => stored.partition,
            None => partition_for_key(config.source.as_bytes(), partitions),
        };
        let written = match &stored {
            // Nothing of ours lies past its position: no scan needed, and
            // none possible if retention has passed `scan_from` since.
            Some(stored) if stored.complete => Written::default(),
            Some(stored) => self.scan_past(stored).await?,
            None => Written {
                end_offset: self.list_offset(partition, OffsetSpec::Latest).await?,
                ..Written::default()
            },
        };
        let checkpoint = match stored {
            Some(stored) if stored.complete => {
                // From here on the agent sends lines the checkpoint does
                // not cover: say so on disk before the first one goes out.
                let open = Checkpoint {
                    complete: false,
                    ..stored
                };
                store(&config.checkpoint, open.clone()).await?;
                open
            }
            Some(stored) => stored,
            None => {
                // Written before anything is sent, so a crash before the
                // first regular checkpoint still knows where to scan from.
                let fresh = Checkpoint {
                    topic: config.topic.clone(),
                    partition,
                    source: config.source.clone(),
                    scan_from: written.end_offset,
                    generation: 0,
                    file: None,
                    position: 0,
                    complete: false,
                };
                store(&config.checkpoint, fresh.clone()).await?;
                fresh
            }
        };
        let (resume, next_generation) = resume_points(&checkpoint, &written);
        tracing::info!(
            file = %config.file.display(),
            topic = %config.topic,
            partition,
            generation = checkpoint.generation,
            position = checkpoint.position,
            recovered = written.records,
            "shipper starting"
        );
        self.progress.send_modify(|p| {
            p.partition = partition;
            p.generation = checkpoint.generation;
            p.position = checkpoint.position;
            p.recovered_records = written.records;
        });
        let follower = FileFollower::new(
            &config.file,
            config.poll_interval,
            config.max_line_bytes,
            resume,
            next_generation,
        );
        Ok(Plan {
            checkpoint,
            written,
            follower,
        })
    }

    fn check_belongs_here(&self, stored: &Checkpoint, partitions: i32) -> Result<(), ShipError> {
        let problem = if stored.topic != self.config.topic {
            format!("it belongs to topic `{}`", stored.topic)
        } else if stored.source != self.config.source {
            format!("it belongs to source `{}`", stored.source)
        } else if stored.partition >= partitions {
            format!(
                "its partition {} no longer exists ({partitions} partitions)",
                stored.partition
            )
        } else {
            return Ok(());
        };
        Err(ShipError::CheckpointInvalid {
            path: self.config.checkpoint.clone(),
            reason: problem,
        })
    }

    /// The topic's partition count, waiting briefly for fresh metadata.
    async fn partition_count(&self) -> Result<i32, ShipError> {
        let client = self.producer.client();
        let topic = &self.config.topic;
        client.add_topics([topic.clone()]);
        let deadline = Instant::now() + TOPIC_LOOKUP_TIMEOUT;
        loop {
            let metadata = client.refresh_metadata("durian ship start").await?;
            if let Some(found) = metadata.topic(topic).filter(|t| !t.partitions.is_empty()) {
                return Ok(i32::try_from(found.partitions.len()).unwrap_or(i32::MAX));
            }
            if Instant::now() >= deadline {
                return Err(ShipError::TopicNotFound(topic.clone()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Reads the checkpoint's partition from its `scan_from` to the end
    /// offset, refusing if retention or DeleteRecords removed records the
    /// scan must see.
    async fn scan_past(&self, stored: &Checkpoint) -> Result<Written, ShipError> {
        let partition = stored.partition;
        let end = self.list_offset(partition, OffsetSpec::Latest).await?;
        let log_start = self.list_offset(partition, OffsetSpec::Earliest).await?;
        if stored.scan_from < log_start {
            return Err(self.range_deleted(stored, log_start));
        }
        let scanned = scan(
            self.consumer_properties.clone(),
            &self.config.topic,
            partition,
            self.config.source.as_bytes(),
            Some(stored.scan_from),
            end,
            self.config.recovery_timeout,
        )
        .await;
        match scanned {
            // Retention got there while we read (the recovery consumer
            // does not reset its position).
            Err(ShipError::Consume(ConsumerError::OffsetOutOfRange { .. })) => {
                let log_start = self.list_offset(partition, OffsetSpec::Earliest).await?;
                Err(self.range_deleted(stored, log_start))
            }
            other => other,
        }
    }

    fn range_deleted(&self, stored: &Checkpoint, log_start: i64) -> ShipError {
        ShipError::RecoveryRangeDeleted {
            path: self.config.checkpoint.clone(),
            topic: self.config.topic.clone(),
            partition: stored.partition,
            scan_from: stored.scan_from,
            log_start,
        }
    }

    /// An offset of the partition: its end (high watermark) or its log start.
    async fn list_offset(&self, partition: i32, spec: OffsetSpec) -> Result<i64, ShipError> {
        let admin =
            Admin::with_client(self.producer.client().clone(), self.config.recovery_timeout);
        let tp = AdminPartition::new(self.config.topic.clone(), partition);
        let mut listed = admin.list_offsets([(tp.clone(), spec)]).await;
        let found = listed.remove(&tp).unwrap_or_else(|| {
            Err(durian_core::Error::Protocol(format!(
                "no {spec:?} offset returned for {tp:?}"
            )))
        })?;
        Ok(found.offset.unwrap_or(0))
    }

    /// Reads lines and sends those not yet in the topic, queueing every
    /// line for the acknowledger in file order. Each line read takes one
    /// permit of `window`; the acknowledger gives them back.
    #[allow(clippy::too_many_arguments)]
    async fn read_lines(
        &self,
        mut follower: FileFollower,
        written: &Written,
        partition: i32,
        source: &Bytes,
        queue: mpsc::Sender<Queued>,
        window: &Semaphore,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ShipError> {
        tokio::pin!(shutdown);
        let mut records = LineRecords::new(&self.config.topic, partition, source.clone());
        // Transactional mode: when the open transaction is due to commit.
        let mut commit_due: Option<tokio::time::Instant> = None;
        loop {
            let line: Line = tokio::select! {
                biased;
                () = &mut shutdown => return self.commit_open(&mut commit_due, &queue).await,
                // The acknowledger stopped on an error; it reports it.
                () = queue.closed() => return Ok(()),
                () = sleep_until_some(commit_due) => {
                    self.commit_open(&mut commit_due, &queue).await?;
                    continue;
                }
                line = next_line_in_window(&mut follower, window) => match line {
                    Some(line) => line?,
                    // Never closed while the reader runs.
                    None => return Ok(()),
                },
            };
            // The lines already read go over with this one.
            let mut lines = Vec::with_capacity(LINES_PER_HANDOVER);
            let mut next = Some(line);
            let mut refused = None;
            while let Some(line) = next.take() {
                match self
                    .send_line(line, written, &mut records, &mut commit_due)
                    .await
                {
                    Ok(pending) => lines.push(pending),
                    Err(error) => refused = Some(error),
                }
                if lines.len() < LINES_PER_HANDOVER && refused.is_none() {
                    // A full window ends the handover; the next line
                    // waits for the acknowledger at the top of the loop.
                    if let Ok(permit) = window.try_acquire() {
                        next = follower.buffered_line();
                        if next.is_some() {
                            permit.forget();
                        }
                    }
                }
            }
            // The lines sent before a refusal still get acknowledged and
            // checkpointed.
            if queue.send(Queued::Lines(lines)).await.is_err() {
                return Ok(());
            }
            if let Some(error) = refused {
                return Err(error);
            }
        }
    }

    /// Sends `line` unless recovery found it in the topic (opening a
    /// transaction first in transactional mode), and returns what the
    /// acknowledger needs of it.
    async fn send_line(
        &self,
        line: Line,
        written: &Written,
        records: &mut LineRecords,
        commit_due: &mut Option<tokio::time::Instant>,
    ) -> Result<Pending, ShipError> {
        let delivery = if written.contains(line.generation, line.start) {
            None
        } else {
            if self.transactional && commit_due.is_none() {
                self.producer.begin_transaction()?;
                *commit_due = Some(tokio::time::Instant::now() + self.config.checkpoint_interval);
            }
            let record = records.record(&line);
            Some(self.producer.send(record).await?)
        };
        Ok(Pending { line, delivery })
    }

    /// Commits the open transaction, if any, and queues its commit mark.
    async fn commit_open(
        &self,
        commit_due: &mut Option<tokio::time::Instant>,
        queue: &mpsc::Sender<Queued>,
    ) -> Result<(), ShipError> {
        if commit_due.take().is_some() {
            self.producer.commit_transaction().await?;
            // A closed queue: the acknowledger stopped on an error and reports it.
            let _ = queue.send(Queued::Committed).await;
        }
        Ok(())
    }

    /// Awaits deliveries in file order and checkpoints the acknowledged
    /// prefix every checkpoint interval and at the end.
    async fn acknowledge(
        &self,
        mut queue: mpsc::Receiver<Queued>,
        window: &Semaphore,
        mut checkpoint: Checkpoint,
        written: &Written,
    ) -> Result<ShipProgress, ShipError> {
        let path = &self.config.checkpoint;
        let interval = self.config.checkpoint_interval;
        let mut last_store = Instant::now();
        let mut dirty = false;
        // What may be stored: `checkpoint` itself, except in transactional
        // mode while lines past the last commit mark are uncommitted.
        let mut durable = checkpoint.clone();
        let mut uncommitted = false;
        let outcome = loop {
            let next = tokio::select! {
                next = queue.recv() => next,
                () = tokio::time::sleep_until((last_store + interval).into()), if dirty => {
                    self.store_checkpoint(path, &durable).await?;
                    last_store = Instant::now();
                    dirty = false;
                    continue;
                }
            };
            let lines = match next {
                None => break Ok(()),
                Some(Queued::Committed) => {
                    // The transaction's lines are visible now: record
                    // them at once, as a commit comes once an interval.
                    uncommitted = false;
                    durable = checkpoint.clone();
                    self.store_checkpoint(path, &durable).await?;
                    last_store = Instant::now();
                    dirty = false;
                    continue;
                }
                Some(Queued::Lines(lines)) => lines,
            };
            // The reader may read as many lines again once these are
            // resolved (below, before the next handover is awaited).
            let handed_over = lines.len();
            let mut tally = Tally::default();
            // Whether `checkpoint` moved past `durable` while every line
            // was durable: `durable` catches up once per handover (and
            // before the first line of a transaction), not per line.
            let mut behind = false;
            // The last line acknowledged, not yet folded into `checkpoint`
            // (its tail check is computed only when folded in).
            let mut last: Option<Line> = None;
            let mut failed = None;
            for pending in lines {
                let offset = match pending.delivery {
                    Some(delivery) => match delivery.await {
                        Ok(written) => Some(written.offset),
                        Err(error) => {
                            failed = Some(ShipError::from(error));
                            break;
                        }
                    },
                    None => None,
                };
                let shipped = offset.is_some();
                if shipped && self.transactional && !uncommitted {
                    // The first line of a transaction: what precedes it
                    // is durable, nothing from here to the commit mark is.
                    fold_in(&mut checkpoint, last.take());
                    if std::mem::take(&mut behind) {
                        durable = checkpoint.clone();
                        dirty = true;
                    }
                    uncommitted = true;
                }
                // Every later line lands after this offset.
                if let Some(offset) = offset.filter(|offset| *offset >= 0) {
                    checkpoint.scan_from = offset.saturating_add(1);
                }
                behind |= !uncommitted;
                tally.count(shipped, pending.line.generation, pending.line.end);
                last = Some(pending.line);
            }
            fold_in(&mut checkpoint, last);
            window.add_permits(handed_over);
            if behind {
                durable = checkpoint.clone();
                dirty = true;
            }
            if tally.lines() > 0 {
                self.progress.send_modify(|p| tally.apply_to(p));
            }
            if let Some(error) = failed {
                break Err(error);
            }
            if dirty && last_store.elapsed() >= interval {
                self.store_checkpoint(path, &durable).await?;
                last_store = Instant::now();
                dirty = false;
            }
        };
        // Every line sent was acknowledged (the reader is done and the
        // queue drained without error), and no line recovery found lies
        // past the position: the topic holds nothing of ours past it.
        // In transactional mode every line must be committed as well.
        if outcome.is_ok()
            && !uncommitted
            && !written.has_line_past(checkpoint.generation, checkpoint.position)
        {
            durable.complete = true;
            dirty = true;
        }
        // What was acknowledged (and, transactional, committed) is safe to
        // record even when stopping on an error.
        if dirty {
            self.store_checkpoint(path, &durable).await?;
        }
        outcome.map(|()| self.progress.borrow().clone())
    }

    async fn store_checkpoint(
        &self,
        path: &std::path::Path,
        checkpoint: &Checkpoint,
    ) -> Result<(), ShipError> {
        store(path, checkpoint.clone()).await?;
        self.progress.send_modify(|p| p.checkpoints_written += 1);
        Ok(())
    }
}

/// Moves `checkpoint` to just after `line`, if any.
fn fold_in(checkpoint: &mut Checkpoint, line: Option<Line>) {
    if let Some(line) = line {
        checkpoint.generation = line.generation;
        checkpoint.file = Some(CheckpointFile {
            id: line.file,
            fingerprint: line.fingerprint,
            tail: Some(line.tail()),
        });
        checkpoint.position = line.end;
    }
}

/// What one handover of lines adds to the progress.
#[derive(Default)]
struct Tally {
    shipped: u64,
    skipped: u64,
    /// Generation and end of the last line counted.
    last: Option<(u64, u64)>,
}

impl Tally {
    fn count(&mut self, shipped: bool, generation: u64, end: u64) {
        if shipped {
            self.shipped += 1;
        } else {
            self.skipped += 1;
        }
        self.last = Some((generation, end));
    }

    fn lines(&self) -> u64 {
        self.shipped + self.skipped
    }

    fn apply_to(&self, progress: &mut ShipProgress) {
        progress.lines_shipped += self.shipped;
        progress.lines_skipped += self.skipped;
        if let Some((generation, position)) = self.last {
            progress.generation = generation;
            progress.position = position;
        }
    }
}

/// The next line of `follower` once `window` has room for it; `None` if
/// the window is closed. Cancel-safe as `FileFollower::next_line` is: a
/// permit not yet spent on a line goes back when the future is dropped.
async fn next_line_in_window(
    follower: &mut FileFollower,
    window: &Semaphore,
) -> Option<Result<Line, ShipError>> {
    let permit = window.acquire().await.ok()?;
    let line = follower.next_line().await;
    if line.is_ok() {
        permit.forget();
    }
    Some(line)
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The files to finish before the one at the path, and the generation
/// the next new file gets.
fn resume_points(checkpoint: &Checkpoint, written: &Written) -> (Vec<ResumePoint>, u64) {
    let mut points = Vec::new();
    if let Some(file) = checkpoint.file {
        points.push(ResumePoint {
            generation: checkpoint.generation,
            file: file.id,
            fingerprint: Some(file.fingerprint),
            // A checkpoint of an older version has no tail: the topic's
            // last line of that generation is the next best check.
            content: file.tail.or_else(|| {
                written
                    .generations
                    .get(&checkpoint.generation)
                    .and_then(|found| found.last)
            }),
            position: checkpoint.position,
        });
    }
    // Files the topic has lines of that the checkpoint never got to.
    for (&generation, found) in &written.generations {
        let known = checkpoint.file.is_some() && generation <= checkpoint.generation;
        if generation >= checkpoint.generation && !known {
            // No fingerprint is known for it, but its last line in the
            // topic must still be in the file: an inode reused, or the
            // file truncated and rewritten, fails that.
            points.push(ResumePoint {
                generation,
                file: found.file,
                fingerprint: None,
                content: found.last,
                position: 0,
            });
        }
    }
    let next = points
        .iter()
        .map(|p| p.generation.saturating_add(1))
        .max()
        .unwrap_or(checkpoint.generation);
    (points, next)
}

async fn store(path: &std::path::Path, checkpoint: Checkpoint) -> Result<(), ShipError> {
    let target: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || checkpoint.store(&target))
        .await
        .map_err(|e| checkpoint_io(path, e))?
}

fn checkpoint_io(path: &std::path::Path, error: tokio::task::JoinError) -> ShipError {
    ShipError::CheckpointIo {
        path: path.to_path_buf(),
        source: std::io::Error::other(error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ship::identity::{ContentCheck, FileId, Fingerprint};
    use crate::ship::recovery::{RangeSet, WrittenFile};

    fn checkpoint(generation: u64, file: Option<u64>, position: u64) -> Checkpoint {
        Checkpoint {
            topic: "t".into(),
            partition: 0,
            source: "s".into(),
            scan_from: 0,
            generation,
            file: file.map(|inode| CheckpointFile {
                id: FileId { device: 1, inode },
                fingerprint: Fingerprint::default(),
                tail: None,
            }),
            position,
            complete: false,
        }
    }

    fn written(generations: &[(u64, u64)]) -> Written {
        let mut written = Written::default();
        for &(generation, inode) in generations {
            let mut ranges = RangeSet::default();
            ranges.insert(0, 10);
            written.generations.insert(
                generation,
                WrittenFile {
                    file: FileId { device: 1, inode },
                    ranges,
                    last: Some(ContentCheck {
                        offset: 0,
                        len: 10,
                        crc: inode as u32,
                    }),
                },
            );
        }
        written
    }

    #[test]
    fn a_fresh_start_numbers_the_first_file_zero() {
        let (points, next) = resume_points(&checkpoint(0, None, 0), &written(&[]));
        assert!(points.is_empty());
        assert_eq!(next, 0);
    }

    #[test]
    fn files_shipped_past_the_checkpoint_are_resumed_in_generation_order() {
        let (points, next) = resume_points(
            &checkpoint(3, Some(30), 500),
            &written(&[(2, 20), (3, 30), (4, 40), (5, 50)]),
        );
        let summary: Vec<_> = points
            .iter()
            .map(|p| {
                (
                    p.generation,
                    p.file.inode,
                    p.position,
                    p.fingerprint.is_some(),
                    p.content.map(|c| c.crc),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                // No tail in the checkpoint: the topic's last line checks it.
                (3, 30, 500, true, Some(30)),
                (4, 40, 0, false, Some(40)),
                (5, 50, 0, false, Some(50))
            ]
        );
        assert_eq!(next, 6);
    }

    #[test]
    fn a_crash_before_the_first_checkpoint_resumes_generation_zero_from_the_topic() {
        let (points, next) = resume_points(&checkpoint(0, None, 0), &written(&[(0, 7)]));
        assert_eq!(points.len(), 1);
        assert_eq!((points[0].generation, points[0].file.inode), (0, 7));
        assert_eq!(next, 1);
    }

    /// The window counts lines, not handovers: with one permit a second
    /// line waits until the first is acknowledged, and a wait given up
    /// (for a commit or shutdown) hands its permit back.
    #[tokio::test]
    async fn the_window_admits_a_line_per_permit_and_a_dropped_wait_returns_its_permit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "a\nb\n").unwrap();
        let mut follower = FileFollower::new(&path, Duration::from_millis(10), 100, Vec::new(), 0);
        let window = Semaphore::new(1);
        let first = next_line_in_window(&mut follower, &window)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&first.text[..], b"a");
        assert_eq!(window.available_permits(), 0, "the line holds its permit");
        let full = tokio::time::timeout(
            Duration::from_millis(50),
            next_line_in_window(&mut follower, &window),
        )
        .await;
        assert!(full.is_err(), "a full window admits no line");
        window.add_permits(1);
        let second = tokio::time::timeout(
            Duration::from_secs(10),
            next_line_in_window(&mut follower, &window),
        )
        .await
        .expect("a line once the window has room")
        .unwrap()
        .unwrap();
        assert_eq!(&second.text[..], b"b");
        window.add_permits(1);
        let none_written = tokio::time::timeout(
            Duration::from_millis(50),
            next_line_in_window(&mut follower, &window),
        )
        .await;
        assert!(none_written.is_err(), "no third line was written");
        assert_eq!(
            window.available_permits(),
            1,
            "the dropped wait gave its permit back"
        );
    }
}
