//! The poll → print → commit loop of `durian consume` and its exit rules.
//!
//! Records are rendered into a buffer that is written to stdout whole.
//! With `-g` every poll's batch is written and flushed and only then are
//! its offsets committed, so what the group has committed was printed.
//! Without a group the text of several polls goes out in one write: while
//! the consumer has records buffered (a poll that does not wait returns
//! some) they are rendered on, and the buffer is written once it passes
//! [`CHUNK`] bytes or once a poll finds nothing more, before any poll that
//! would wait, so output on a live topic still appears at once. Each write
//! is a hop to tokio's blocking pool; one per 500-record poll cost
//! `consume` most of its system time. The write runs on while the next
//! records are fetched (the next write, or the end of the loop, waits for
//! it; see `output`). A closed stdout ends the loop without committing the
//! batch that could not be written. With `-n` a progress bar (records of
//! N, on a terminal only) moves once per write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durian::consumer::{Consumer, ConsumerError, OffsetAndMetadata, PollBatch, TopicPartition};
use indicatif::ProgressBar;
use tokio::time::Instant;

use super::output::Output;
use super::{ConsumeArgs, Format};
use crate::{progress, CliError};

/// Longest single wait in `poll`, so signals and exit rules are checked
/// at least this often.
const POLL_WAIT: Duration = Duration::from_millis(500);

/// Text gathered before one stdout write without a group: large enough
/// that the hop to the blocking pool is paid about once per 10,000
/// 100-byte records. At most two such buffers exist: one being written,
/// one being rendered into.
const CHUNK: usize = 1024 * 1024;

/// Why the loop ended (all of them are a clean exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `-n` records were printed.
    Count,
    /// `--exit-at-end`: every assigned partition was read to its end.
    AtEnd,
    /// `--exit-idle`: no record for that long.
    Idle,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// stdout was closed (e.g. `| head`).
    StdoutClosed,
}

/// The state of one `durian consume` run.
#[derive(Debug)]
pub struct Session {
    format: Format,
    grouped: bool,
    count: Option<u64>,
    exit_at_end: bool,
    exit_idle: Option<Duration>,
    printed: u64,
    idle: IdleClock,
    assignment: BTreeSet<TopicPartition>,
    /// Records printed of `-n`; hidden without `-n` or off a terminal.
    bar: ProgressBar,
}

/// The `--exit-idle` clock. It runs only while the consumer can read:
/// from the moment every assigned partition has a position and an answer
/// from its leader, and from each record printed. A change of assignment
/// (joining, every rebalance) stops it until the new partitions are ready,
/// so a slow JoinGroup or offset lookup is never counted as idle time.
#[derive(Debug, Default)]
struct IdleClock {
    since: Option<Instant>,
}

impl IdleClock {
    /// The assignment changed: nothing counts until it is ready.
    fn stop(&mut self) {
        self.since = None;
    }

    /// The assignment is ready to read: start counting unless already.
    fn ready(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// A record was printed: count from now.
    fn activity(&mut self, now: Instant) {
        self.since = Some(now);
    }

    /// How long the consumer has been idle, if the clock runs.
    fn idle_for(&self, now: Instant) -> Option<Duration> {
        self.since.map(|since| now.saturating_duration_since(since))
    }
}

impl Session {
    /// A session for these options.
    pub fn new(args: &ConsumeArgs) -> Session {
        Session {
            format: args.format.clone(),
            grouped: args.group.is_some(),
            count: args.count,
            exit_at_end: args.exit_at_end,
            exit_idle: args.exit_idle,
            printed: 0,
            idle: IdleClock::default(),
            assignment: BTreeSet::new(),
            bar: match args.count {
                Some(count) => progress::bar(count, progress::style(progress::CONSUME_TEMPLATE)),
                None => ProgressBar::hidden(),
            },
        }
    }

    /// How many records were printed.
    pub fn printed(&self) -> u64 {
        self.printed
    }

    /// Polls and prints until an exit rule applies, then writes what is
    /// still rendered (unless stdout is closed) and flushes stdout.
    pub async fn run(&mut self, consumer: &mut Consumer) -> Result<Ending, CliError> {
        let mut stdout = Output::default();
        // The text of the next write; it trades places with the buffer of
        // the write before, so there is no allocation per write.
        let mut text = Vec::new();
        let mut ending = self.print(consumer, &mut stdout, &mut text).await;
        // Records rendered but not yet written (without a group, when an
        // exit rule or an error came between polls) are still printed.
        if !text.is_empty() && !matches!(ending, Ok(Ending::StdoutClosed)) {
            match stdout.write(&mut text).await {
                Ok(()) => self.bar.set_position(self.printed),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    ending = ending.map(|_| Ending::StdoutClosed)
                }
                Err(e) => {
                    if ending.is_ok() {
                        ending = Err(CliError::new(format!("cannot write to stdout: {e}")));
                    }
                }
            }
        }
        match (stdout.finish().await, ending) {
            (Err(e), Ok(_)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(Ending::StdoutClosed)
            }
            (Err(e), Ok(_)) => Err(CliError::new(format!("cannot write to stdout: {e}"))),
            (_, ending) => ending,
        }
    }

    /// Renders the records of `batch` (up to `-n`) into `text`, and returns
    /// the offsets to commit after them when in a group (none without).
    fn render(
        &mut self,
        batch: PollBatch,
        text: &mut Vec<u8>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        let mut offsets = BTreeMap::new();
        for (tp, records) in batch.records {
            let mut last = None;
            for record in &records {
                if self.count.is_some_and(|n| self.printed >= n) {
                    break;
                }
                self.format.render(record, text);
                self.printed += 1;
                last = Some(record);
            }
            if let Some(record) = last.filter(|_| self.grouped) {
                let next = OffsetAndMetadata {
                    offset: record.offset + 1,
                    metadata: None,
                    leader_epoch: (record.leader_epoch >= 0).then_some(record.leader_epoch),
                };
                offsets.insert(tp, next);
            }
        }
        offsets
    }

    /// The poll → print → commit loop. `text` holds what is rendered and
    /// not yet written when it returns.
    async fn print(
        &mut self,
        consumer: &mut Consumer,
        stdout: &mut Output,
        text: &mut Vec<u8>,
    ) -> Result<Ending, CliError> {
        let interrupted = raised_by(interrupt());
        let stdout_closed = raised_by(closed_stdout());
        loop {
            if self.count.is_some_and(|n| self.printed >= n) {
                return Ok(Ending::Count);
            }
            if interrupted.load(Ordering::Acquire) {
                return Ok(Ending::Interrupted);
            }
            if stdout_closed.load(Ordering::Acquire) {
                return Ok(Ending::StdoutClosed);
            }
            // With text waiting to be written, only take what the
            // consumer already holds: the write must not wait for the broker.
            let wait = if text.is_empty() {
                self.next_wait()
            } else {
                Duration::ZERO
            };
            let batch = match consumer.poll(wait).await {
                Ok(batch) => batch,
                Err(ConsumerError::PollIntervalExceeded) => {
                    tracing::warn!("left the group after max.poll.interval.ms; rejoining");
                    continue;
                }
                Err(e) => return Err(CliError::new(format!("cannot consume: {e}"))),
            };
            for (tp, error) in &batch.errors {
                tracing::warn!(partition = %tp, %error, "cannot read partition");
            }
            let assignment = consumer.assignment();
            if assignment != self.assignment {
                self.assignment = assignment;
                self.idle.stop();
            }
            if ready(consumer, &self.assignment) {
                self.idle.ready(Instant::now());
            }
            let polled = !batch.is_empty();
            let mut offsets = BTreeMap::new();
            if polled {
                self.idle.activity(Instant::now());
                offsets = self.render(batch, text);
            }
            let counted_out = self.count.is_some_and(|n| self.printed >= n);
            // With a group every batch is written and flushed before its
            // offsets are committed. Without one, text gathers until it is
            // large or the consumer has nothing more at hand; the write is
            // then left running while the next records are fetched and
            // rendered: the next write (or the flush at the end) waits for
            // it and reports its error.
            if !text.is_empty() && (self.grouped || !polled || counted_out || text.len() >= CHUNK) {
                let mut written = stdout.write(text).await;
                if self.grouped && written.is_ok() {
                    written = stdout.finish().await;
                }
                match written {
                    Ok(()) => self.bar.set_position(self.printed),
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                        return Ok(Ending::StdoutClosed)
                    }
                    Err(e) => return Err(CliError::new(format!("cannot write to stdout: {e}"))),
                }
            }
            if polled && self.grouped {
                if let Err(error) = consumer.commit_offsets(offsets).await {
                    tracing::warn!(%error, "commit failed; the printed records may be \
                        printed again by the member that takes their partitions over");
                }
            }
            if self.exit_at_end && at_end(consumer, &self.assignment) {
                return Ok(Ending::AtEnd);
            }
            if let (Some(limit), Some(idle)) = (self.exit_idle, self.idle.idle_for(Instant::now()))
            {
                if idle >= limit {
                    return Ok(Ending::Idle);
                }
            }
        }
    }

    /// How long the next poll may wait: at most [`POLL_WAIT`], less when
    /// `--exit-idle` runs out sooner.
    fn next_wait(&self) -> Duration {
        match (self.exit_idle, self.idle.idle_for(Instant::now())) {
            (Some(limit), Some(idle)) => limit
                .saturating_sub(idle)
                .clamp(Duration::from_millis(1), POLL_WAIT),
            _ => POLL_WAIT,
        }
    }
}

/// Whether the consumer can read every assigned partition: each has a
/// position and its leader has answered a fetch (so its lag is known).
/// Never with nothing assigned, e.g. while a group member waits for its
/// JoinGroup answer.
fn ready(consumer: &Consumer, assignment: &BTreeSet<TopicPartition>) -> bool {
    !assignment.is_empty() && assignment.iter().all(|tp| consumer.lag(tp).is_some())
}

/// Whether every assigned partition has been printed up to its high
/// watermark as of the last fetch (never with nothing assigned, so a
/// member still joining its group does not count as at the end).
fn at_end(consumer: &Consumer, assignment: &BTreeSet<TopicPartition>) -> bool {
    !assignment.is_empty() && assignment.iter().all(|tp| consumer.lag(tp) == Some(0))
}

/// A flag raised once `event` happens. The loop checks flags rather than
/// racing `poll` against events, because a `poll` cut short could drop a
/// rebalance half handled.
fn raised_by(event: impl std::future::Future<Output = ()> + Send + 'static) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let raised = flag.clone();
    tokio::spawn(async move {
        event.await;
        raised.store(true, Ordering::Release);
    });
    flag
}

/// Ctrl-C or SIGTERM, so the command can commit and leave the group
/// instead of dying mid-batch.
async fn interrupt() {
    // A handler that cannot be installed must not look like a signal.
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = ctrl_c => {}
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// Resolves when stdout is a pipe whose reader has gone (`| head`), so
/// the command ends even while no new record would make a write fail.
/// Where stdout cannot be watched (a regular file), it never resolves
/// and a failed write is the only sign.
async fn closed_stdout() {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use tokio::io::unix::AsyncFd;
        use tokio::io::Interest;
        // A pipe's write end reports an error once its read end is closed.
        // `with_interest` is deprecated because a borrowed fd could be
        // closed while registered; this one is our own duplicate, owned by
        // the AsyncFd until it is dropped, so that cannot happen.
        #[allow(deprecated)]
        let watched = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .and_then(|fd| AsyncFd::with_interest(fd, Interest::ERROR));
        if let Ok(watched) = watched {
            if watched.ready(Interest::ERROR).await.is_ok() {
                return;
            }
        }
    }
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_clock_runs_only_while_the_assignment_is_ready() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut clock = IdleClock::default();
        // Joining: however long it takes, nothing is idle time.
        assert_eq!(clock.idle_for(at(30_000)), None);
        clock.ready(at(30_000));
        assert_eq!(clock.idle_for(at(31_000)), Some(Duration::from_secs(1)));
        // Still ready on the next poll: the clock keeps its start.
        clock.ready(at(31_000));
        assert_eq!(clock.idle_for(at(32_000)), Some(Duration::from_secs(2)));
        clock.activity(at(32_000));
        assert_eq!(clock.idle_for(at(32_500)), Some(Duration::from_millis(500)));
        // A rebalance stops it until the new assignment is ready.
        clock.stop();
        assert_eq!(clock.idle_for(at(60_000)), None);
        clock.ready(at(60_000));
        assert_eq!(clock.idle_for(at(60_100)), Some(Duration::from_millis(100)));
    }
}
