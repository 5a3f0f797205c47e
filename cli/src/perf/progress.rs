//! The live progress line of `durian perf` and the throughput figures.
//!
//! The measuring loop only bumps two atomic counters ([`Progress::add`]);
//! a separate task ([`ProgressReporter`]) samples them and draws on stderr,
//! so drawing never slows the loop down. On a terminal that is an
//! indicatif bar (records of `--num`, rec/s and MB/s; see
//! `crate::progress`); anywhere else (a log file, a CI console) a plain
//! line is written every second instead, because redrawing in place
//! would pile up into one unreadable line. `--no-progress` turns both off.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Records and bytes done so far, shared between the loop and the reporter.
#[derive(Debug, Default)]
pub struct Progress {
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    /// Counts `records` more records of `bytes` bytes in total.
    pub fn add(&self, records: u64, bytes: u64) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// (records, bytes) so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.records.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Records per second and MB/s (10^6 bytes) of `records`/`bytes` in `elapsed`.
pub fn rates(records: u64, bytes: u64, elapsed: Duration) -> (f64, f64) {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return (0.0, 0.0);
    }
    (records as f64 / seconds, bytes as f64 / seconds / 1e6)
}

/// One progress line: `what` so far, the overall rates, and how far along.
pub fn progress_line(
    what: &str,
    records: u64,
    target: u64,
    bytes: u64,
    elapsed: Duration,
) -> String {
    let (per_second, megabytes) = rates(records, bytes, elapsed);
    let percent = if target == 0 {
        100.0
    } else {
        records as f64 * 100.0 / target as f64
    };
    format!(
        "{what} {records}/{target} records ({percent:.0}%), {per_second:.0} rec/s, {megabytes:.2} MB/s, {:.1} s",
        elapsed.as_secs_f64()
    )
}

/// The task drawing the progress line; [`ProgressReporter::finish`] stops it
/// and clears the line so the summary starts on a clean one.
pub struct ProgressReporter {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl ProgressReporter {
    /// Starts drawing `what` for `progress` towards `target` records,
    /// measuring time from `started`.
    pub fn start(
        what: &'static str,
        progress: Arc<Progress>,
        target: u64,
        started: Instant,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = if crate::progress::enabled() {
            let bar = crate::progress::bar(target, bar_style(progress.clone(), started));
            bar.set_message(what);
            tokio::spawn(draw_bar(bar, progress, stopped))
        } else if crate::progress::disabled() || std::io::stderr().is_terminal() {
            // Turned off: nothing at all, not even the plain lines.
            tokio::spawn(async {})
        } else {
            tokio::spawn(write_lines(what, progress, target, started, stopped))
        };
        ProgressReporter {
            stop: Some(stop),
            task,
        }
    }

    /// Stops drawing and waits until the line is cleared.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// The bar's style: `{rates}` is records/s and MB/s over the whole run,
/// worked out from the counters only when the bar is redrawn.
fn bar_style(progress: Arc<Progress>, started: Instant) -> indicatif::ProgressStyle {
    crate::progress::style(crate::progress::PERF_TEMPLATE).with_key(
        "rates",
        move |_: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let (records, bytes) = progress.snapshot();
            let (per_second, megabytes) = rates(records, bytes, started.elapsed());
            // Nowhere to report a failed write into the bar's own buffer.
            let _ = write!(out, "{per_second:.0} rec/s, {megabytes:.2} MB/s");
        },
    )
}

/// Moves the bar to the counters a few times a second (the loop itself
/// only bumps the atomics), and clears it when told to stop.
async fn draw_bar(
    bar: indicatif::ProgressBar,
    progress: Arc<Progress>,
    mut stopped: oneshot::Receiver<()>,
) {
    let period = Duration::from_millis(1000 / u64::from(crate::progress::REFRESH_HZ));
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = ticks.tick() => {}
        }
        bar.set_position(progress.snapshot().0);
    }
    bar.finish_and_clear();
}

/// Off a terminal (a log file, a CI console): a plain progress line every
/// second, since redrawing in place would pile up into one line there.
async fn write_lines(
    what: &'static str,
    progress: Arc<Progress>,
    target: u64,
    started: Instant,
    mut stopped: oneshot::Receiver<()>,
) {
    let period = Duration::from_secs(1);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = ticks.tick() => {}
        }
        let (records, bytes) = progress.snapshot();
        let line = progress_line(what, records, target, bytes, started.elapsed());
        // A failed write to stderr leaves nothing to report it to.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

impl Drop for ProgressReporter {
    fn drop(&mut self) {
        // On an error path `finish` is skipped; the line must not keep
        // being drawn under the error message.
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_and_in_megabytes() {
        let (per_second, megabytes) = rates(5_000, 10_000_000, Duration::from_secs(2));
        assert_eq!(per_second, 2_500.0);
        assert_eq!(megabytes, 5.0);
        assert_eq!(rates(1, 1, Duration::ZERO), (0.0, 0.0));
    }

    #[test]
    fn the_line_shows_count_target_and_rates() {
        let line = progress_line("produced", 250, 1_000, 2_500_000, Duration::from_secs(1));
        assert_eq!(
            line,
            "produced 250/1000 records (25%), 250 rec/s, 2.50 MB/s, 1.0 s"
        );
    }

    #[tokio::test]
    async fn counters_add_up_across_tasks() {
        let progress = Arc::new(Progress::default());
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let progress = progress.clone();
                tokio::spawn(async move {
                    for _ in 0..1_000 {
                        progress.add(1, 10);
                    }
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.is_ok());
        }
        assert_eq!(progress.snapshot(), (4_000, 40_000));
    }
}
