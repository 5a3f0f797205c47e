//! `durian ship --file PATH --topic TOPIC`: the log-shipping agent.
//!
//! Follows a growing file like `tail -F` and ships each line as one
//! record, through `durian::ship` (docs/SHIP.md). Runs until Ctrl-C or
//! SIGTERM, then delivers what is buffered, writes its checkpoint and
//! exits 0. Progress goes to stderr every few seconds; stdout stays empty.
//! On a terminal a spinner also shows the lines shipped and the offset in
//! the file as they change (`--no-progress` turns it off).
//! There is no `--partitioner`: every line of a source goes to one
//! partition (docs/SHIP.md, "One partition per source").

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use durian::ship::{ShipConfig, ShipProgress, Shipper, CHECKPOINT_SUFFIX};
use indicatif::ProgressBar;

use crate::{progress, CliError, GlobalOpts};

/// How often a progress line is logged while lines flow.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Options of `durian ship`.
#[derive(Debug, Args)]
pub struct ShipArgs {
    /// The file to follow (it may not exist yet).
    #[arg(long)]
    pub file: PathBuf,
    /// The topic to ship to (must exist).
    #[arg(long)]
    pub topic: String,
    /// The checkpoint file [default: FILE + ".durian-ship"].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// The source name, used as record key [default: FILE as given].
    #[arg(long)]
    pub source: Option<String>,
    /// How often the end of the file is checked, in milliseconds.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval_ms: u64,
    /// How often the checkpoint is written, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_interval_ms: u64,
    /// Longest line shipped as one record; longer lines are cut into pieces.
    #[arg(long, default_value_t = durian::ship::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// Ship in transactions under this `transactional.id`, one commit per
    /// checkpoint interval: a restart fences the previous agent, so a
    /// killed agent's produce request still in flight cannot duplicate a
    /// line for read_committed readers (docs/SHIP.md, "Transactional
    /// mode"). One id per checkpoint.
    #[arg(long, value_name = "ID")]
    pub transactional_id: Option<String>,
    /// Serve the client's metrics at `http://HOST:PORT/metrics` in the
    /// Prometheus text format while the command runs (port 0 picks a free
    /// one; `metrics on HOST:PORT` is printed on stderr). Not
    /// authenticated.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
}

/// Runs `durian ship` until Ctrl-C or SIGTERM.
pub async fn run(args: ShipArgs, global: &GlobalOpts) -> Result<(), CliError> {
    // Installed before anything else so an early signal still stops cleanly.
    let stop = stop_signal()?;
    let _metrics = match &args.metrics_listen {
        Some(address) => Some(crate::metrics_listen::start(address).await?),
        None => None,
    };
    let mut config = ShipConfig::new(&args.file, &args.topic)
        .properties(global.client_properties(&[]))
        .poll_interval(Duration::from_millis(args.poll_interval_ms))
        .checkpoint_interval(Duration::from_millis(args.checkpoint_interval_ms))
        .max_line_bytes(args.max_line_bytes);
    if let Some(checkpoint) = args.checkpoint {
        config = config.checkpoint(checkpoint);
    }
    if let Some(source) = args.source {
        config = config.source(source);
    }
    if let Some(id) = args.transactional_id {
        config = config.transactional_id(id);
    }
    tracing::info!(
        file = %args.file.display(),
        topic = %args.topic,
        checkpoint = %config.checkpoint.display(),
        "shipping (checkpoint default suffix {CHECKPOINT_SUFFIX}); Ctrl-C to stop"
    );
    let shipper = Shipper::new(config)?;
    let reporter = tokio::spawn(report_progress(shipper.progress()));
    let spinner = progress::spinner(progress::style(progress::SHIP_TEMPLATE));
    let drawer = (!spinner.is_hidden())
        .then(|| tokio::spawn(draw_progress(shipper.progress(), spinner.clone())));
    let result = shipper.run(stop).await;
    reporter.abort();
    if let Some(drawer) = drawer {
        drawer.abort();
    }
    spinner.finish_and_clear();
    let progress = result?;
    tracing::info!(
        shipped = progress.lines_shipped,
        skipped = progress.lines_skipped,
        generation = progress.generation,
        position = progress.position,
        "stopped"
    );
    Ok(())
}

/// Logs the progress when it changed, at most every [`PROGRESS_EVERY`].
async fn report_progress(mut progress: tokio::sync::watch::Receiver<ShipProgress>) {
    let mut last = ShipProgress::default();
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        if progress.changed().await.is_err() {
            return;
        }
        let now = progress.borrow_and_update().clone();
        if now.lines_shipped != last.lines_shipped || now.position != last.position {
            tracing::info!(
                shipped = now.lines_shipped,
                skipped = now.lines_skipped,
                partition = now.partition,
                generation = now.generation,
                position = now.position,
                "progress"
            );
            last = now;
        }
    }
}

/// Keeps the spinner's message at the latest progress. The watch channel
/// keeps only the newest value, so a burst of lines is one update, and
/// the spinner's draw target limits how often it is redrawn.
async fn draw_progress(
    mut progress: tokio::sync::watch::Receiver<ShipProgress>,
    spinner: ProgressBar,
) {
    while progress.changed().await.is_ok() {
        let now = progress.borrow_and_update().clone();
        spinner.set_message(format!(
            "{} lines shipped, file offset {}",
            now.lines_shipped, now.position
        ));
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::info!("stop signal received; delivering what is buffered");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
