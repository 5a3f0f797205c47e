//! `durian consume TOPIC...`: print records, with or without a group.
//!
//! ```text
//! without -g: describe topics ─▶ assign every partition ─▶ seek (--from)
//! with -g:    describe topics ─▶ subscribe (join) ─▶ --from for uncommitted partitions
//!             ─▶ poll ─▶ format ─▶ stdout (write + flush) ─▶ commit what was printed (-g)
//!                 ▲                                              │
//!                 └──────── until -n / --exit-at-end / --exit-idle / signal / closed stdout
//! ```
//!
//! With a group, auto-commit is off: after every batch is flushed to
//! stdout the command commits the offsets after the records it printed,
//! so a rebalance or an exit never commits a record nobody saw, and the
//! member leaves the group when the command ends. Without a group the
//! text of several polls goes out in one write (see `session`).

mod format;
mod output;
mod session;
mod start;

use std::time::Duration;

use clap::Args;
use durian::admin::Admin;
use durian::consumer::{Consumer, TopicPartition};

use crate::position::{parse_duration, Position};
use crate::topic::{topic_partitions, ADMIN_TIMEOUT};
use crate::{CliError, GlobalOpts};
pub use format::Format;
use session::Session;

/// Options of `durian consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topics to read (they must exist).
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Join this consumer group: partitions are shared with its other
    /// members, printed records are committed, and the member leaves on exit.
    #[arg(short = 'g', long = "group")]
    pub group: Option<String>,
    /// Where to start: beginning, end, an offset, or @TIMESTAMP_MS. With
    /// -g it applies only to partitions the group has not committed.
    #[arg(long = "from", default_value = "beginning", value_name = "POSITION")]
    pub from: Position,
    /// Exit after printing this many records.
    #[arg(short = 'n', long = "count")]
    pub count: Option<u64>,
    /// Exit once every assigned partition has been read to its end (with
    /// -g, only once the group has assigned partitions).
    #[arg(long)]
    pub exit_at_end: bool,
    /// Exit after this long without a new record, e.g. 10s or 500ms. Counted
    /// from the last record, or from when the partitions (after joining and
    /// after every rebalance) have their positions and first fetch answer;
    /// time spent joining the group is not idle time.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub exit_idle: Option<Duration>,
    /// Output template: %t topic, %p partition, %o offset, %k key, %v
    /// value, %h headers, %T timestamp (ms), %%, and \n \t \r \\.
    #[arg(long, default_value = "%v\\n", value_name = "FMT")]
    pub format: Format,
    /// Serve the consumer's metrics at `http://HOST:PORT/metrics` in the
    /// Prometheus text format while the command runs (port 0 picks a free
    /// one; `metrics on HOST:PORT` is printed on stderr). Not
    /// authenticated.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
}

/// Runs `durian consume`.
pub async fn run(args: ConsumeArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let _metrics = match &args.metrics_listen {
        Some(address) => Some(crate::metrics_listen::start(address).await?),
        None => None,
    };
    let mut settings = vec![
        ("enable.auto.commit", "false".to_owned()),
        (
            "auto.offset.reset",
            start::offset_reset(args.from).to_owned(),
        ),
    ];
    if let Some(group) = &args.group {
        settings.push(("group.id", group.clone()));
    }
    let mut consumer = Consumer::from_properties(global.client_properties(&settings))
        .map_err(|e| CliError::new(format!("bad client settings: {e}")))?;
    let admin = Admin::with_client(consumer.client().clone(), ADMIN_TIMEOUT);
    let counts = topic_partitions(&admin, &args.topics).await?;
    match &args.group {
        None => {
            let partitions: Vec<TopicPartition> = counts
                .iter()
                .flat_map(|(topic, count)| {
                    (0..*count).map(move |p| TopicPartition::new(topic.as_str(), p))
                })
                .collect();
            consumer.assign(partitions.iter().cloned())?;
            start::seek_to(&mut consumer, &partitions, args.from)
                .await
                .map_err(|e| CliError::new(format!("cannot start at --from {}: {e}", args.from)))?;
        }
        Some(_) => {
            if matches!(args.from, Position::Offset(_) | Position::Timestamp(_)) {
                consumer.set_rebalance_listener(start::StartListener::new(args.from));
            }
            consumer.subscribe(counts.keys().cloned())?;
        }
    }
    let mut session = Session::new(&args);
    let outcome = session.run(&mut consumer).await;
    let closed = consumer.close().await;
    let ending = outcome?;
    if let Err(error) = closed {
        return Err(CliError::new(format!(
            "printed {} records, but closing the consumer failed: {error}",
            session.printed()
        )));
    }
    tracing::debug!(?ending, printed = session.printed(), "consume finished");
    Ok(())
}
